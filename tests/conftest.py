"""Fixtures. Fake AWS credentials and the region are set before anything imports boto3 or app.

Nothing here imports moto at import time: ``tests/unit`` runs without it (its fakes stand in for
the stores); the fixtures that start the engine import it when a test asks for them. They start it
with ``local.engine.start()``, which follows ``LOCAL_ENGINE_SPEEDUPS`` (``off``: plain moto), as the
local stack of the race, browser and e2e suites does."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.caches import reset_caches
from local.credentials import fake_credentials

fake_credentials()
os.environ["KKREG_STAGE"] = "test"
os.environ["KKREG_RESOURCE_PREFIX"] = "kkreg-test"
os.environ.pop("POWERTOOLS_IDEMPOTENCY_DISABLED", None)
os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
# From the start, as a deployment has it (.chalice/config.json): the test client applies the config's
# variables only inside its context, and the service's logger (made on first use) and its children
# (made when a service is imported) must get the same name.
os.environ["POWERTOOLS_SERVICE_NAME"] = "kk-vaccine-registration"
os.environ["LOCAL_RETRY_SECONDS"] = "0"  # a failed message is visible again at once: drain() retries it
# The v1 suites register on the app channel without a phone token; the suites of phone verification
# (and the browser tests and the bench) switch it back to the default, required, themselves.
os.environ["PHONE_VERIFICATION"] = "off"
# Likewise without the waiting room (v1.1's app channel): the suites of the waiting room, its browser
# test and the bench through the line switch it on (the default of every deployment and of `make run`).
os.environ["WAITING_ROOM"] = "off"
# Their people share one phone too (tests.helpers.BASE_BODY): the phone's count is kept but its limit
# is out of reach (both limits); tests/integration/test_phone_limit.py and the races of one phone set the
# defaults, 4 and 6.
os.environ["PHONE_REGISTRATION_LIMIT"] = "1000000"
os.environ["PHONE_LIFETIME_LIMIT"] = "1000000"
os.environ["REMOVAL_KICK_SECONDS"] = "0"  # every confirmation kicks the removal sweep: drain() runs it
os.environ["REMOVAL_CONTINUE_SECONDS"] = "0"  # and its continuation, without a delay drain() would not wait out

REGION = os.environ["AWS_DEFAULT_REGION"]
STAGE = "test"


@pytest.fixture
def campaign_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set campaign settings (capacities, shards) before the stack starts."""

    def apply(primary: int = 50_000, reserve: int = 10_000, shards: int = 4, min_age: int = 18) -> None:
        monkeypatch.setenv("CAMPAIGN_PRIMARY_CAPACITY", str(primary))
        monkeypatch.setenv("CAMPAIGN_RESERVE_CAPACITY", str(reserve))
        monkeypatch.setenv("QUOTA_SHARDS", str(shards))
        monkeypatch.setenv("CAMPAIGN_MIN_AGE", str(min_age))
        reset_caches()

    return apply


@pytest.fixture
def verification_required(monkeypatch: pytest.MonkeyPatch) -> None:
    """PHONE_VERIFICATION=required, the default of every deployment and of `make run`."""
    monkeypatch.setenv("PHONE_VERIFICATION", "required")
    reset_caches()


@pytest.fixture
def waiting_room_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """WAITING_ROOM=on, the default of every deployment and of `make run`."""
    monkeypatch.setenv("WAITING_ROOM", "on")
    reset_caches()


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Mor Phrom and Khon Kaen Phrom stand-ins on loopback, the service pointed at them."""
    from local import registries
    from local.sms import SmsStandIn

    monkeypatch.setenv("REGISTRY_RETRY_BASE_SECONDS", "0.01")
    started: dict[str, Any] = {**registries.start_both(), "sms": SmsStandIn().start()}
    yield started
    for stand_in in started.values():
        stand_in.stop()


@pytest.fixture
def moto_account() -> Iterator[None]:
    """An empty moto backend (the deployment tests create what they need)."""
    from local import engine

    mock = engine.start()
    try:
        yield
    finally:
        mock.stop()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, stand_ins: dict[str, Any]) -> Iterator[dict[str, str]]:
    """A fresh moto backend with the resources of infra/template.yaml."""
    from infra import stack
    from local import engine

    mock = engine.start()
    try:
        env = stack.environment(stack.create(STAGE, REGION), STAGE)
        for key, val in env.items():
            monkeypatch.setenv(key, val)
        reset_caches()
        yield env
    finally:
        mock.stop()
        reset_caches()


@pytest.fixture
def app(aws: dict[str, str]) -> Any:
    from app import app as chalice_app

    return chalice_app


@pytest.fixture
def client(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import chalice.test

    from local.server import ContractGateway

    # API Gateway's own answers (unknown route, authorizer's 401) in the contract's envelope, as the
    # local server and a deployment's gateway responses give them: the test client's gateway is ours.
    monkeypatch.setattr(chalice.test, "LocalGateway", ContractGateway)
    # A stage absent from .chalice/config.json: only its top-level variables are applied.
    with chalice.test.Client(app, stage_name="test") as c:
        yield c


@pytest.fixture
def queues(app: Any) -> Any:
    """Runs the queue handlers on demand (``queues.drain()``) as the local driver does."""
    from local.driver import QueueDriver

    return QueueDriver(app, REGION)


@pytest.fixture
def tokens(aws: dict[str, str]) -> dict[str, str]:
    """One live token per role, and a revoked one."""
    from chalicelib.domain.staff import Role
    from chalicelib.services import staff

    issued = {role.value: staff.issue_token(role, f"{role.value} desk 1")[0] for role in Role}
    issued["org2"] = staff.issue_token(Role.ORG, "Another Co.")[0]
    revoked, record = staff.issue_token(Role.ADMIN, "left the team")
    staff.revoke_token(record.token_id)
    issued["revoked"] = revoked
    return issued
