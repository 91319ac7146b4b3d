"""Reconciliation's ledger: its runs and their segments, the sightings a repair waits for, and the
places left as last seen on each day.

``recon#<run>``        a run: status, segments done (``done_segments``, ``done_count``), each
                       segment's tally (``t_<key>``), findings.
``recon#leak``         the last leak seen (with the counters it was seen with, and when).
``recon#<kind>``       the last drift of ``kind`` seen (its fingerprint).
``places#<day>``       ``places_left``: the places left as last seen on that day.
"""

from __future__ import annotations

import time
from typing import Any

from chalicelib.domain.errors import Conflict
from chalicelib.store.table import Table


class LedgerStore:
    def __init__(self, table: Table) -> None:
        self._t = table

    def start_run(self, run_id: str, record: dict[str, Any]) -> None:
        """Record a new run. Raises Conflict if the ID was used already."""
        self._t.put({"pk": f"recon#{run_id}", **record})

    def add_segment(self, run_id: str, segment: int, tally: dict[str, int]) -> int | None:
        """Add one finished segment's tally, once. Returns how many segments are done, or None if
        this segment had been added already (a duplicate delivery)."""
        names = {f"#t{i}": f"t_{k}" for i, k in enumerate(tally)}
        values: dict[str, Any] = {f":v{i}": v for i, v in enumerate(tally.values())}
        adds = "".join(f", #t{i} :v{i}" for i in range(len(tally)))
        values |= {":seg": {segment}, ":s": segment, ":one": 1}
        try:
            attrs = self._t.update(
                (f"recon#{run_id}",),
                f"ADD done_segments :seg, done_count :one{adds}",
                "attribute_exists(pk) AND NOT contains(done_segments, :s)",
                values,
                names=names or None,
                returns="UPDATED_NEW",
            )
        except Conflict:
            return None
        return int(attrs["done_count"])

    def run(self, run_id: str) -> dict[str, Any]:
        """The run as recorded ({} if there is none)."""
        return self._t.get(f"recon#{run_id}")

    def claim_finish(self, run_id: str, segments: int) -> bool:
        """The one delivery that settles a run once every segment is in (compare-and-set)."""
        try:
            self._t.update(
                (f"recon#{run_id}",),
                "SET #st = :settling",
                "#st = :running AND done_count >= :n",
                {":settling": "settling", ":running": "running", ":n": segments},
                names={"#st": "status"},
            )
            return True
        except Conflict:
            return False

    def finish_run(self, run_id: str, findings: dict[str, Any]) -> None:
        self._t.update(
            (f"recon#{run_id}",),
            "SET findings = :f, #st = :done",
            None,
            {":f": findings, ":done": "done"},
            names={"#st": "status"},
        )

    def confirm_leak(self, leak: int, taken: int, parked: int, after_seconds: int) -> bool:
        """True if an earlier run saw at least this leak with the same counters ``after_seconds``
        ago or more; otherwise remember this sighting for the next run."""
        now = int(time.time())
        seen = self._t.get("recon#leak")
        if (
            seen
            and int(seen.get("taken", -1)) == taken
            and int(seen.get("parked", -1)) == parked
            and int(seen.get("leak", 0)) >= leak
            and now - int(seen.get("at", now)) >= after_seconds
        ):
            self._t.delete("recon#leak")
            return True
        if not seen or int(seen.get("taken", -1)) != taken or int(seen.get("parked", -1)) != parked:
            self._t.overwrite({"pk": "recon#leak", "leak": leak, "taken": taken, "parked": parked, "at": now})
        return False

    def confirm_sighting(self, kind: str, fingerprint: str) -> bool:
        """True if the previous run saw exactly this ``fingerprint`` of ``kind`` (and forget it);
        otherwise remember this one for the next run. A drift that is only a write in flight is
        gone, or changed, by the next run; a real one is seen again unchanged."""
        pk = f"recon#{kind}"
        if self._t.get(pk).get("fingerprint") == fingerprint:
            self._t.delete(pk)
            return True
        self._t.overwrite({"pk": pk, "fingerprint": fingerprint})
        return False

    def put_places_snapshot(self, day: str, snapshot: dict[str, Any]) -> None:
        self._t.update((f"places#{day}",), "SET places_left = :s", None, {":s": snapshot})

    def places_snapshot(self, day: str) -> dict[str, Any] | None:
        snap = self._t.get(f"places#{day}").get("places_left")
        return dict(snap) if snap else None
