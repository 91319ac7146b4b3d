"""Every AWS call of the register, cancel, promote, remove, erase and batch flows, faulted in turn.

For each flow: a clean run counts its AWS calls and gives the end state to expect. Then for each
call index k (with each fault kind that call can suffer in the full run, ``KKREG_FULL=1``; in the
reduced run with one kind, rotating through them), the flow runs again from an empty campaign
with call k failing, the system's own recovery runs, and the invariants of ``World.check`` must
hold, with the clean run's end state as ``SAME_END`` says (a lost conditional race may change who
gets which place: that kind is held to the invariants only).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from tests.fault.flows import FLOWS, Flow
from tests.fault.harness import Call
from tests.fault.world import World

FULL = os.environ.get("KKREG_FULL") == "1"
# Faults that apply nothing: the retries must reach exactly the clean run's end state. A crash or a
# lost answer can leave a place taken by a request that died; until reconciliation hands it on, a
# later person may be refused (full) or put on the reserve, so those runs must end with the same
# confirmed people (the primary list full as before) and the invariants, not the same reserve.
SAME_END = {"throttle", "unavailable", "rejected"}


def plan(calls: list[Call]) -> list[tuple[int, str]]:
    """The (call index, fault kind) pairs to run."""
    runs = []
    for k, call in enumerate(calls):
        kinds = call.kinds()
        chosen = kinds if FULL else (kinds[k % len(kinds)],)
        runs.extend((k, kind) for kind in chosen)
    return runs


class NotReached(Exception):
    """The run took a shorter path than the clean run (a time-dependent branch, e.g. a reserve
    ticket judged still in flight on a loaded machine), so call k was not made at all."""


def run(world: World, flow: Flow, target: tuple[int, str] | None) -> list[Call]:
    state = flow.setup(world)
    world.injector.arm(target)
    try:
        flow.act(world, state)
    finally:
        world.injector.disarm()
    calls = list(world.injector.calls)
    if target is not None and not world.injector.fired:
        raise NotReached(f"call {target} was never reached ({len(calls)} calls)")
    world.recover()
    world.check()
    return calls


INJECTED: dict[str, int] = {}


@pytest.mark.parametrize("flow", FLOWS, ids=[f.name for f in FLOWS])
def test_every_aws_call_of_the_flow_can_fail_and_nothing_is_lost(world: World, flow: Flow) -> None:
    # Given the flow's calls and end state when nothing fails
    calls = run(world, flow, None)
    expected, confirmed = world.outcome(), world.confirmed()
    assert calls, "the flow made no AWS call"

    # When each call fails in turn, then the invariants hold after recovery
    def faulted(target: tuple[int, str]) -> None:
        run(world, flow, target)
        if target[1] in SAME_END:
            assert world.outcome() == expected, (world.outcome(), world.answers, world.batch_rows())
        elif target[1] != "condition":
            assert world.confirmed() == confirmed, (world.outcome(), world.answers, world.batch_rows())

    each_fault(calls, faulted)
    INJECTED[flow.name] = len(calls)


def each_fault(calls: list[Call], faulted: Callable[[tuple[int, str]], None]) -> None:
    """``faulted`` once per (call index, fault kind) of ``plan(calls)``, again (three times in all)
    while the run does not reach that call; every failure is reported at the end, and every call
    index must have been faulted."""
    failures: list[str] = []
    injected: set[int] = set()
    for k, kind in plan(calls):
        try:
            for attempt in range(3):
                try:
                    faulted((k, kind))
                    break
                except NotReached:
                    if attempt == 2:
                        raise
            injected.add(k)
        except (AssertionError, NotReached) as exc:
            failures.append(f"call {k} {calls[k].service}.{calls[k].operation} [{kind}]: {exc}"[:1500])
    assert not failures, "\n".join(failures)
    assert injected == set(range(len(calls))), f"{len(calls)} calls, {len(injected)} injected"


def test_the_injector_fails_exactly_the_call_it_is_aimed_at(world: World) -> None:
    from chalicelib.store import clients

    world.fresh(1, 1)
    world.injector.arm((1, "throttle"))
    db: Any = clients.dynamodb()
    db.describe_table(TableName=world.env["CAMPAIGN_TABLE"])
    with pytest.raises(Exception, match="ProvisionedThroughputExceeded"):
        db.describe_table(TableName=world.env["CAMPAIGN_TABLE"])
    db.describe_table(TableName=world.env["CAMPAIGN_TABLE"])
    world.injector.disarm()
    assert [c.operation for c in world.injector.calls] == ["DescribeTable"] * 3
    assert world.injector.fired


@pytest.mark.parametrize(
    ("name", "operation"), [("register_first_key", "GenerateDataKey"), ("remove_other_key", "Decrypt")]
)
def test_the_data_key_flows_reach_kms_so_its_failures_are_injected_too(world: World, name: str, operation: str) -> None:
    # Given the flow of a container without a data key, run clean
    flow = next(f for f in FLOWS if f.name == name)
    calls = run(world, flow, None)
    # Then among its calls is the one to KMS (each of which the test above fails in turn), and the
    # data key's own item in the campaign table is read first
    made = [f"{c.service}.{c.operation}" for c in calls]
    assert f"kms.{operation}" in made, made
    assert made.index("dynamodb.GetItem") < made.index(f"kms.{operation}"), made
