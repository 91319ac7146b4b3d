"""``import app`` (every Lambda cold start, and Chalice's packaging) registers the routes and loads
nothing they use: the models, services and libraries come with the first request that needs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from tests.helpers import gateway_event

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "aws_lambda_powertools", "boto3", "botocore", "chalicelib.services", "chalicelib.store")


def _loaded_by(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def _heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)}


def test_importing_the_app_loads_no_model_library_sdk_or_service() -> None:
    # Given a fresh interpreter
    # When it imports the app
    loaded = _loaded_by("import app")
    # Then the routes are registered without pydantic, Powertools, the AWS SDK or any service
    assert "app" in loaded
    assert _heavy(loaded) == set()


def test_a_request_loads_only_what_its_route_uses() -> None:
    # Given a fresh interpreter that imported the app
    # When it answers a liveness check
    event = gateway_event("/v1/health")
    # (the Lambda handler itself: chalice.test would load botocore)
    loaded = _loaded_by(f"from app import app\nassert app({event!r}, None)['statusCode'] == 200")
    # Then it has built the route's model, and loaded no service, no store and not boto3
    assert "pydantic" in loaded
    assert {m for m in loaded if m.startswith(("chalicelib.services", "chalicelib.store", "boto3"))} == set()


def test_every_model_a_route_names_resolves_to_a_pydantic_model() -> None:
    # Given every route declaration
    import app  # noqa: F401 - declares them
    from chalicelib.api.routes import ROUTES

    # When its models are imported by the strings it names them with
    models = [model for route in ROUTES for model in (route.body, route.query, route.response) if model is not None]
    # Then each is a pydantic model (a wrong module or class name would raise)
    assert models and all(issubclass(model, BaseModel) for model in models)


def test_a_model_named_without_its_module_is_refused_when_the_route_is_declared() -> None:
    # Given a blueprint
    from chalice.app import Blueprint

    from chalicelib.api.routes import ROUTES, route

    bp = Blueprint("test_naming")
    declared = len(ROUTES)
    # When a route names its model by the class's bare name, which no module says where to find
    # Then the declaration itself refuses it (not the first request), and registers nothing
    with pytest.raises(ValueError, match="module:Class"):
        route(bp, "GET", "/v1/naming", response="LookupView", summary="a bare name")
    assert len(ROUTES) == declared
