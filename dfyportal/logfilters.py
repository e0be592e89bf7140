"""Logging filters used by `LOGGING` in dfyportal/settings.py."""

from __future__ import annotations

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """Keep 4xx lines of `django.request` to one line each.

    Django logs a PermissionDenied (403) or Http404 with the exception attached, so the
    console showed a full traceback every time someone opened a page their role does not
    allow. Those are ordinary answers, not faults; 5xx records keep their traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True


class QuietSandboxAccess(logging.Filter):
    """Drop the development server's access lines for successful sandbox API calls.

    Under `make run` the worker's fulfilment poll pages through the demo's accounts at the
    embedded sandbox every minute: dozens of identical-looking lines that buried the
    portal's own. Failed calls (4xx/5xx) still show.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if not isinstance(status, int) or status >= 400 or not record.args:
            return True
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        request_line = str(args[0]).split(" ")
        return not (
            len(request_line) > 1 and request_line[1].startswith("/sandbox/api/")
        )
