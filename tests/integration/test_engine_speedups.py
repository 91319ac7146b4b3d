"""The fence around the engine's speed-ups (``local/speedups.py``): a switch that runs plain moto, a
guard that keeps them off on any moto but the pinned one, and an uninstall that leaves moto and
botocore exactly as they were (which the differential test relies on)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local import engine, speedups

ROOT = Path(__file__).resolve().parents[2]


def test_the_pinned_moto_is_the_one_the_project_installs() -> None:
    # Given requirements-dev.txt's pin of moto
    pin = re.search(r"^moto\[[^\]]*\]==(\S+)", (ROOT / "requirements-dev.txt").read_text(), re.MULTILINE)
    # Then the speed-ups are checked against that release (moving one means moving the other)
    assert pin is not None and pin.group(1) == speedups.PINNED_MOTO


def test_the_setting_off_starts_plain_moto_behind_the_lock_and_on_puts_them_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.dynamodb.models.table import Table

    # Given LOCAL_ENGINE_SPEEDUPS=off, When the engine starts
    monkeypatch.setenv("LOCAL_ENGINE_SPEEDUPS", "off")
    engine.start().stop()
    # Then no patch is on, moto's own scan answers, and every call still takes the engine lock
    assert not speedups.installed() and speedups.applied() == {}
    assert Table.scan.__module__ == "moto.dynamodb.models.table"
    assert hasattr(BotocoreStubber.process_request, "__wrapped__")
    assert speedups.banner(False) == "engine speed-ups off: plain moto (LOCAL_ENGINE_SPEEDUPS=off)"
    # When it starts again with the setting on (the default)
    monkeypatch.delenv("LOCAL_ENGINE_SPEEDUPS")
    engine.start().stop()
    # Then every patch is on again
    assert speedups.installed() and Table.scan.__module__ == "local.speedups"
    assert speedups.banner(True) == f"engine speed-ups on (moto {speedups.PINNED_MOTO})"


def test_on_another_moto_the_speedups_stay_off_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    import moto

    # Given the speed-ups on, and then a moto other than the pinned one
    engine.start().stop()
    assert speedups.installed()
    monkeypatch.setattr(moto, "__version__", "5.3.0")
    # When the engine starts
    with pytest.warns(RuntimeWarning, match=r"moto 5\.3\.0 is not 5\.2\.5"):
        engine.start().stop()
    # Then it runs plain moto, and says so
    assert not speedups.installed() and speedups.applied() == {}
    assert speedups.banner(False) == "engine speed-ups off: plain moto (moto 5.3.0; the speed-ups are checked on 5.2.5)"
    with pytest.warns(RuntimeWarning):
        assert speedups.install_client() is False
    assert speedups.applied() == {}
    # And on the pinned moto again they are back
    monkeypatch.undo()
    engine.start().stop()
    assert speedups.installed()


def test_a_setting_other_than_on_or_off_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_ENGINE_SPEEDUPS", "fast")
    with pytest.raises(RuntimeError, match="LOCAL_ENGINE_SPEEDUPS is on or off, not 'fast'"):
        engine.start()


# Run in a fresh interpreter: moto, botocore and werkzeug as imported, before anything patched them.
_UNINSTALL_CHECK = """
import sys
import botocore.endpoint, botocore.signers, botocore.useragent
import moto.core.responses, moto.core.botocore_stubber
import moto.dynamodb.comparisons, moto.dynamodb.models, moto.dynamodb.responses
import moto.dynamodb.models.table, moto.dynamodb.parsing.ast_nodes, moto.dynamodb.parsing.expressions
import moto.dynamodb.parsing.validators, moto.sqs.models
import werkzeug.sansio.utils, werkzeug.test
from local import speedups

owners = {}
for name, module in list(sys.modules.items()):
    if name.split(".")[0] in ("moto", "botocore", "werkzeug"):
        owners[id(module)] = module
        owners.update((id(v), v) for v in vars(module).values() if isinstance(v, type))
before = {key: dict(vars(owner)) for key, owner in owners.items()}
assert speedups.install() and speedups.installed()
replaced = [(owner, attribute) for done in speedups.applied().values() for owner, attribute in done]
assert len(speedups.applied()) == 21, sorted(speedups.applied())
for owner, attribute in replaced:
    assert id(owner) in before, f"{owner!r} not snapshotted: import its module above"
    assert vars(owner).get(attribute) is not before[id(owner)].get(attribute), (owner, attribute)
speedups.uninstall()
assert not speedups.installed() and speedups.applied() == {}
for key, owner in owners.items():
    now = dict(vars(owner))
    changed = {k for k in before[key].keys() | now.keys() if before[key].get(k, None) is not now.get(k, None)}
    assert not changed, (owner, changed)
print("restored", len(replaced))
"""


def test_uninstall_leaves_moto_and_botocore_exactly_as_they_were() -> None:
    # Given moto and botocore as imported, When every speed-up is installed and then uninstalled
    done = subprocess.run(
        [sys.executable, "-c", _UNINSTALL_CHECK], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    # Then each patch had replaced something, and every attribute of every moto and botocore module
    # and class is the very object it was before (nothing left behind, nothing missing)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("restored ")


def test_endpoints_resolved_once_give_each_client_and_call_the_endpoint_botocore_resolves() -> None:
    # Given clients of two regions, and the calls the service makes (two tables, a batch of two, a
    # queue) and a table's ARN (its account's endpoint)
    import boto3
    from botocore.config import Config

    from local.credentials import fake_credentials

    fake_credentials()
    calls = [
        ("dynamodb", "PutItem", {"TableName": "registrations", "Item": {}}),
        ("dynamodb", "PutItem", {"TableName": "campaign", "Item": {}}),
        ("dynamodb", "GetItem", {"TableName": "registrations", "Key": {}}),
        ("dynamodb", "GetItem", {"TableName": "arn:aws:dynamodb:ap-southeast-7:123456789012:table/x", "Key": {}}),
        ("dynamodb", "BatchGetItem", {"RequestItems": {"registrations": {}, "campaign": {}}}),
        ("sqs", "SendMessage", {"QueueUrl": "https://sqs.ap-southeast-7.amazonaws.com/1/q", "MessageBody": "x"}),
    ]

    def resolved() -> list[Any]:
        found = []
        for region in ("ap-southeast-7", "ap-southeast-1", "ap-southeast-7"):
            config = Config(account_id_endpoint_mode="preferred")
            clients = {name: boto3.client(name, region_name=region, config=config) for name in ("dynamodb", "sqs")}
            for service, operation, params in calls * 2:  # the second time from what was kept
                client = clients[service]
                model = client.meta.service_model.operation_model(operation)
                found.append(client._resolve_endpoint_ruleset(model, params, {}))
        return found

    was = speedups.installed()
    speedups.uninstall()
    plain = resolved()
    # When the speed-up resolves them
    try:
        assert speedups.install()
        patched = resolved()
    finally:
        speedups.uninstall()
        if was:
            speedups.install()
    # Then every call gets botocore's own endpoint, headers and properties, its client's region's
    assert patched == plain
    assert {url for url, _, _ in plain} >= {
        "https://dynamodb.ap-southeast-7.amazonaws.com",
        "https://dynamodb.ap-southeast-1.amazonaws.com",
        "https://123456789012.ddb.ap-southeast-7.amazonaws.com",
    }
