"""One declaration per route: it registers the Chalice route, parses and checks the input, checks
the caller's role, records staff actions, and is the OpenAPI operation (``openapi.py`` reads it).

A view is then what it does, nothing else::

    if TYPE_CHECKING:
        from chalicelib.domain.models import LookupRequest, RegistrationView

    @route(public, "POST", "/v1/registrations/lookup", body="LookupRequest", response="RegistrationView",
           errors=(NotFound,), summary="Find a person's active (else latest) registration")
    def lookup(body: LookupRequest) -> RegistrationView:
        from chalicelib.services import registrations

        return registrations.lookup(body)

The view is called with the keyword arguments its signature names: the path parameters, ``body``
(the validated body model), ``query`` (the validated query model), ``principal`` (staff routes).
It returns its response model (sent with the declared status), or a Response (a CSV page).

Models are named, not imported: ``body="LookupRequest"`` is the class of that name the declaring
module imports under ``if TYPE_CHECKING:`` (or defines), imported when the route first runs or the
OpenAPI document is first written. Views import their services the same way, inside the function.
So ``import app`` (every Lambda cold start, and Chalice's packaging) registers the routes without
building a pydantic model or loading boto3: a request loads only what its route uses.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from chalice.app import Blueprint, Request, Response

from chalicelib import metrics
from chalicelib.api import idempotency
from chalicelib.api.auth import principal_of, staff_token
from chalicelib.api.errors import Forbidden, PayloadTooLarge, Unauthorized, UnsupportedMediaType, error_response
from chalicelib.api.http import api_view, json_body, parse, respond
from chalicelib.domain.errors import (
    DomainError,
    IdempotencyKeyReused,
    Overloaded,
    RequestInProgress,
    ValidationFailed,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from chalicelib.domain.names import Role
    from chalicelib.domain.staff import Principal

JSON_MEDIA = "application/json"
# A model as a declaration gives it: its name (see the module's docstring), or the class itself.
ModelRef: TypeAlias = "type[BaseModel] | str"


@dataclass(frozen=True)
class Route:
    """What a route is: everything the app, the checks and the OpenAPI document need to know."""

    method: str  # lower case, as in an OpenAPI document
    path: str
    summary: str
    status: int
    module: str  # the declaring module, where the models' names are resolved
    response_ref: ModelRef | None  # None: the answer is not JSON (``media``)
    body_ref: ModelRef | None
    query_ref: ModelRef | None
    roles: tuple[Role, ...]  # empty: public; an admin may call every staff route
    audit: str | None  # the action's name in the audit trail (staff routes)
    errors: tuple[type[DomainError], ...]  # every error the route can answer, those of the checks included
    idempotent: str | None  # the scope of Idempotency-Key (a channel name), or None
    # The service keeps the key with what it writes (a registration: the person's item) and answers
    # a retry itself; no idempotency record of its own (docs/architecture-data-path.md).
    replayed_by_service: bool
    media: str
    description: str | None
    operation_id: str
    # OpenAPI links from this route's answer to the routes that take its IDs (what a stateful test
    # client follows): name -> (operationId, {parameter: runtime expression}, request body or None).
    links: dict[str, Link]
    path_schemas: dict[str, dict[str, Any]]  # a path parameter's JSON Schema, when more than a string

    @property
    def tags(self) -> list[str]:
        return [_area(self.path, self.roles)]

    @property
    def response(self) -> type[BaseModel] | None:
        return _model(self.module, self.response_ref)

    @property
    def body(self) -> type[BaseModel] | None:
        return _model(self.module, self.body_ref)

    @property
    def query(self) -> type[BaseModel] | None:
        return _model(self.module, self.query_ref)


@dataclass(frozen=True)
class Link:
    operation_id: str
    parameters: dict[str, str]
    request_body: dict[str, str] | None = None


ROUTES: list[Route] = []


def route(
    bp: Blueprint,
    method: str,
    path: str,
    *,
    summary: str,
    status: int = 200,
    response: ModelRef | None = None,
    body: ModelRef | None = None,
    query: ModelRef | None = None,
    roles: tuple[Role, ...] = (),
    audit: str | None = None,
    errors: tuple[type[DomainError], ...] = (),
    idempotent: str | None = None,
    replayed_by_service: bool = False,
    media: str = JSON_MEDIA,
    description: str | None = None,
    links: dict[str, Link] | None = None,
    path_schemas: dict[str, dict[str, Any]] | None = None,
    read_body: Callable[[Request], Any] | None = None,
    content_types: tuple[str, ...] = (JSON_MEDIA,),
) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    """Declare a route (see the module's docstring). ``read_body`` turns the request into the JSON
    value to validate when the body is not plain JSON up to 16 KB (an employer's CSV or 1 MB list).
    ``replayed_by_service``: the view takes ``fingerprint`` (of the key and the body) and its service
    answers a retry; otherwise an idempotent route keeps a record per key (Powertools' utility)."""
    if bool(roles) != bool(audit):
        raise ValueError(f"{path}: a staff route names its roles and its audit action, a public one neither")
    implied: list[type[DomainError]] = [Overloaded]
    if body is not None or query is not None:
        implied.append(ValidationFailed)
    if body is not None:
        implied += [PayloadTooLarge, UnsupportedMediaType]
    if roles:
        implied += [Unauthorized, Forbidden]
    if idempotent:
        implied += [ValidationFailed, RequestInProgress, IdempotencyKeyReused]
    read = read_body or json_body

    def decorate(view: Callable[..., Any]) -> Callable[..., Response]:
        wants = set(inspect.signature(view).parameters)
        declared = Route(
            method=method.lower(),
            path=path,
            summary=summary,
            status=status,
            module=view.__module__,
            response_ref=response,
            body_ref=body,
            query_ref=query,
            roles=roles,
            audit=audit,
            errors=tuple(dict.fromkeys([*errors, *implied])),
            idempotent=idempotent,
            replayed_by_service=replayed_by_service,
            media=media,
            description=description,
            operation_id=f"{_area(path, roles)}.{view.__name__}",
            links=links or {},
            path_schemas=path_schemas or {},
        )

        def handle(principal: Principal | None, params: dict[str, str]) -> Response:
            request = bp.current_request
            given: dict[str, Any] = {**params, "principal": principal}
            if declared.query is not None:
                given["query"] = parse(declared.query, _query_of(request))
            data: Any = None
            if declared.body is not None:
                data = read(request)
                given["body"] = parse(declared.body, data)
            kwargs = {name: value for name, value in given.items() if name in wants}
            key = idempotency.key_of(request) if idempotent else None

            def action() -> dict[str, Any]:
                answer = view(**kwargs)
                if isinstance(answer, Response):
                    raise TypeError("an idempotent view answers with its model")
                return {"status": status, "body": answer.model_dump(mode="json")}

            if key is None:
                answer = view(**kwargs)
                return answer if isinstance(answer, Response) else respond(answer, status)
            scope = f"{idempotent}:{principal.token_id if principal else '-'}"
            if replayed_by_service:
                return respond(
                    _replayed_by_service(scope, key, data, lambda fp: view(**kwargs, fingerprint=fp)), status
                )
            outcome = idempotency.once(scope, key, data, action, bp.lambda_context)
            return respond(outcome["body"], status=outcome["status"])

        if roles:
            wrapper = _staff(bp, declared, handle)
        else:

            @api_view
            def wrapper(**params: str) -> Response:
                return handle(None, params)

        functools.update_wrapper(wrapper, view)
        options: dict[str, Any] = {"methods": [method.upper()]}
        if roles:
            options["authorizer"] = staff_token
        if body is not None:
            options["content_types"] = list(content_types)
        bp.route(path, **options)(wrapper)
        ROUTES.append(declared)
        return wrapper

    return decorate


def _replayed_by_service(scope: str, key: str, data: Any, run: Callable[[str], BaseModel]) -> BaseModel:
    """A keyed request whose service keeps the key's fingerprint with its write: what this container
    answered the key with before comes first (another body 422, a 409 again), then the service."""
    from chalicelib.domain.rules import idempotency_fingerprint

    fingerprint = idempotency_fingerprint(scope, key, data)
    idempotency.replay_or_refuse(fingerprint)
    try:
        answer = run(fingerprint)
    except idempotency.REPLAYED_ERRORS as refused:
        idempotency.remember(fingerprint, refused)
        raise
    idempotency.remember(fingerprint)
    return answer


def _staff(
    bp: Blueprint, declared: Route, handle: Callable[[Principal | None, dict[str, str]], Response]
) -> Callable[..., Response]:
    """Check the caller and its role, run the view (errors in the envelope), record it in the audit trail."""
    inner = api_view(handle)

    def wrapper(**params: str) -> Response:
        try:
            principal = principal_of(bp.current_request.context)
        except (Unauthorized, Overloaded) as exc:
            return error_response(exc)
        allowed = principal.may(*declared.roles)
        response = inner(principal, params) if allowed else error_response(Forbidden())
        try:
            from chalicelib.services import staff as staff_service

            staff_service.audit(principal, str(declared.audit), response.status_code, _target(params, response))
        except Exception:  # noqa: BLE001 - the action happened; say so, and flag the gap
            _logger().error("audit entry not written", extra={"action": declared.audit, "token_id": principal.token_id})
            metrics.add("AuditWriteFailed")
        return response

    # An unverified caller (the token table throttled) gets through the authorizer; only this
    # wrapper stops it, so a test checks that every route behind the authorizer has it.
    wrapper.checks_staff = True  # type: ignore[attr-defined]
    return wrapper


def _model(module: str, ref: ModelRef | None) -> type[BaseModel] | None:
    return _named(module, ref) if isinstance(ref, str) else ref


@functools.cache
def _named(module: str, name: str) -> type[BaseModel]:
    """The model ``name`` as ``module`` sees it: its own, else one it imports under TYPE_CHECKING."""
    found = getattr(sys.modules[module], name, None)
    if found is None:
        imported = _imported_for_typing(module)
        if name not in imported:
            raise LookupError(f"{module} names the model {name} but neither defines it nor imports it for typing")
        source, attribute = imported[name]
        found = getattr(importlib.import_module(source), attribute)
    return found  # type: ignore[no-any-return]


@functools.cache
def _imported_for_typing(module: str) -> dict[str, tuple[str, str]]:
    """name -> (module, attribute) of each ``from … import …`` in the module's ``if TYPE_CHECKING:``."""
    names: dict[str, tuple[str, str]] = {}
    for node in ast.parse(inspect.getsource(sys.modules[module])).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
                    for alias in statement.names:
                        names[alias.asname or alias.name] = (statement.module, alias.name)
    return names


@functools.cache
def _logger() -> Any:
    # Created on first use: Powertools' logging is not needed to register routes.
    from aws_lambda_powertools import Logger

    return Logger(child=True)


def _area(path: str, roles: tuple[Role, ...]) -> str:
    """public, or the staff area (counter, org, admin) the path is under."""
    return path.split("/")[2] if roles else "public"


def _query_of(request: Request) -> dict[str, str]:
    params: Any = request.query_params or {}
    return {name: params[name] for name in params}


def _target(params: dict[str, str], response: Response) -> str | None:
    """What the action was about: the path's ID, else the ID the response created."""
    if params:
        return ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    body = response.body
    if isinstance(body, str) and body.startswith("{"):
        try:
            data = json.loads(body)
        except ValueError:
            return None
        for key in ("registration_id", "batch_id", "channel"):
            if isinstance(data, dict) and isinstance(data.get(key), str):
                return f"{key}={data[key]}"
    return None


def bounded_json(limit: int) -> Callable[[Request], Any]:
    """A body reader for JSON bodies allowed to be larger than a registration's 16 KB."""
    return functools.partial(json_body, limit=limit)
