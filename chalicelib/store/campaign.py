"""Places: the sharded primary quota, the overflow gate, reserve tickets and their exits.

Items of the campaign table (partition key ``pk``):

``quota#<i>``   ``used``: primary places taken from shard i. Only ever grows, so a shard seen full
                stays full and each container remembers it (no write wasted on it again).
``gate``        ``ra`` active reserve, ``seq`` last reserve ticket issued, ``parked`` primary places
                given back while nobody waited on the reserve, ``applied`` a map event-id -> time
                that makes each release/exit count once however often its job runs.
                Invariant: ``parked > 0`` only while ``ra == 0`` (so a freed place never goes to
                a newcomer while someone waits on the reserve).
``ticket#<t>``  which registration holds reserve ticket t (tickets are the reserve order).
``rexit#<b>``   ``t`` the set of tickets in block b (``TICKET_BLOCK`` tickets each) that left the
                reserve, ``n`` its size: rank(t) = t - exits before t, read in one BatchGetItem.
``channels``    which registration channels are open.
``stats#<i>``   registration counts by channel and status, spread over ``STATS_SHARDS`` items
                (summed on read: the admin summary never scans).
``slot#<day>#<site>``  ``used`` appointments booked on that day at that site (dose 1 and later
                doses together, never above the site's capacity), ``came`` and ``missed`` the
                sets of ``<registration>:<dose>`` checked in, or found missing when the day closed.
"""

from __future__ import annotations

import bisect
import contextlib
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.errors import Conflict
from chalicelib.domain.quota import shard_capacities
from chalicelib.store.codec import decode, is_condition_failure, translated_errors, value

TICKET_BLOCK = 256
STATS_SHARDS = 8
GATE = "gate"
CHANNELS = "channels"
REMOVALS = "removals"
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
STAT_PREFIXES = ("channel_", "status_", "removal_", "d")


@dataclass(frozen=True)
class PlaceCounts:
    primary_taken: int
    parked: int
    reserve_active: int
    reserve_seq: int
    # Places this container took ahead and has not given to anyone yet (other containers' are
    # counted as taken until they are used, or dropped and handed on by reconciliation).
    in_hand: int = 0

    @property
    def primary_used(self) -> int:
        return self.primary_taken - self.parked - self.in_hand


@dataclass(frozen=True)
class Overflow:
    """A place found after the primary shards: a reserve ticket (and its rank), or None for a
    parked primary place."""

    ticket: int | None
    rank: int | None = None


class _ConditionFailed(Conflict):
    def __init__(self, pk: str, old: dict[str, Any]) -> None:
        super().__init__(pk)
        self.old = old


@dataclass(frozen=True)
class SlotDay:
    used: int
    came: frozenset[str]
    missed: frozenset[str]


@dataclass(frozen=True)
class Ticket:
    number: int
    registration_id: str | None
    issued_at: float | None
    void: bool


class CampaignStore:
    def __init__(self, client: Any, table: str, primary_capacity: int, reserve_capacity: int, shards: int) -> None:
        self._db = client
        self._table = table
        self._caps = shard_capacities(primary_capacity, shards)
        self._reserve_capacity = reserve_capacity
        self._full: set[int] = {i for i, cap in enumerate(self._caps) if cap == 0}
        # Shards where taking BULK places would come within END_MARGIN of full.
        self._near_end: set[int] = {i for i, cap in enumerate(self._caps) if cap < BULK + END_MARGIN}
        self._pool: deque[float] = deque()
        # When the place this thread took last was counted: kept back in hand, it keeps that age.
        self._taken_at = threading.local()
        self._lock = threading.Lock()
        self._full_until = 0.0
        self._gate_ready = False

    # -- primary ---------------------------------------------------------------------------------

    def take_primary(self, in_hand_only: bool = False) -> bool:
        """One primary place: one in hand, else (unless ``in_hand_only``: no request at all) one
        from any shard with room; False when every shard is full."""
        if self._from_pool():
            return True
        if in_hand_only:
            return False
        order = [i for i in range(len(self._caps)) if i not in self._full]
        random.shuffle(order)
        for shard in order:
            try:
                self._update(
                    f"quota#{shard}",
                    "ADD used :one",
                    "attribute_not_exists(used) OR used < :cap",
                    {":one": 1, ":cap": self._caps[shard]},
                )
                self._taken_at.t = time.monotonic()
                return True
            except Conflict:
                self._full.add(shard)
                self._near_end.add(shard)
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
        try:
            self._update(
                f"quota#{shard}",
                "ADD used :bulk",
                "attribute_not_exists(used) OR used <= :limit",
                {":bulk": BULK, ":limit": self._caps[shard] - BULK - END_MARGIN},
            )
        except Conflict:
            self._near_end.add(shard)
            return
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
        return time.monotonic() < self._full_until

    # -- gate ------------------------------------------------------------------------------------

    def take_overflow(self, counts: dict[str, int] | None = None) -> Overflow | None:
        """Once the shards are full: a primary place given back earlier, else a reserve ticket.

        One write in the common case: joining the reserve requires ``parked = 0``, and when that
        fails the old item says whether a parked place is there to take instead. None when full.
        ``counts`` (the registration's statistics) are added in the same write as a ticket; the
        ticket's rank is the active reserve after it (every earlier exit was of a lower ticket).
        """
        self._ensure_gate()
        counts = counts or {}
        names = {f"#k{i}": k for i, k in enumerate(counts)}
        adds = "".join(f", #k{i} :v{i}" for i in range(len(counts)))
        for _ in range(10):
            try:
                attrs = self._update(
                    GATE,
                    "ADD ra :one, seq :one" + adds,
                    "parked = :zero AND ra < :cap",
                    {":one": 1, ":zero": 0, ":cap": self._reserve_capacity}
                    | {f":v{i}": v for i, v in enumerate(counts.values())},
                    names=names or None,
                    returns="UPDATED_NEW",
                )
                return Overflow(ticket=int(attrs["seq"]), rank=int(attrs["ra"]))
            except _ConditionFailed as failed:
                if int(failed.old.get("parked", 0)) <= 0:
                    self._full_until = time.monotonic() + FULL_CACHE_SECONDS
                    return None
            try:
                self._update(GATE, "ADD parked :minus", "parked > :zero", {":minus": -1, ":zero": 0})
                self._taken_at.t = time.monotonic()
                return Overflow(ticket=None)
            except Conflict:
                continue  # another newcomer took it: look again
        raise Conflict("gate kept changing")

    def park(self, vacancy_id: str) -> bool:
        """Give a freed primary place back to newcomers, once per vacancy, only if nobody waits.

        Returns False when someone is on the reserve (the place must go to them instead).
        """
        self._ensure_gate()
        event_id = f"park#{vacancy_id}"
        try:
            self._update(
                GATE,
                "ADD parked :one SET applied.#e = :now",
                "ra = :zero AND attribute_not_exists(applied.#e)",
                {":one": 1, ":zero": 0, ":now": int(time.time())},
                names={"#e": event_id},
            )
            self._full_until = 0.0
            return True
        except Conflict:
            return self._applied(event_id)

    def reserve_exit(self, leaver: str, ticket: int) -> None:
        """``leaver`` (a registration, or an abandoned ticket) left the reserve. Idempotent."""
        self._ensure_gate()
        event_id = f"exit#{leaver}"
        block = (ticket - 1) // TICKET_BLOCK
        with contextlib.suppress(Conflict):
            self._update(
                f"rexit#{block}",
                "ADD t :ts, n :one",
                "NOT contains(t, :t)",
                {":ts": {ticket}, ":one": 1, ":t": ticket},
            )
        with contextlib.suppress(Conflict):
            self._update(
                GATE,
                "ADD ra :minus SET applied.#e = :now",
                "attribute_not_exists(applied.#e)",
                {":minus": -1, ":now": int(time.time())},
                names={"#e": event_id},
            )

    def _applied(self, event_id: str) -> bool:
        item = self._get(GATE, projection="applied.#e", names={"#e": event_id})
        return event_id in item.get("applied", {})

    def forget_applied(self, older_than: int) -> int:
        """Prune idempotency marks of events settled long ago; returns how many were removed."""
        item = self._get(GATE, projection="applied")
        removed = 0
        for event_id, at in item.get("applied", {}).items():
            if at < older_than:
                try:
                    self._update(GATE, "REMOVE applied.#e", "applied.#e = :at", {":at": at}, names={"#e": event_id})
                    removed += 1
                except Conflict:
                    pass
        return removed

    def _ensure_gate(self) -> None:
        if self._gate_ready:
            return
        with translated_errors():
            try:
                self._db.put_item(
                    TableName=self._table,
                    Item={
                        "pk": value(GATE),
                        "ra": value(0),
                        "seq": value(0),
                        "parked": value(0),
                        "applied": {"M": {}},
                    },
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise
        self._gate_ready = True

    # -- reserve tickets -------------------------------------------------------------------------

    def put_ticket(self, ticket: int, registration_id: str, now: float) -> None:
        """Record the holder of a ticket. Raises Conflict if the ticket was voided as abandoned."""
        self._update(
            f"ticket#{ticket}",
            "SET registration_id = :rid, issued_at = :now",
            "attribute_not_exists(abandoned)",
            {":rid": registration_id, ":now": round(now, 3)},
        )

    def ticket(self, ticket: int) -> Ticket:
        item = self._get(f"ticket#{ticket}")
        return Ticket(ticket, item.get("registration_id"), item.get("issued_at"), bool(item.get("abandoned")))

    def watch_ticket(self, ticket: int, now: float) -> float:
        """First time a job saw this ticket without a usable holder (kept across retries)."""
        attrs = self._update(
            f"ticket#{ticket}",
            "SET seen_empty_at = if_not_exists(seen_empty_at, :now)",
            "attribute_not_exists(abandoned)",
            {":now": round(now, 3)},
            returns="ALL_NEW",
        )
        return float(attrs["seen_empty_at"])

    def void_ticket(self, ticket: int, holder: str | None) -> None:
        """Mark an abandoned ticket void so that it no longer blocks the reserve order."""
        if holder is None:
            self._update(
                f"ticket#{ticket}", "SET abandoned = :t", "attribute_not_exists(registration_id)", {":t": True}
            )
        else:
            self._update(
                f"ticket#{ticket}", "SET abandoned = :t", "registration_id = :rid", {":t": True, ":rid": holder}
            )

    def rank(self, ticket: int) -> int:
        """1 + the number of tickets before ``ticket`` still on the reserve."""
        return self.ranks([ticket])[ticket]

    def ranks(self, tickets: list[int]) -> dict[int, int]:
        """The ranks of many tickets from one read of the exit blocks."""
        if not tickets:
            return {}
        exits = self._exit_blocks((max(tickets) - 1) // TICKET_BLOCK)
        out = {}
        for ticket in tickets:
            block = (ticket - 1) // TICKET_BLOCK
            before = sum(len(s) for b, s in exits.items() if b < block)
            before += sum(1 for t in exits.get(block, set()) if t < ticket)
            out[ticket] = ticket - before
        return out

    def waiting_tickets(self, limit: int) -> list[int]:
        """The lowest tickets that have not left the reserve, in order (at most ``limit``)."""
        seq = self.counts().reserve_seq
        if seq == 0:
            return []
        exits = self._exit_blocks((seq - 1) // TICKET_BLOCK)
        found: list[int] = []
        for block in range((seq - 1) // TICKET_BLOCK + 1):
            gone = exits.get(block, set())
            if len(gone) == TICKET_BLOCK:
                continue
            for t in range(block * TICKET_BLOCK + 1, min(seq, (block + 1) * TICKET_BLOCK) + 1):
                if t not in gone:
                    found.append(t)
                    if len(found) == limit:
                        return found
        return found

    def _exit_blocks(self, last_block: int) -> dict[int, set[int]]:
        items = self._batch_get([f"rexit#{b}" for b in range(last_block + 1)], "pk, t")
        return {int(pk.split("#")[1]): {int(x) for x in item.get("t", set())} for pk, item in items.items()}

    # -- figures and channels --------------------------------------------------------------------

    def counts(self) -> PlaceCounts:
        """Places taken, parked and on the reserve, read in one BatchGetItem."""
        items = self._batch_get([f"quota#{i}" for i in range(len(self._caps))] + [GATE], "pk, used, ra, seq, parked")
        gate = items.get(GATE, {})
        taken = sum(int(items.get(f"quota#{i}", {}).get("used", 0)) for i in range(len(self._caps)))
        with self._lock:
            in_hand = len(self._pool)
        return PlaceCounts(taken, int(gate.get("parked", 0)), int(gate.get("ra", 0)), int(gate.get("seq", 0)), in_hand)

    def count(self, deltas: dict[str, int]) -> None:
        """Add to the registration counters (e.g. ``{"channel_app": 1, "status_confirmed": 1}``)."""
        names = {f"#k{i}": k for i, k in enumerate(deltas)}
        values = {f":v{i}": v for i, v in enumerate(deltas.values())}
        update = "ADD " + ", ".join(f"#k{i} :v{i}" for i in range(len(deltas)))
        shard = random.randrange(STATS_SHARDS)  # noqa: S311 - spreads writes, not a secret  # nosec B311
        self._update(f"stats#{shard}", update, None, values, names=names)

    def stats(self) -> dict[str, int]:
        """The registration counters: the statistics shards plus what reserve entries added on the gate."""
        items = self._batch_get([f"stats#{i}" for i in range(STATS_SHARDS)] + [GATE])
        totals: dict[str, int] = {}
        for pk, item in items.items():
            for key, val in item.items():
                if key != "pk" and (pk != GATE or key.startswith(STAT_PREFIXES)):
                    totals[key] = totals.get(key, 0) + int(val)
        return totals

    # -- appointment slots -------------------------------------------------------------------------

    def take_slot(self, day: str, site: int, capacity: int) -> bool:
        """One place at ``site`` on ``day`` if it has room (conditional: never overfilled)."""
        try:
            self._update(
                f"slot#{day}#{site}",
                "ADD used :one",
                "attribute_not_exists(used) OR used < :cap",
                {":one": 1, ":cap": capacity},
            )
            return True
        except Conflict:
            return False

    def free_slot(self, day: str, site: int, registration_id: str | None = None) -> None:
        """Give back one place on that day: once per ``registration_id`` however often it is asked
        (without one, the caller's own compare-and-set makes it once)."""
        names = {"#f": f"freed_{registration_id}"} if registration_id else None
        with contextlib.suppress(Conflict):  # given back already, or empty: nothing to give back
            self._update(
                f"slot#{day}#{site}",
                "ADD used :minus" + (" SET #f = :one" if names else ""),
                "used > :zero" + (" AND attribute_not_exists(#f)" if names else ""),
                {":minus": -1, ":zero": 0} | ({":one": 1} if names else {}),
                names=names,
            )

    # -- the removal sweep's lease and each registry's backoff ---------------------------------------

    def lease_removals(self, holder: str, now: float, seconds: float) -> dict[str, Any] | None:
        """Take (or renew) the removal sweep's lease: the control item, or None if another sweep
        holds it. The item also carries each registry's backoff (``down_<registry>``, ``fails_<registry>``)."""
        try:
            return self._update(
                REMOVALS,
                "SET holder = :h, until_at = :until",
                "attribute_not_exists(until_at) OR until_at < :now OR holder = :h",
                {":h": holder, ":until": round(now + seconds, 3), ":now": round(now, 3)},
                returns="ALL_NEW",
            )
        except Conflict:
            return None

    def removal_control(self) -> dict[str, Any]:
        """The removal sweep's control item (each registry's backoff), read without taking the lease."""
        return self._get(REMOVALS)

    def save_registry_health(self, health: dict[str, tuple[float, int]]) -> None:
        """Record each registry's backoff (a list sweep: no lease to give back)."""
        sets = ", ".join(f"down_{r} = :d_{r}, fails_{r} = :f_{r}" for r in health)
        values: dict[str, Any] = {}
        for r, (down, fails) in health.items():
            values |= {f":d_{r}": round(down, 3), f":f_{r}": fails}
        self._update(REMOVALS, "SET " + sets, None, values)

    def end_removals(self, holder: str, health: dict[str, tuple[float, int]], release: bool = True) -> None:
        """Record each registry's backoff (down until, failures in a row); give the lease back
        unless the sweep goes on (``release`` False)."""
        sets = ", ".join(f"down_{r} = :d_{r}, fails_{r} = :f_{r}" for r in health)
        values: dict[str, Any] = {":h": holder}
        for r, (down, fails) in health.items():
            values |= {f":d_{r}": round(down, 3), f":f_{r}": fails}
        update = ("SET " + sets if sets else "") + (" REMOVE holder, until_at" if release else "")
        with contextlib.suppress(Conflict):  # the lease ran out and another sweep took it
            self._update(REMOVALS, update.strip(), "holder = :h", values)

    def record_visit(self, day: str, site: int, outcome: str, member: str) -> None:
        """Add ``member`` (``<registration>:<dose>``) to the day's ``came`` or ``missed`` set.
        A set: recording it twice (a retry, a duplicate delivery) is recording it once."""
        if outcome not in ("came", "missed"):
            raise ValueError(outcome)
        self._update(f"slot#{day}#{site}", "ADD #o :m", None, {":m": {member}}, names={"#o": outcome})

    def slots(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], SlotDay]:
        """The slot items of these (day, site) pairs, read in BatchGetItems (absent: all empty)."""
        items = self._batch_get([f"slot#{day}#{site}" for day, site in keys], "pk, used, came, missed")
        out = {}
        for day, site in keys:
            item = items.get(f"slot#{day}#{site}", {})
            out[(day, site)] = SlotDay(
                int(item.get("used", 0)), frozenset(item.get("came", ())), frozenset(item.get("missed", ()))
            )
        return out

    def raise_slot(self, day: str, site: int, places: int) -> None:
        """Count ``places`` more bookings on a day (a counter found too low): it can only hold places
        back, never give one twice."""
        self._update(f"slot#{day}#{site}", "ADD used :n", None, {":n": places})

    # -- reconciliation ----------------------------------------------------------------------------

    def start_run(self, run_id: str, record: dict[str, Any]) -> None:
        with translated_errors():
            self._db.put_item(
                TableName=self._table,
                Item={"pk": value(f"recon#{run_id}"), **{k: value(v) for k, v in record.items()}},
                ConditionExpression="attribute_not_exists(pk)",
            )

    def add_segment(self, run_id: str, segment: int, tally: dict[str, int]) -> int | None:
        """Add one finished segment's tally, once. Returns how many segments are done, or None if
        this segment had been added already (a duplicate delivery)."""
        names = {f"#t{i}": f"t_{k}" for i, k in enumerate(tally)}
        values: dict[str, Any] = {f":v{i}": v for i, v in enumerate(tally.values())}
        adds = "".join(f", #t{i} :v{i}" for i in range(len(tally)))
        values |= {":seg": {segment}, ":s": segment, ":one": 1}
        try:
            attrs = self._update(
                f"recon#{run_id}",
                f"ADD done_segments :seg, done_count :one{adds}",
                "attribute_exists(pk) AND NOT contains(done_segments, :s)",
                values,
                names=names,
                returns="UPDATED_NEW",
            )
        except Conflict:
            return None
        return int(attrs["done_count"])

    def run(self, run_id: str) -> dict[str, Any]:
        return self._get(f"recon#{run_id}")

    def claim_finish(self, run_id: str, segments: int) -> bool:
        """The one delivery that settles a run once every segment is in (compare-and-set)."""
        try:
            self._update(
                f"recon#{run_id}",
                "SET #st = :settling",
                "#st = :running AND done_count >= :n",
                {":settling": "settling", ":running": "running", ":n": segments},
                names={"#st": "status"},
            )
            return True
        except Conflict:
            return False

    def finish_run(self, run_id: str, findings: dict[str, Any]) -> None:
        self._update(
            f"recon#{run_id}",
            "SET findings = :f, #st = :done",
            None,
            {":f": findings, ":done": "done"},
            names={"#st": "status"},
        )

    def raise_primary(self, places: int) -> None:
        """Count ``places`` more primary places as taken (a counter found too low). Always safe:
        it can only keep places from being given out, never give one twice."""
        self._update("quota#0", "ADD used :n", None, {":n": places})

    def confirm_leak(self, leak: int, taken: int, parked: int, after_seconds: int) -> bool:
        """True if an earlier run saw at least this leak with the same counters ``after_seconds``
        ago or more; otherwise remember this sighting for the next run."""
        now = int(time.time())
        seen = self._get("recon#leak")
        if (
            seen
            and int(seen.get("taken", -1)) == taken
            and int(seen.get("parked", -1)) == parked
            and int(seen.get("leak", 0)) >= leak
            and now - int(seen.get("at", now)) >= after_seconds
        ):
            with translated_errors():
                self._db.delete_item(TableName=self._table, Key={"pk": value("recon#leak")})
            return True
        if not seen or int(seen.get("taken", -1)) != taken or int(seen.get("parked", -1)) != parked:
            with translated_errors():
                self._db.put_item(
                    TableName=self._table,
                    Item={
                        k: value(v)
                        for k, v in {
                            "pk": "recon#leak",
                            "leak": leak,
                            "taken": taken,
                            "parked": parked,
                            "at": now,
                        }.items()
                    },
                )
        return False

    def confirm_sighting(self, kind: str, fingerprint: str) -> bool:
        """True if the previous run saw exactly this ``fingerprint`` of ``kind`` (and forget it);
        otherwise remember this one for the next run. A drift that is only a write in flight is
        gone, or changed, by the next run; a real one is seen again unchanged."""
        pk = f"recon#{kind}"
        if self._get(pk).get("fingerprint") == fingerprint:
            with translated_errors():
                self._db.delete_item(TableName=self._table, Key={"pk": value(pk)})
            return True
        with translated_errors():
            self._db.put_item(TableName=self._table, Item={"pk": value(pk), "fingerprint": value(fingerprint)})
        return False

    def return_leaked(self, places: int) -> bool:
        """Give back places found taken by nobody, only if nobody waits on the reserve."""
        self._ensure_gate()
        try:
            self._update(GATE, "ADD parked :n", "ra = :zero", {":n": places, ":zero": 0})
            self._full_until = 0.0
            return True
        except Conflict:
            return False

    def set_reserve_active(self, old: int, new: int) -> bool:
        try:
            self._update(GATE, "SET ra = :new", "ra = :old", {":new": new, ":old": old})
            return True
        except Conflict:
            return False

    def put_places_snapshot(self, day: str, snapshot: dict[str, Any]) -> None:
        self._update(f"places#{day}", "SET places_left = :s", None, {":s": snapshot})

    def places_snapshot(self, day: str) -> dict[str, Any] | None:
        snap = self._get(f"places#{day}").get("places_left")
        return dict(snap) if snap else None

    def adjust_stat(self, key: str, delta: int) -> None:
        """Correct one counter by ``delta`` (an ADD: events counted meanwhile are kept)."""
        self._update("stats#0", "ADD #k :d", None, {":d": delta}, names={"#k": key})

    def channels(self) -> dict[str, bool]:
        item = self._get(CHANNELS)
        return {name: bool(item.get(name, True)) for name in ("app", "counter", "org")}

    def set_channel(self, channel: str, is_open: bool) -> None:
        self._update(CHANNELS, "SET #c = :open", None, {":open": is_open}, names={"#c": channel})

    # -- plumbing --------------------------------------------------------------------------------

    def _batch_get(self, keys: list[str], projection: str | None = None) -> dict[str, dict[str, Any]]:
        """Strongly consistent BatchGetItem of any number of keys (100 a call, retrying the unprocessed)."""
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self._table: {"Keys": [{"pk": value(k)} for k in keys[start : start + 100]], "ConsistentRead": True}
            }
            if projection:
                request[self._table]["ProjectionExpression"] = projection
            while request:
                with translated_errors():
                    resp = self._db.batch_get_item(RequestItems=request)
                for raw in resp.get("Responses", {}).get(self._table, []):
                    item = decode(raw)
                    out[item["pk"]] = item
                request = resp.get("UnprocessedKeys") or {}
        return out

    def _get(self, pk: str, projection: str | None = None, names: dict[str, str] | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"TableName": self._table, "Key": {"pk": value(pk)}, "ConsistentRead": True}
        if projection:
            kwargs["ProjectionExpression"] = projection
        if names:
            kwargs["ExpressionAttributeNames"] = names
        with translated_errors():
            resp = self._db.get_item(**kwargs)
        return decode(resp.get("Item") or {})

    def _update(
        self,
        pk: str,
        update: str,
        condition: str | None,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
        returns: str = "NONE",
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": value(pk)},
            "UpdateExpression": update,
            "ExpressionAttributeValues": {k: value(v) for k, v in values.items()},
            "ReturnValues": returns,
        }
        if condition:
            kwargs["ConditionExpression"] = condition
            kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if names:
            kwargs["ExpressionAttributeNames"] = names
        with translated_errors():
            try:
                resp = self._db.update_item(**kwargs)
            except ClientError as exc:
                if is_condition_failure(exc):
                    raise _ConditionFailed(pk, decode(exc.response.get("Item") or {})) from None
                raise
        return decode(resp.get("Attributes") or {})
