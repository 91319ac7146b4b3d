"""The flows whose every AWS call is faulted: a setup (not faulted) and the act (faulted)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fault.world import World
from tests.helpers import body


@dataclass(frozen=True)
class Flow:
    name: str
    setup: Callable[[World], Any]
    act: Callable[[World, Any], None]


def _registered(w: World, primary: int, reserve: int, people: int, drain: bool = True) -> list[str]:
    w.fresh(primary, reserve)
    ids = []
    for n in range(1, people + 1):
        code, answer = w.register(n, keyed=False)
        assert code == 201, answer
        ids.append(answer["registration_id"])
    if drain:
        w.queues.drain()
    w.answers = []
    return ids


def _cancelled(w: World) -> list[str]:
    ids = _registered(w, 1, 2, 3)
    code, answer = w.cancel(ids[0])
    assert code == 200, answer
    w.answers = []
    return ids


def _new_container(w: World, ids: list[str]) -> list[str]:
    """What a container that has not taken a data key yet sees (its stores otherwise as they are)."""
    from chalicelib.store.factory import dynamo_stores

    dynamo_stores().data_keys.forget()
    return ids


def _register_next(w: World, _: Any) -> None:
    w.register(2)


def _cancel_first(w: World, ids: list[str]) -> None:
    w.cancel(ids[0])
    w.drain()


def _handlers_run(w: World, _: Any) -> None:
    w.drain()


def _erase_first(w: World, ids: list[str]) -> None:
    w.erase(ids[0], body(1))
    w.drain()


def _batch(w: World, _: Any) -> None:
    w.submit_batch([body(2), body(3), body(4, phone="x"), body(1)])
    w.drain()


FLOWS = (
    # a confirmed registration: quota, the person's registration, the removal sweep's kick
    Flow("register_confirmed", lambda w: _registered(w, 2, 2, 1), _register_next),
    # the primary list is full: a reserve ticket
    Flow("register_reserve", lambda w: _registered(w, 1, 2, 1), _register_next),
    # a confirmed person cancels while two wait on the reserve; the release job runs
    Flow("cancel", lambda w: _registered(w, 1, 2, 3), _cancel_first),
    # the release job promotes reserve rank 1 and queues their removals, which run
    Flow("promote", _cancelled, _handlers_run),
    # the removal jobs of a new confirmed registration
    Flow("remove", lambda w: _registered(w, 2, 0, 1, drain=False), _handlers_run),
    # a confirmed person (removed from both registries) erases their data while two wait on the
    # reserve: the cancellation, its release job and the erasing write
    Flow("erase", lambda w: _registered(w, 1, 2, 3), _erase_first),
    # an employer's list: accepted, then its chunk registers each row (confirmed, reserve, rejected x2)
    Flow("batch", lambda w: _registered(w, 2, 1, 1), _batch),
    # a container's first registration: no data key yet (the period's key made by KMS and stored)
    Flow("register_first_key", lambda w: w.fresh(2, 2), _register_next),
    # a removal worker meets a data key another container made (its stored key unwrapped by KMS)
    Flow("remove_other_key", lambda w: _new_container(w, _registered(w, 2, 0, 1, drain=False)), _handlers_run),
)
