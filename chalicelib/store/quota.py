"""Primary places: the sharded quota, the places a container keeps in hand, and the overflow through
the gate once the shards are full.

``quota#<i>``  ``used``: primary places taken from shard i. Only ever grows, so a shard seen full
               stays full and each container remembers it (no write wasted on it again).
``gate``       see ``store.gate``: parked places and the active reserve.
"""

from __future__ import annotations

import bisect
import contextlib
import random
import threading
import time
from collections import deque

from chalicelib.domain.errors import Conflict
from chalicelib.domain.quota import shard_capacities
from chalicelib.store.gate import GATE, Gate
from chalicelib.store.table import ConditionFailed, Table
from chalicelib.store.types import Item, Overflow, PlaceCounts

# Places taken at once while a shard is far from full, kept in the container for the next newcomers
# (a repeated person then costs one write: the place stays for the next one). Within END_MARGIN of
# a shard's capacity places are taken one at a time. A place counted more than POOL_TTL_SECONDS ago
# (kept back after a repeat or not) is dropped, never used: reconciliation hands such a leak on only
# after seeing it unchanged for LEAK_CONFIRM_SECONDS (180), so a place is never both given on and used.
BULK = 16
POOL_LOW = 8
END_MARGIN = 64
POOL_TTL_SECONDS = 60.0
# After the gate said "full", refusals for this long cost no gate write (a parked place or a freed
# reserve place reaches newcomers after at most this long).
FULL_CACHE_SECONDS = 2.0
# Within this many places of the reserve's end one thread of a container at a time writes the gate
# (near a shard's end, see END_MARGIN, the shard): only a multi-threaded host (``make run``) ever waits.
SINGLE_FILE = 64
# Joining the reserve: the write that creates the gate when it is not there yet gives it the shape
# ``Gate.ensure`` would (no place parked, no exit taken off).
_JOIN_RESERVE = "SET parked = if_not_exists(parked, :zero), xb = if_not_exists(xb, :none) ADD ra :one, seq :one"
_RESERVE_OPEN = "(attribute_not_exists(parked) OR parked = :zero) AND (attribute_not_exists(ra) OR ra < :cap)"


class QuotaStore:
    def __init__(self, table: Table, gate: Gate, primary_capacity: int, reserve_capacity: int, shards: int) -> None:
        self._t = table
        self._gate = gate
        self._caps = shard_capacities(primary_capacity, shards)
        self._reserve_capacity = reserve_capacity
        self._full: set[int] = {i for i, cap in enumerate(self._caps) if cap == 0}
        # Shards where taking BULK places would come within END_MARGIN of full.
        self._near_end: set[int] = {i for i, cap in enumerate(self._caps) if cap < BULK + END_MARGIN}
        self._pool: deque[float] = deque()
        # When the place this thread took last was counted: kept back in hand, it keeps that age.
        self._taken_at = threading.local()
        self._lock = threading.Lock()
        # One thread at a time writes a shard near its end, or the gate near the reserve's end.
        self._shard_locks = [threading.Lock() for _ in self._caps]
        self._overflow_lock = threading.Lock()
        self._reserve_seen = 0  # the highest active reserve this container has seen

    # -- primary ---------------------------------------------------------------------------------

    def take_primary(self, in_hand_only: bool = False) -> bool:
        """One primary place: one in hand, else (unless ``in_hand_only``: no request at all) one
        from any shard with room; False when every shard is full.

        A shard is known full from the write that took its last place (it answers ``used``), so
        the container never spends a write on it again; near its end one thread at a time writes to
        a shard, so threads queued behind the one taking its last place learn it without a write
        either. Only a shard another container filled costs one refused write to learn."""
        if self._from_pool():
            return True
        if in_hand_only:
            return False
        order = [i for i in range(len(self._caps)) if i not in self._full]
        random.shuffle(order)
        for shard in order:
            with self._shard_locks[shard] if shard in self._near_end else contextlib.nullcontext():
                if shard in self._full:
                    continue
                try:
                    attrs = self._t.update(
                        (f"quota#{shard}",),
                        "ADD used :one",
                        "attribute_not_exists(used) OR used < :cap",
                        {":one": 1, ":cap": self._caps[shard]},
                        returns="UPDATED_NEW",
                    )
                except Conflict:
                    self._full.add(shard)
                    self._near_end.add(shard)
                    continue
                if int(attrs.get("used", 0)) >= self._caps[shard]:
                    self._full.add(shard)
                    self._near_end.add(shard)
            self._taken_at.t = time.monotonic()
            return True
        return False

    def keep(self) -> None:
        """A place taken but not used (the person was registered already): the next newcomer's,
        as old as when it was counted (kept again and again, it still goes stale: see POOL_TTL_SECONDS)."""
        with self._lock:
            bisect.insort(self._pool, getattr(self._taken_at, "t", 0.0))

    def refill(self) -> None:
        """Keep a few places in hand while far from full: BULK at once from one shard (one write)."""
        with self._lock:
            if len(self._pool) >= POOL_LOW:
                return
        order = [i for i in range(len(self._caps)) if i not in self._near_end]
        if not order:
            return
        shard = random.choice(order)  # noqa: S311 - spreads writes, not a secret  # nosec B311
        limit = self._caps[shard] - BULK - END_MARGIN
        try:
            attrs = self._t.update(
                (f"quota#{shard}",),
                "ADD used :bulk",
                "attribute_not_exists(used) OR used <= :limit",
                {":bulk": BULK, ":limit": limit},
                returns="UPDATED_NEW",
            )
        except Conflict:
            self._near_end.add(shard)
            return
        if int(attrs.get("used", 0)) > limit:
            self._near_end.add(shard)  # the next bulk would not fit: known without a refused write
        now = time.monotonic()
        with self._lock:
            self._pool.extend([now] * BULK)

    def _from_pool(self) -> bool:
        stale = time.monotonic() - POOL_TTL_SECONDS
        with self._lock:
            while self._pool and self._pool[0] < stale:
                self._pool.popleft()  # held too long: left to reconciliation, never used
            if self._pool:
                # the oldest first: a place in hand is used long before it goes stale
                self._taken_at.t = self._pool.popleft()
                return True
        return False

    def known_full(self) -> bool:
        """The gate said "full" moments ago: a refusal need not ask it again."""
        return time.monotonic() < self._gate.full_until

    def gate_due(self) -> bool:
        """Every shard is seen full and the gate's last "full" is getting old: worth reading the gate
        with the person's item (``GlanceStore``), so that a refusal makes no write of its own."""
        return len(self._full) == len(self._caps) and not self.known_full()

    def see_gate(self, gate: Item) -> None:
        """The gate as just read: when it is full (no parked place, the reserve at capacity), refusals
        need not ask it again for ``FULL_CACHE_SECONDS``."""
        self._reserve_seen = max(self._reserve_seen, int(gate.get("ra", 0)))
        if int(gate.get("parked", 0)) <= 0 and int(gate.get("ra", 0)) >= self._reserve_capacity:
            self._gate.full_until = time.monotonic() + FULL_CACHE_SECONDS

    def raise_primary(self, places: int) -> None:
        """Count ``places`` more primary places as taken (a counter found too low). Always safe:
        it can only keep places from being given out, never give one twice."""
        self._t.update(("quota#0",), "ADD used :n", None, {":n": places})

    # -- the gate: overflow, parked places -------------------------------------------------------

    def take_overflow(self, counts: dict[str, int] | None = None) -> Overflow | None:
        """Once the shards are full: a primary place given back earlier, else a reserve ticket.

        One write in the common case: joining the reserve requires ``parked = 0``, and when that
        fails the old item says whether a parked place is there to take instead. None when full.
        ``counts`` (the registration's statistics) are added in the same write as a ticket; the
        ticket's rank is the active reserve after it (every earlier exit was of a lower ticket).
        The write creates the gate if it is not there yet (no put first). The ticket that fills the
        reserve tells the container so, and within ``SINGLE_FILE`` of the reserve's end one thread at
        a time writes here: the threads queued behind the last ticket are refused without a write of
        their own (further from the end, they all go at once).
        Raises Conflict if the gate kept changing, Overloaded.
        """
        near_end = self._reserve_seen >= self._reserve_capacity - SINGLE_FILE
        with self._overflow_lock if near_end else contextlib.nullcontext():
            return self._overflow(counts or {})

    def _overflow(self, counts: dict[str, int]) -> Overflow | None:
        names = {f"#k{i}": k for i, k in enumerate(counts)}
        adds = "".join(f", #k{i} :v{i}" for i in range(len(counts)))
        for _ in range(10):
            if self.known_full():
                return None
            if self._reserve_capacity > 0:
                try:
                    attrs = self._gate.update(
                        _JOIN_RESERVE + adds,
                        _RESERVE_OPEN,
                        {":one": 1, ":zero": 0, ":cap": self._reserve_capacity, ":none": {}}
                        | {f":v{i}": v for i, v in enumerate(counts.values())},
                        names=names or None,
                        returns="UPDATED_NEW",
                        create=False,
                    )
                    rank = int(attrs["ra"])
                    self._reserve_seen = max(self._reserve_seen, rank)
                    if rank >= self._reserve_capacity:
                        self._gate.full_until = time.monotonic() + FULL_CACHE_SECONDS
                    return Overflow(ticket=int(attrs["seq"]), rank=rank)
                except ConditionFailed as failed:
                    if int(failed.old.get("parked", 0)) <= 0:
                        self._gate.full_until = time.monotonic() + FULL_CACHE_SECONDS
                        return None
            try:
                self._gate.update("ADD parked :minus", "parked > :zero", {":minus": -1, ":zero": 0}, create=False)
                self._taken_at.t = time.monotonic()
                return Overflow(ticket=None)
            except Conflict as failed:
                nothing_parked = isinstance(failed, ConditionFailed) and int(failed.old.get("parked", 0)) <= 0
                if self._reserve_capacity <= 0 and nothing_parked:
                    return None  # no reserve, and no place parked
                continue  # another newcomer took it: look again
        raise Conflict("gate kept changing")

    def park(self) -> bool:
        """Give a freed primary place back to newcomers, only if nobody waits on the reserve; False
        when someone does (the place must go to them instead).

        Not idempotent by itself: the caller makes sure one place is parked once (the vacancy hands its
        place to newcomers with a compare-and-set first, ``RegistrationStore.hand_to_newcomers``), so
        the gate keeps no mark per vacancy.
        """
        try:
            self._gate.update("ADD parked :one", "ra = :zero", {":one": 1, ":zero": 0})
        except Conflict:
            return False
        self._gate.full_until = 0.0
        return True

    def return_leaked(self, places: int) -> bool:
        """Give back places found taken by nobody, only if nobody waits on the reserve."""
        try:
            self._gate.update("ADD parked :n", "ra = :zero", {":n": places, ":zero": 0})
            self._gate.full_until = 0.0
            return True
        except Conflict:
            return False

    def counts(self) -> PlaceCounts:
        """Places taken, parked and on the reserve, read in one BatchGetItem."""
        keys = [(f"quota#{i}",) for i in range(len(self._caps))] + [(GATE,)]
        items = {str(i["pk"]): i for i in self._t.batch_get(keys, "pk, used, ra, seq, parked")}
        gate = items.get(GATE, {})
        taken = sum(int(items.get(f"quota#{i}", {}).get("used", 0)) for i in range(len(self._caps)))
        with self._lock:
            in_hand = len(self._pool)
        return PlaceCounts(taken, int(gate.get("parked", 0)), int(gate.get("ra", 0)), int(gate.get("seq", 0)), in_hand)
