"""The reserve: tickets in order, who holds each, and who left.

``ticket#<t>``  which registration holds reserve ticket t (tickets are the reserve order).
``rexit#<b>``   ``t`` the set of tickets in block b (``TICKET_BLOCK`` tickets each) that left the
                reserve, ``n`` its size. A ticket is added once: that makes an exit count once.
The active count, the last ticket issued and, per block, how many of its exits the active count has
taken off (``xb``) are on the gate (``store.gate``).

An exit is two writes: the ticket into its block's set, then the gate brought up to the block's
``n`` (``ra`` down by what it lacked, ``xb[b]`` set to ``n``, on the condition that ``xb[b]`` is what
was seen). Whichever exit of a block writes the gate takes off every exit recorded in it so far, so a
run that died between the two writes is made good by the block's next exit, its own retry, or
reconciliation (``apply_exits``), and nothing is taken off twice. The gate keeps one number per
block, never a mark per exit.

rank(t) = t - the exits before t: the gate's ``xb`` for the blocks before t's, t's own block's set
for the rest, read in one BatchGetItem of two items however many tickets were issued.
"""

from __future__ import annotations

from chalicelib.domain.errors import Conflict
from chalicelib.store.gate import GATE, Gate
from chalicelib.store.table import ConditionFailed, Table
from chalicelib.store.types import Item, Ticket

TICKET_BLOCK = 256


class ReserveStore:
    def __init__(self, table: Table, gate: Gate) -> None:
        self._t = table
        self._gate = gate

    def put_ticket(self, ticket: int, registration_id: str, now: float) -> None:
        """Record the holder of a ticket. Raises Conflict if the ticket was voided as abandoned."""
        self._t.update(
            (f"ticket#{ticket}",),
            "SET registration_id = :rid, issued_at = :now",
            "attribute_not_exists(abandoned)",
            {":rid": registration_id, ":now": round(now, 3)},
        )

    def ticket(self, ticket: int) -> Ticket:
        item = self._t.get(f"ticket#{ticket}")
        return Ticket(ticket, item.get("registration_id"), item.get("issued_at"), bool(item.get("abandoned")))

    def watch_ticket(self, ticket: int, now: float) -> float:
        """First time a job saw this ticket without a usable holder (kept across retries).
        Raises Conflict if it was voided."""
        attrs = self._t.update(
            (f"ticket#{ticket}",),
            "SET seen_empty_at = if_not_exists(seen_empty_at, :now)",
            "attribute_not_exists(abandoned)",
            {":now": round(now, 3)},
            returns="ALL_NEW",
        )
        return float(attrs["seen_empty_at"])

    def void_ticket(self, ticket: int, holder: str | None) -> None:
        """Mark an abandoned ticket void so that it no longer blocks the reserve order.
        Raises Conflict if its holder is not ``holder`` (None: if it has one)."""
        if holder is None:
            self._t.update(
                (f"ticket#{ticket}",), "SET abandoned = :t", "attribute_not_exists(registration_id)", {":t": True}
            )
        else:
            self._t.update(
                (f"ticket#{ticket}",), "SET abandoned = :t", "registration_id = :rid", {":t": True, ":rid": holder}
            )

    def reserve_exit(self, leaver: str, ticket: int) -> None:
        """``leaver`` (a registration, or an abandoned ticket) left the reserve. Idempotent.
        Raises Conflict if the gate kept changing, Overloaded."""
        # Counted once per ticket, whoever reports it: a registration's code can change (a counter
        # reclaim) between a promotion's exit and its retry, and an exit counted under both codes
        # would free a reserve place nobody gave back.
        del leaver
        block = (ticket - 1) // TICKET_BLOCK
        try:
            attrs = self._t.update(
                (f"rexit#{block}",),
                "ADD t :ts, n :one",
                "NOT contains(t, :t)",
                {":ts": {ticket}, ":one": 1, ":t": ticket},
                returns="UPDATED_NEW",
            )
            exits = int(attrs["n"])
        except ConditionFailed as failed:
            exits = int(failed.old.get("n", 0))  # recorded before: the gate may still lack it
        self._take_off(block, exits, exits - 1)
        self._gate.full_until = 0.0  # a reserve place is free again: newcomers may ask for it

    def apply_exits(self) -> int:
        """Take off the active reserve every recorded exit the gate still lacks (a run that died
        between an exit's two writes, in a block no exit followed). Returns how many (reconciliation).
        Raises Conflict, Overloaded."""
        gate = self._gate.read("seq, xb")
        seq = int(gate.get("seq", 0))
        if seq == 0:
            return 0
        taken_off = dict(gate.get("xb", {}))
        blocks = self._t.batch_get([(f"rexit#{b}",) for b in range((seq - 1) // TICKET_BLOCK + 1)], "pk, n")
        applied = 0
        for item in blocks:
            block = int(str(item["pk"]).split("#")[1])
            applied += self._take_off(block, int(item.get("n", 0)), int(taken_off.get(str(block), 0)))
        return applied

    def _take_off(self, block: int, exits: int, seen: int) -> int:
        """Bring the gate's count of ``block``'s exits up to ``exits`` (``seen``: what it is thought to
        hold), the active reserve down by the difference. Returns how many this call took off."""
        for _ in range(20):
            if seen >= exits:
                return 0
            try:
                self._gate.update(
                    "SET xb.#b = :exits ADD ra :minus",
                    "xb.#b = :seen" if seen else "attribute_not_exists(xb.#b)",
                    {":exits": exits, ":minus": seen - exits} | ({":seen": seen} if seen else {}),
                    names={"#b": str(block)},
                )
                return exits - seen
            except ConditionFailed as failed:
                seen = int(failed.old.get("xb", {}).get(str(block), 0))  # another exit wrote it first
        raise Conflict("gate kept changing")

    def rank(self, ticket: int) -> int:
        """1 + the number of tickets before ``ticket`` still on the reserve."""
        return self.ranks([ticket])[ticket]

    def ranks(self, tickets: list[int]) -> dict[int, int]:
        """The ranks of many tickets from one read: the gate's exits per block, and the exit sets of
        the tickets' own blocks. An exit recorded but not yet taken off the gate (its second write
        still under way) counts as not yet made, as for the active reserve."""
        if not tickets:
            return {}
        own = sorted({(t - 1) // TICKET_BLOCK for t in tickets})
        items = self._t.batch_get([(GATE,)] + [(f"rexit#{b}",) for b in own], "pk, t, xb")
        gate = next((i for i in items if i["pk"] == GATE), {})
        taken_off = {int(b): int(n) for b, n in gate.get("xb", {}).items()}
        sets = {int(str(i["pk"]).split("#")[1]): {int(x) for x in i.get("t", set())} for i in items if i["pk"] != GATE}
        out = {}
        for ticket in tickets:
            block = (ticket - 1) // TICKET_BLOCK
            before = sum(n for b, n in taken_off.items() if b < block)
            before += sum(1 for t in sets.get(block, set()) if t < ticket)
            out[ticket] = ticket - before
        return out

    def waiting_tickets(self, limit: int) -> list[int]:
        """The lowest tickets that have not left the reserve, in order (at most ``limit``). Blocks
        the gate counts as left entirely are not read."""
        gate = self._gate.read("seq, xb")
        seq = int(gate.get("seq", 0))
        if seq == 0:
            return []
        done = {int(b) for b, n in gate.get("xb", {}).items() if int(n) >= TICKET_BLOCK}
        open_blocks = [b for b in range((seq - 1) // TICKET_BLOCK + 1) if b not in done]
        exits = self._exit_blocks(open_blocks)
        found: list[int] = []
        for block in open_blocks:
            gone = exits.get(block, set())
            for t in range(block * TICKET_BLOCK + 1, min(seq, (block + 1) * TICKET_BLOCK) + 1):
                if t not in gone:
                    found.append(t)
                    if len(found) == limit:
                        return found
        return found

    def _exit_blocks(self, blocks: list[int]) -> dict[int, set[int]]:
        items: list[Item] = self._t.batch_get([(f"rexit#{b}",) for b in blocks], "pk, t")
        return {int(str(i["pk"]).split("#")[1]): {int(x) for x in i.get("t", set())} for i in items}
