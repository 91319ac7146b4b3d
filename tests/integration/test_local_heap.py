"""``local.heap``: after a full collection its survivors are frozen, so the next one walks only what
came since; garbage cycles made since are still collected, and everything is freed by reference
counting as before."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from local import heap


class Node:
    def __init__(self) -> None:
        self.me: Node | None = None


@pytest.fixture
def frozen_after_full() -> Iterator[None]:
    heap.install()
    try:
        yield
    finally:
        heap.uninstall()
        gc.unfreeze()
        gc.collect()


def test_the_survivors_of_a_full_collection_are_frozen(frozen_after_full: None) -> None:
    before = gc.get_freeze_count()
    kept = [Node() for _ in range(1000)]
    gc.collect()
    assert gc.get_freeze_count() >= before + len(kept)
    walked = {id(obj) for generation in (0, 1, 2) for obj in gc.get_objects(generation)}
    assert not walked & {id(node) for node in kept}  # no collection walks them again


def test_a_cycle_made_after_the_freeze_is_still_collected(frozen_after_full: None) -> None:
    node = Node()
    node.me = node
    gone = weakref.ref(node)
    del node
    gc.collect()
    assert gone() is None


def test_a_frozen_object_is_still_freed_by_reference_counting(frozen_after_full: None) -> None:
    node = Node()
    gc.collect()  # frozen now
    gone = weakref.ref(node)
    del node
    assert gone() is None


def test_once_uninstalled_a_full_collection_freezes_nothing(frozen_after_full: None) -> None:
    heap.uninstall()
    before = gc.get_freeze_count()
    kept = Node()
    gc.collect()
    assert gc.get_freeze_count() == before
    assert any(obj is kept for obj in gc.get_objects(2))


def test_installing_twice_adds_one_callback(frozen_after_full: None) -> None:
    heap.install()
    assert sum(1 for callback in gc.callbacks if callback is heap._frozen_after_full) == 1
