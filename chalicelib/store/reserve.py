"""The reserve: tickets in order, who holds each, and who left.

``ticket#<t>``  which registration holds reserve ticket t (tickets are the reserve order).
``rexit#<b>``   ``t`` the set of tickets in block b (``TICKET_BLOCK`` tickets each) that left the
                reserve, ``n`` its size: rank(t) = t - exits before t, read in one BatchGetItem.
The active count and the last ticket issued are on the gate (``store.gate``).
"""

from __future__ import annotations

import contextlib
import time

from chalicelib.domain.errors import Conflict
from chalicelib.store.gate import Gate
from chalicelib.store.table import Table
from chalicelib.store.types import Ticket

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
        """``leaver`` (a registration, or an abandoned ticket) left the reserve. Idempotent."""
        # Counted once per ticket, whoever reports it: a registration's code can change (a counter
        # reclaim) between a promotion's exit and its retry, and an exit counted under both codes
        # would free a reserve place nobody gave back.
        del leaver
        event_id = f"exit#ticket-{ticket}"
        block = (ticket - 1) // TICKET_BLOCK
        with contextlib.suppress(Conflict):
            self._t.update(
                (f"rexit#{block}",),
                "ADD t :ts, n :one",
                "NOT contains(t, :t)",
                {":ts": {ticket}, ":one": 1, ":t": ticket},
            )
        with contextlib.suppress(Conflict):
            self._gate.update(
                "ADD ra :minus SET applied.#e = :now",
                "attribute_not_exists(applied.#e)",
                {":minus": -1, ":now": int(time.time())},
                names={"#e": event_id},
            )
        self._gate.full_until = 0.0  # a reserve place is free again: newcomers may ask for it

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
        seq = int(self._gate.read("seq").get("seq", 0))
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
        items = self._t.batch_get([(f"rexit#{b}",) for b in range(last_block + 1)], "pk, t")
        return {int(str(i["pk"]).split("#")[1]): {int(x) for x in i.get("t", set())} for i in items}
