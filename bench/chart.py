"""The campaign run as a picture: accepted registrations per second and latency over the burst."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def draw(figures: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    rows = figures["timeline"]
    t = [r["t_s"] for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot(t, [r["attempts_per_s"] for r in rows], label="answered / s", color="#999999")
    top.plot(t, [r["accepted_per_s"] for r in rows], label="accepted (201) / s", color="#1f77b4")
    top.set_ylabel("per second")
    top.legend(loc="upper right")
    plan = figures["plan"]
    top.set_title(
        f"{plan['attempts']:,} attempts from {plan['clients']} clients, "
        f"{plan['primary_capacity']:,} + {plan['reserve_capacity']:,} places: "
        f"{figures['burst_s']:,.0f} s burst"
    )
    for key, colour in (("p50_ms", "#2ca02c"), ("p95_ms", "#ff7f0e"), ("p99_ms", "#d62728")):
        bottom.plot(t, [r[key] for r in rows], label=key.split("_")[0], color=colour)
    bottom.set_ylabel("latency (ms)")
    bottom.set_xlabel("seconds since the burst began (5 s buckets)")
    bottom.legend(loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
