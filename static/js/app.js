// Small behaviours htmx does not cover. Loaded with `defer`; the CSP forbids inline scripts.
"use strict";
