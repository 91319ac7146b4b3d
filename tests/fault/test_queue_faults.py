"""Every AWS call of the waiting room's join, sequencing (after the opening, and the opening itself)
and admission, faulted in turn (``tests/fault/harness.py``): after the system's own recovery (the
callers' retries, the next rounds once a dead round's lease is over, the tickets' own reads), nobody
is lost from the line, every ticket has one position and the positions are 1..n, and nobody is
admitted twice or registered without an admission."""

from __future__ import annotations

import contextlib
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain import queue as q
from chalicelib.domain.errors import Overloaded
from tests.fault.harness import Call, ProcessDied
from tests.fault.test_injection import NotReached, each_fault
from tests.fault.world import World
from tests.helpers import Clock, body

PEOPLE = 4


@dataclass
class Line:
    world: World
    clock: Clock
    opens: float
    tickets: dict[int, str]
    joins: list[tuple[str, int, Any]] = field(default_factory=list)

    def join(self, n: int) -> tuple[int, Any]:
        """A phone joining, as the page does: again after a 429, 5xx or no answer."""
        answer = self.world.call(str(n), "post", "/v1/queue", {"phone": phone(n)}, {})
        self.joins.append(self.world.answers.pop())
        return answer

    def ticket(self, text: str) -> dict[str, Any]:
        """A holder reading their ticket, as the page does: again after a 429 or no answer."""
        for _ in range(5):
            try:
                resp = self.world.client.http.get(f"/v1/queue/{text}")
            except ProcessDied:
                continue
            if resp.status_code == 200:
                return dict(resp.json_body)
            assert resp.status_code == 429, resp.body
        raise AssertionError(f"{text} could not be read")

    def rounds(self, seconds: float) -> None:
        """Time passes (past a dead round's lease), and the sequencer's rounds run to the present."""
        from chalicelib.services import waiting_room

        self.clock.now += seconds
        for _ in range(50):
            if not waiting_room.sequence_once().behind:
                break
        waiting_room.forget()


def phone(n: int) -> str:
    return f"08{n:08d}"


def _fresh(world: World, monkeypatch: pytest.MonkeyPatch, before_opening: bool) -> Line:
    from chalicelib.caches import reset_caches
    from chalicelib.services import waiting_room

    world.fresh(10, 2)
    clock = Clock(math.floor(time.time()) + 0.25)
    opens = clock.now + (60 if before_opening else -3600)
    monkeypatch.setattr(waiting_room, "clock", clock)
    # Two shard keys and four pre-queue buckets: every call of a round is faulted in a few hundred runs.
    monkeypatch.setattr(q, "PRE_BUCKETS", 4)
    monkeypatch.setenv("QUEUE_SHARDS", "2")
    monkeypatch.setenv("WAITING_ROOM", "on")
    monkeypatch.setenv("ADMIT_PER_MINUTE", "60")
    monkeypatch.setenv("REGISTRATION_OPENS_AT", datetime.fromtimestamp(opens, UTC).isoformat())
    reset_caches()
    world.reset()
    line = Line(world, clock, opens, {})
    if not before_opening:
        line.rounds(0)  # the line opened an hour ago, nobody in it
    return line


def _joined(line: Line, people: int = PEOPLE) -> Line:
    for n in range(1, people + 1):
        code, answer = line.join(n)
        assert code == 201, answer
        line.tickets[n] = answer["ticket"]
    line.joins = []
    return line


def _safely(act: Callable[[], Any]) -> None:
    """A background round: a crash or a refusal ends it (the next one recovers)."""
    with contextlib.suppress(ProcessDied, Overloaded):
        act()


@dataclass(frozen=True)
class Flow:
    name: str
    before_opening: bool
    setup: Callable[[Line], None]
    act: Callable[[Line], None]


def _join_act(line: Line) -> None:
    for n in (PEOPLE + 1, PEOPLE + 2):
        code, answer = line.join(n)
        if code in (200, 201):
            line.tickets[n] = answer["ticket"]


def _sequence_act(line: Line) -> None:
    from chalicelib.services import waiting_room

    line.clock.now += 3
    _safely(waiting_room.sequence_once)


def _opening_act(line: Line) -> None:
    from chalicelib.services import waiting_room

    line.clock.now = line.opens + 2
    _safely(waiting_room.sequence_once)


def _admitted(line: Line) -> None:
    _joined(line)
    line.rounds(3)
    line.rounds(PEOPLE + 2)


def _register_act(line: Line) -> None:
    for n in range(1, PEOPLE + 1):
        grant = line.ticket(line.tickets[n])
        person = {**body(n, phone=phone(n)), "admission_token": grant["admission_token"]}
        line.world.call(person["national_id"], "post", "/v1/registrations", person, {})


FLOWS = (
    # new phones join (put if absent; a lost answer is retried and finds the ticket)
    Flow("join", False, _joined, _join_act),
    # a round after the opening: the arrivals' queries, the claim, the buckets, the commit
    Flow("sequence", False, _joined, _sequence_act),
    # the opening: the pre-queue's queries, its 256 buckets, the commit
    Flow("opening", True, _joined, _opening_act),
    # admitted households register with their admission
    Flow("admission", False, _admitted, _register_act),
)


def run(line: Line, flow: Flow, target: tuple[int, str] | None) -> list[Call]:
    flow.setup(line)
    world = line.world
    world.injector.arm(target)
    try:
        flow.act(line)
    finally:
        world.injector.disarm()
    calls = list(world.injector.calls)
    if target is not None and not world.injector.fired:
        raise NotReached(f"call {target} was never reached ({len(calls)} calls)")
    recover(line, flow)
    check(line)
    return calls


def recover(line: Line, flow: Flow) -> None:
    """The lease of a dead round runs out and the next rounds run; every holder reads their ticket
    (a ticket its second was sequenced without joins again, and is sequenced); the rest as usual."""
    if flow.before_opening and line.clock.now < line.opens:
        line.clock.now = line.opens
    for _ in range(2):
        line.rounds(20)
        for text in line.tickets.values():
            line.ticket(text)
    line.rounds(20)
    line.world.recover()


def check(line: Line) -> None:
    from chalicelib.services import waiting_room

    world = line.world
    items = world.items("QUEUE_TABLE")
    stored = {i["pk"]: i for i in items if str(i["pk"]).startswith("t#")}
    # Nobody lost: every phone told it has a ticket has exactly that one, and it has a position
    for nid, code, answer in line.joins:
        if code in (200, 201):
            assert answer["ticket"] in {i["ticket"] for i in stored.values()}, (nid, answer)
    assert len(stored) == len({i["ticket"] for i in stored.values()}) >= len(line.tickets)
    views = {i["ticket"]: line.ticket(i["ticket"]) for i in stored.values()}
    got = sorted(v["position"] for v in views.values())
    # One position each, 1..n, none twice (a ticket found in two buckets would show as a gap)
    assert got == list(range(1, len(stored) + 1)), (got, views)
    assert waiting_room._state(line.clock.now, fresh=True).total == len(stored)
    # Nobody admitted twice: an admission is its ticket's, read the same every time
    for text, view in views.items():
        again = line.ticket(text)
        assert (again["admission_token"], again["admitted_until"]) == (view["admission_token"], view["admitted_until"])
    # Nobody registered without an admission: every app registration's phone was admitted
    admitted = {phone(n) for n, t in line.tickets.items() if views[t]["status"] in ("admitted", "expired")}
    regs = world.items("REGISTRATIONS_TABLE")
    assert {r["phone"] for r in regs if r["channel"] == "app"} <= admitted
    assert all(n == 1 for n in Counter(r["national_id"] for r in regs if r["status"] != "cancelled").values())
    world.check()


@pytest.mark.parametrize("flow", FLOWS, ids=[f.name for f in FLOWS])
def test_every_aws_call_of_the_waiting_room_can_fail_and_nobody_is_lost_or_admitted_twice(
    world: World, monkeypatch: pytest.MonkeyPatch, flow: Flow
) -> None:
    # Given the flow's calls when nothing fails
    calls = run(_fresh(world, monkeypatch, flow.before_opening), flow, None)
    assert calls, "the flow made no AWS call"

    # When each call fails in turn / Then the line holds after recovery
    def faulted(target: tuple[int, str]) -> None:
        run(_fresh(world, monkeypatch, flow.before_opening), flow, target)

    each_fault(calls, faulted)
