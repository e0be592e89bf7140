"""Instantly's wire conventions: the error envelope, JSON numbers for money, body parsing."""

from __future__ import annotations

import json
from decimal import Decimal
from http import HTTPStatus
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse


class MoneyEncoder(json.JSONEncoder):
    """Decimals as JSON numbers (25, 12.5), not strings as DjangoJSONEncoder would write.

    float() is exact enough here: the shortest repr of a float holding a value with at most
    15 significant digits is that value, so 12.50 goes out as 12.5 and parses back exactly
    with parse_float=Decimal.
    """

    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


def json_response(payload: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(payload, status=status, encoder=MoneyEncoder, safe=False)


class ApiError(Exception):
    """An HTTP error in Instantly's envelope: {"statusCode", "error", "message"}."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        extra: dict[str, Any] | None = None,
        retry_after: int = 0,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra or {}
        self.retry_after = retry_after

    def response(self) -> JsonResponse:
        body = {
            "statusCode": self.status,
            "error": HTTPStatus(self.status).phrase,
            "message": self.message,
        }
        response = json_response({**body, **self.extra}, status=self.status)
        if self.retry_after:
            # Instantly documents no rate-limit headers; Retry-After is the sandbox's choice.
            response["Retry-After"] = str(self.retry_after)
        return response


class _Invalid(Exception):
    pass


def _refuse_constant(name: str) -> Any:
    raise _Invalid(name)


def _reject_lone_surrogates(value: Any) -> None:
    # "\ud800" is valid JSON but no database accepts it as text.
    json.dumps(value, ensure_ascii=False, default=str).encode()


def parse_json_body(request: HttpRequest) -> tuple[Any, ApiError | None]:
    """The parsed body (None when empty) or the 4xx it earns. Numbers with a fraction come
    back as Decimal; NaN, Infinity and unencodable text are refused as invalid JSON."""
    try:
        raw = request.body
    except RequestDataTooBig:
        return None, ApiError(413, "Request body is too large")
    if not raw.strip():
        return None, None
    try:
        value = json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
        _reject_lone_surrogates(value)
    except (ValueError, RecursionError, _Invalid):
        # ValueError covers JSONDecodeError, bad UTF-8 and integers too long to convert.
        return None, ApiError(
            400, "Body is not valid JSON but content-type is set to 'application/json'"
        )
    return value, None
