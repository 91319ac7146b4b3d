"""The campaign's figures from what the clients saw and what the served stack's meter counted."""

from __future__ import annotations

from typing import Any

from bench.clients import Outcomes


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def timeline(out: Outcomes, step: float = 5.0) -> list[dict[str, float]]:
    """Per ``step`` seconds of the burst: attempts and accepted per second, latency percentiles."""
    buckets: dict[int, list[int]] = {}
    for i, t in enumerate(out.done_at):
        buckets.setdefault(int(t // step), []).append(i)
    rows = []
    for b in sorted(buckets):
        idx = buckets[b]
        lat = sorted(out.latency[i] for i in idx)
        rows.append(
            {
                "t_s": (b + 1) * step,
                "attempts_per_s": len(idx) / step,
                "accepted_per_s": sum(1 for i in idx if out.status[i] == 201) / step,
                "p50_ms": percentile(lat, 50) * 1000,
                "p95_ms": percentile(lat, 95) * 1000,
                "p99_ms": percentile(lat, 99) * 1000,
            }
        )
    return rows


def removals_settled(summary: dict[str, Any]) -> int:
    """Removals with an outcome (removed, not found or failed) in the registry that has fewest."""
    return min(int(r["removed"] + r["not_found"] + r["failed"]) for r in summary["removals"].values())


def since(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """The meter's figures less the background counted before (registration paths start at the burst)."""
    earlier = before.get("background", {})
    background = {k: v - earlier.get(k, 0) for k, v in after.get("background", {}).items()}
    return {**after, "background": background}


def verification_requests(metered: dict[str, Any], phones: int) -> dict[str, Any]:
    """AWS requests of the verification phase: per request of each route, and per phone verified
    (both requests and the SMS worker's share of the background)."""
    paths = metered.get("paths", {})
    routes = {k: v for k, v in paths.items() if k.startswith("verification_")}
    total = sum(v["aws_requests_per_request"] * v["requests"] for v in routes.values())
    total += metered.get("background", {}).get("aws_requests", 0)
    return {
        "aws_requests_per_request": {k: v["aws_requests_per_request"] for k, v in sorted(routes.items())},
        "aws_requests_per_phone": total / phones if phones else float("nan"),
    }
