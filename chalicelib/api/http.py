"""Request parsing and response helpers shared by every blueprint."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from chalice.app import Request, Response

from chalicelib.api.errors import JSON, HttpError, InternalError, PayloadTooLarge, UnsupportedMediaType, error_response
from chalicelib.domain.errors import DomainError, ValidationFailed

if TYPE_CHECKING:
    # pydantic is imported by the first request that validates: ``import app`` needs none of it.
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")

REGISTRATION_BODY_LIMIT = 16 * 1024
JSON_TYPES = ("application/json",)


def api_view(func: Callable[..., Any]) -> Callable[..., Response]:
    """Run a view; domain and HTTP errors become the contract's envelope, anything else a logged 500."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            response: Response = func(*args, **kwargs)
            return response
        except (DomainError, HttpError) as exc:
            return error_response(exc)
        except Exception as exc:
            logger = _logger()
            logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
            return error_response(InternalError())

    return wrapper


@functools.cache
def _logger() -> Any:
    from aws_lambda_powertools import Logger

    return Logger(child=True)


def json_body(request: Request, limit: int = REGISTRATION_BODY_LIMIT) -> Any:
    """The decoded JSON body. Raises UnsupportedMediaType, PayloadTooLarge, ValidationFailed."""
    content_type = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES:
        raise UnsupportedMediaType()
    raw = request.raw_body or b""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > limit:
        raise PayloadTooLarge()
    try:
        data = json.loads(raw.decode("utf-8"))
        if b"\\ud" in raw.lower():
            # An escaped lone surrogate ("\ud800") decodes to a str that is not text: refused here,
            # before it reaches a store that must encode it (UnicodeEncodeError is a ValueError).
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        return data
    except (ValueError, RecursionError):  # bad UTF-8, bad JSON, an integer of 5,000 digits
        raise ValidationFailed(["body"]) from None


def parse(model: type[M], data: Any) -> M:
    """Validate ``data`` into ``model``; every bad field is named (dotted) in ValidationFailed."""
    if not isinstance(data, dict):
        raise ValidationFailed(["body"])
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        from chalicelib.domain.models import validation_fields

        raise ValidationFailed(validation_fields(list(exc.errors(include_input=False, include_url=False)))) from None


def respond(model: BaseModel | dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer; a model whose ``omit_none`` is true leaves its null fields out."""
    if isinstance(model, dict):
        body = model
    else:
        body = model.model_dump(mode="json", exclude_none=getattr(model, "omit_none", False))
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers={"Content-Type": JSON, **(headers or {})},
    )


def query_param(request: Request, name: str) -> str | None:
    params: Any = request.query_params or {}
    found = params.get(name)
    return found if isinstance(found, str) else None
