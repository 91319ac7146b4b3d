"""API Gateway's own answers (gateway responses) in the contract's error envelope.

API Gateway answers some requests before the app sees them: an unknown route, a throttled request,
a token the authorizer refused, a body over 10 MB. Out of the box those are its own bodies
(``{"message": "Missing Authentication Token"}`` with 403, ...). Each response type here is mapped to
the error the app raises for the same condition, so the status, the body and the headers come from
``chalicelib.api.errors.envelope``, the one error-to-HTTP map. Both deployment paths use this:
``make package`` writes it into the REST API's OpenAPI document and ``make deploy`` puts it with
``PutGatewayResponse`` (``tools/deploy.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from chalicelib.api import errors as http
from chalicelib.domain import errors as domain

TEMPLATE = Path(__file__).with_name("template.yaml")
JSON = "application/json"


def _not_found() -> domain.DomainError:
    return http.RouteNotFound()


def _invalid_body() -> domain.DomainError:
    return domain.ValidationFailed(["body"])


def _refused_at_the_edge() -> domain.DomainError:
    """403 ``forbidden`` in the words of the web ACL's own block answer (``infra/template.yaml``)."""
    template = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    content = template["Resources"]["ApiWebAcl"]["Properties"]["CustomResponseBodies"]["forbidden"]["Content"]
    words = json.loads(content)["error"]
    refused = http.Forbidden()
    refused.message, refused.message_th = words["message"], words["message_th"]
    return refused


# Response type -> the error the app raises for the same thing.
ERRORS: dict[str, Callable[[], domain.DomainError]] = {
    # A request no method matches: API Gateway calls it a missing (SigV4) token, and with an
    # `Authorization: Bearer` header an invalid signature. The API uses neither IAM auth nor API
    # keys, so these only ever mean an unknown route. A known path with a method it lacks ends here
    # too: API Gateway cannot tell the two apart, so a deployment answers it 404, not 405.
    "MISSING_AUTHENTICATION_TOKEN": _not_found,
    "INVALID_SIGNATURE": _not_found,
    "RESOURCE_NOT_FOUND": _not_found,
    "UNAUTHORIZED": http.Unauthorized,  # no Authorization header, or the authorizer said Unauthorized
    "ACCESS_DENIED": http.Forbidden,  # the authorizer's policy denied the route
    # The authorizer function could not answer: in a burst that is its reserved concurrency being
    # reached, and the contract never answers load with a 5xx. A broken authorizer shows in its
    # errors alarm, not here.
    "AUTHORIZER_FAILURE": domain.Overloaded,
    "AUTHORIZER_CONFIGURATION_ERROR": http.InternalError,
    "API_CONFIGURATION_ERROR": http.InternalError,
    "THROTTLED": domain.Overloaded,  # the stage's throttle (infra/stages.json)
    "QUOTA_EXCEEDED": domain.Overloaded,
    "REQUEST_TOO_LARGE": http.PayloadTooLarge,
    "UNSUPPORTED_MEDIA_TYPE": http.UnsupportedMediaType,
    "BAD_REQUEST_BODY": _invalid_body,
    "BAD_REQUEST_PARAMETERS": _invalid_body,
    # WAF's own block, for a rule without a custom answer (the web ACL's rules all have one).
    "WAF_FILTERED": _refused_at_the_edge,
    # Any other 4xx API Gateway makes on this API (API keys, expired SigV4 tokens) is, as above,
    # a request that matched no method.
    "DEFAULT_4XX": _not_found,
    # Any other 5xx (the function timed out or failed, 502/504): API Gateway's status is kept.
    "DEFAULT_5XX": http.InternalError,
}
KEEPS_STATUS = {"DEFAULT_5XX"}


def gateway_responses() -> dict[str, dict[str, Any]]:
    """Response type -> its gateway response, in API Gateway's shape (``statusCode``,
    ``responseParameters``, ``responseTemplates``): the keyword arguments of ``PutGatewayResponse``
    and the entries of ``x-amazon-apigateway-gateway-responses``."""
    responses = {}
    for response_type, error in ERRORS.items():
        status, body, headers = http.envelope(error())
        response: dict[str, Any] = {
            "responseParameters": {f"gatewayresponse.header.{k}": f"'{v}'" for k, v in sorted(headers.items())},
            "responseTemplates": {JSON: json.dumps(body, ensure_ascii=False)},
        }
        if response_type not in KEEPS_STATUS:
            response["statusCode"] = str(status)
        responses[response_type] = response
    return responses
