"""Registration counts by channel, status, removal state and day.

``stats#<i>``  the counters, spread over ``STATS_SHARDS`` items (summed on read: the admin summary
               never scans). A reserve entry adds its counts in the gate's write (``store.gate``).
"""

from __future__ import annotations

import random

from chalicelib.store.gate import GATE
from chalicelib.store.table import Table

STATS_SHARDS = 8
STAT_PREFIXES = ("channel_", "status_", "removal_", "d")


class StatisticsStore:
    def __init__(self, table: Table) -> None:
        self._t = table

    def count(self, deltas: dict[str, int]) -> None:
        """Add to the registration counters (e.g. ``{"channel_app": 1, "status_confirmed": 1}``)."""
        names = {f"#k{i}": k for i, k in enumerate(deltas)}
        values = {f":v{i}": v for i, v in enumerate(deltas.values())}
        update = "ADD " + ", ".join(f"#k{i} :v{i}" for i in range(len(deltas)))
        shard = random.randrange(STATS_SHARDS)  # noqa: S311 - spreads writes, not a secret  # nosec B311
        self._t.update((f"stats#{shard}",), update, None, values, names=names)

    def stats(self) -> dict[str, int]:
        """The registration counters: the statistics shards plus what reserve entries added on the gate."""
        items = self._t.batch_get([(f"stats#{i}",) for i in range(STATS_SHARDS)] + [(GATE,)])
        totals: dict[str, int] = {}
        for item in items:
            pk = item["pk"]
            for key, val in item.items():
                if key != "pk" and (pk != GATE or key.startswith(STAT_PREFIXES)):
                    totals[key] = totals.get(key, 0) + int(val)
        return totals

    def adjust_stat(self, key: str, delta: int) -> None:
        """Correct one counter by ``delta`` (an ADD: events counted meanwhile are kept)."""
        self._t.update(("stats#0",), "ADD #k :d", None, {":d": delta}, names={"#k": key})
