// Small behaviours htmx does not cover. Loaded with `defer`; the CSP forbids inline scripts.
"use strict";

// Builder, money in view: a refused CSV import shows its errors next to the import control;
// move the focus there so keyboard and screen-reader users land on them.
(function () {
  var csvErrors = document.getElementById("csv-errors");
  if (csvErrors) {
    csvErrors.focus({ preventScroll: true });
    csvErrors.scrollIntoView({ block: "center" });
  }
  // The summary's problem links jump to a row; put the cursor in its first field too.
  document.addEventListener("click", function (event) {
    var link = event.target instanceof Element ? event.target.closest("a.qs-jump") : null;
    if (!link) return;
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) return;
    var field = target.querySelector("input, select, textarea");
    if (field) {
      window.setTimeout(function () { field.focus({ preventScroll: true }); }, 0);
    }
  });
})();

// Builder, never lose work: an empty address fills itself from the first and last name with
// the domain row's address pattern (the same rule as orders/mailboxes.py make_prefix; the
// server fills empty ones the same way on save). A typed address is left alone.
(function () {
  var FOLDS = {
    "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
    "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "Th",
    "ı": "i", "ħ": "h", "Ħ": "H", "ŧ": "t", "Ŧ": "T"
  };
  function slug(name) {
    var folded = name.replace(/[ßẞæÆœŒøØđĐðÐłŁþÞıħĦŧŦ]/g, function (c) { return FOLDS[c]; })
      .normalize("NFKD").replace(/[^\x00-\x7f]/g, "");
    return folded.toLowerCase().replace(/[^a-z0-9-]+/g, "").replace(/^-+|-+$/g, "");
  }
  function clean(text) {
    return text.replace(/[._-]{2,}/g, function (run) { return run[0]; })
      .replace(/^[._-]+|[._-]+$/g, "").slice(0, 64).replace(/[._-]+$/, "");
  }
  function makePrefix(first, last, option) {
    var parts = (option && option.dataset.parts ? option.dataset.parts : "first,last").split(",");
    var sep = option ? option.dataset.sep || "" : ".";
    var s = { first: slug(first), last: slug(last) };
    s.f = s.first.slice(0, 1);
    s.l = s.last.slice(0, 1);
    var values = parts.map(function (p) { return s[p]; });
    var joined = s.first && s.last ? values.join(sep) : values.join("");
    return clean(joined) || clean(s.first + s.last) || "mailbox";
  }
  function fill(prefixInput) {
    var tr = prefixInput.closest("tr");
    var row = prefixInput.closest(".domain-row");
    if (!tr || !row) return;
    var first = tr.querySelector("[data-mb=first]").value.trim();
    var last = tr.querySelector("[data-mb=last]").value.trim();
    if (!first && !last) {
      prefixInput.value = "";
      return;
    }
    var select = row.querySelector("select[data-pattern]");
    var option = select ? select.options[select.selectedIndex] : null;
    var base = makePrefix(first, last, option);
    var taken = {};
    row.querySelectorAll("[data-mb=prefix]").forEach(function (other) {
      if (other !== prefixInput && other.value) taken[other.value.toLowerCase()] = true;
    });
    var prefix = base;
    for (var n = 2; taken[prefix]; n++) {
      prefix = (/\d$/.test(base) ? base + "-" : base) + n;
    }
    prefixInput.value = prefix;
    prefixInput.dataset.auto = "1";
  }
  document.addEventListener("input", function (event) {
    var field = event.target;
    if (!(field instanceof HTMLInputElement) || !field.dataset.mb) return;
    if (field.dataset.mb === "prefix") {
      delete field.dataset.auto;  // typed by hand: it is the user's from now on
      return;
    }
    var prefixInput = field.closest("tr") && field.closest("tr").querySelector("[data-mb=prefix]");
    if (prefixInput && (prefixInput.value === "" || prefixInput.dataset.auto === "1")) {
      fill(prefixInput);
    }
  });
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!(select instanceof HTMLSelectElement) || !select.hasAttribute("data-pattern")) return;
    var row = select.closest(".domain-row");
    if (!row) return;
    row.querySelectorAll("[data-mb=prefix]").forEach(function (input) {
      if (input.dataset.auto === "1") fill(input);
    });
  });
})();

// Builder: the heading names the order as its title is typed ("Untitled order #N" when the
// title is empty, as the server names it). Autosave answers with the saved name out of band;
// re-reading the field after each swap keeps letters typed since that request.
(function () {
  function sync() {
    var heading = document.getElementById("order-name");
    var title = document.getElementById("id_title");
    if (!heading || !title) return;
    heading.textContent = title.value.trim() || heading.dataset.untitled;
  }
  document.addEventListener("input", function (event) {
    if (event.target instanceof HTMLInputElement && event.target.id === "id_title") sync();
  });
  document.addEventListener("htmx:afterSettle", sync);
})();
