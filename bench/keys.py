"""The campaign's partition keys and the design's ceiling on AWS, from what the served stack's meter
counted (``local/keys.py``: every write's table and index partition key, as a pattern).

On AWS a partition of a table or of an index takes about ``WRITE_LIMIT`` write units a second (and
``READ_LIMIT`` read units), however large the table: the key that the campaign writes most per
confirmation bounds it at ``WRITE_LIMIT`` / (its writes per confirmation) confirmations a second.
Locally the stack runs far below AWS's rates, so the per-second figures say how the load is shaped,
and the per-confirmation ones carry over to AWS.

``make capacity`` (``python -m bench.keys [docs/capacity.md] [--figures=latest.json] [--check]``)
writes the table of ``bench/results/latest.json`` into docs/capacity.md, between its markers
(``--check``: exit 1 if it differs), so the document's ceiling is the measured one; a unit test holds
them equal for a full-size run (tests/unit/test_capacity.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LATEST = ROOT / "bench" / "results" / "latest.json"
CAPACITY = ROOT / "docs" / "capacity.md"
BEGIN = "<!-- key table: rendered from bench/results/latest.json by `make capacity` (python -m bench.keys) -->"
END = "<!-- end of the key table -->"
# Per partition, per second, on AWS [doc: warm throughput scenarios] (items up to 1 KB written, 4 KB read).
WRITE_LIMIT = 1_000
READ_LIMIT = 3_000
# The design's target at the opening (issue 23): confirmations a second, every key under its limit.
TARGET_PER_S = 5_000
# Rows of the printed and rendered tables (the rest are summed up in one line).
SHOWN = 12


def _where(row: dict[str, Any]) -> str:
    return f"{row['table']} / {row['index']}" if row.get("index") else str(row["table"])


def _rows(raw: list[dict[str, Any]], confirmations: int, unit: str) -> list[dict[str, Any]]:
    rows = []
    per = (lambda n: n / confirmations) if confirmations else (lambda n: float("nan"))
    for r in raw:
        rows.append(
            {
                "table": r["table"],
                "index": r.get("index"),
                "pattern": r["pattern"],
                "distinct_values": r["distinct_values"],
                unit: r["count"],
                f"{unit}_per_confirmation": per(r["count"]),
                "busiest_key": r.get("busiest_key") or r["pattern"],
                f"busiest_{unit}": r["busiest_value"],
                f"busiest_{unit}_per_confirmation": per(r["busiest_value"]),
                f"peak_{unit}_per_s": r["peak_per_s"],
            }
        )
    rows.sort(key=lambda x: (-x[f"busiest_{unit}"], -x[unit], _where(x), x["pattern"]))
    return rows


def _per_table(rows: list[dict[str, Any]], unit: str) -> dict[str, float]:
    """Each table's (and index's) units per confirmation, all its keys together (what warm throughput needs)."""
    out: dict[str, float] = {}
    for r in rows:
        out[_where(r)] = out.get(_where(r), 0.0) + r[f"{unit}_per_confirmation"]
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def summary(metered_keys: dict[str, Any], confirmations: int, attempts: int) -> dict[str, Any]:
    """The key table of the burst (registrations and their background) and the verification phase,
    the busiest key and the ceilings in confirmations a second."""
    burst = metered_keys.get("burst", {})
    writes = _rows(burst.get("writes", []), confirmations, "writes")
    reads = _rows(burst.get("reads", []), confirmations, "reads")
    out: dict[str, Any] = {
        "attempts": attempts,
        "confirmations": confirmations,
        "partition_write_limit_per_s": WRITE_LIMIT,
        "partition_read_limit_per_s": READ_LIMIT,
        "target_confirmations_per_s": TARGET_PER_S,
        "writes": writes,
        "reads": reads,
        "writes_per_confirmation_by_table": _per_table(writes, "writes"),
        "reads_per_confirmation_by_table": _per_table(reads, "reads"),
        "verification_writes": metered_keys.get("verification", {}).get("writes", []),
    }
    if writes:
        top = writes[0]
        out["busiest_write_key"] = {k: top[k] for k in ("table", "index", "pattern", "busiest_key")} | {
            "writes_per_confirmation": top["busiest_writes_per_confirmation"],
            "peak_writes_per_s": top["peak_writes_per_s"],
        }
        out["ceiling_confirmations_per_s"] = WRITE_LIMIT / top["busiest_writes_per_confirmation"]
    if reads:
        out["read_ceiling_confirmations_per_s"] = READ_LIMIT / reads[0]["busiest_reads_per_confirmation"]
    return out


def report(keys: dict[str, Any]) -> None:
    """The bench's printed summary: the busiest write keys and the ceiling."""
    if not keys.get("writes"):
        print("  keys: none counted (the meter is off?)")
        return
    print(f"  partition keys written ({keys['confirmations']:,} confirmations; busiest value of each pattern):")
    print(f"    {'table / index':<36} {'pattern':<22} {'values':>7} {'busiest':>8} {'/confirm.':>9} {'peak/s':>7}")
    for r in keys["writes"][:SHOWN]:
        print(
            f"    {_where(r):<36} {r['pattern']:<22} {r['distinct_values']:>7,} {r['busiest_writes']:>8,}"
            f" {r['busiest_writes_per_confirmation']:>9.4f} {r['peak_writes_per_s']:>7,}"
        )
    b = keys["busiest_write_key"]
    print(
        f"  busiest key: {b['table']}{' / ' + b['index'] if b['index'] else ''} {b['busiest_key']}"
        f" ({b['writes_per_confirmation']:.4f} writes per confirmation): ceiling on AWS"
        f" {keys['ceiling_confirmations_per_s']:,.0f} confirmations/s at {WRITE_LIMIT:,} writes/s a partition"
    )


def render(figures: dict[str, Any]) -> str:
    """The key table as docs/capacity.md shows it (markdown, between the markers)."""
    keys = figures["keys"]
    n = keys["confirmations"]
    lines = [
        BEGIN,
        f"Measured by `make bench` ({keys['attempts']:,} attempts, {n:,} confirmations; the burst and its"
        " background, not the phones' verification before it). Per table or index and key pattern: the busiest"
        " value's writes per confirmation, and the confirmations a second at which that value reaches"
        f" {WRITE_LIMIT:,} writes a second.",
        "",
        "| table / index | key pattern (busiest value) | values | busiest value's writes | per confirmation"
        " | peak writes/s here | ceiling (confirmations/s) |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = keys["writes"]
    for r in rows[:SHOWN]:
        per = r["busiest_writes_per_confirmation"]
        ceiling = f"{WRITE_LIMIT / per:,.0f}" if per else "-"
        key = f"`{r['pattern']}`" + (f" (`{r['busiest_key']}`)" if r["busiest_key"] != r["pattern"] else "")
        lines.append(
            f"| {_where(r)} | {key} | {r['distinct_values']:,} | {r['busiest_writes']:,} | {per:.4f}"
            f" | {r['peak_writes_per_s']:,} | {ceiling} |"
        )
    if len(rows) > SHOWN:
        rest = rows[SHOWN:]
        top = max(r["busiest_writes_per_confirmation"] for r in rest)
        lines.append(f"| {len(rest)} more patterns | | | | each ≤ {top:.4f} | | |")
    b = keys["busiest_write_key"]
    lines += [
        "",
        f"**Busiest key: {_where(b)} `{b['busiest_key']}`, {b['writes_per_confirmation']:.4f} writes per"
        f" confirmation ⇒ ceiling {keys['ceiling_confirmations_per_s']:,.0f} confirmations/s** (target"
        f" {TARGET_PER_S:,}).",
    ]
    if keys.get("reads"):
        r = keys["reads"][0]
        lines.append("")
        lines.append(
            f"Reads: busiest key {_where(r)} `{r['busiest_key']}`, {r['busiest_reads_per_confirmation']:.4f} per"
            f" confirmation ⇒ {keys['read_ceiling_confirmations_per_s']:,.0f} confirmations/s at {READ_LIMIT:,}"
            " reads/s a partition."
        )
    lines += [
        "",
        "Per table and index, all keys together (what warm throughput is sized from; a write unit per item"
        " up to 1 KB, a read unit per item up to 4 KB):",
        "",
        f"| table / index | writes per confirmation | write units/s at {TARGET_PER_S:,} confirmations/s"
        f" | reads per confirmation | read units/s at {TARGET_PER_S:,} confirmations/s |",
        "|---|---|---|---|---|",
    ]
    writes, reads = keys["writes_per_confirmation_by_table"], keys["reads_per_confirmation_by_table"]
    for where in [*writes, *(w for w in reads if w not in writes)]:
        w, r = writes.get(where, 0.0), reads.get(where, 0.0)
        lines.append(f"| {where} | {w:.3f} | {w * TARGET_PER_S:,.0f} | {r:.3f} | {r * TARGET_PER_S:,.0f} |")
    lines.append(END)
    return "\n".join(lines)


def rewrite(doc: str, figures: dict[str, Any]) -> str:
    """``doc`` with the block between the markers replaced by ``render(figures)``.

    Raises ValueError when the markers are missing."""
    start, end = doc.find(BEGIN), doc.find(END)
    if start < 0 or end < start:
        raise ValueError("the key table's markers are not in the document")
    return doc[:start] + render(figures) + doc[end + len(END) :]


def main(argv: list[str]) -> int:
    check = "--check" in argv
    source = next((Path(a.split("=", 1)[1]) for a in argv if a.startswith("--figures=")), LATEST)
    paths = [a for a in argv if not a.startswith("--")]
    target = Path(paths[0]) if paths else CAPACITY
    figures = json.loads(source.read_text(encoding="utf-8"))
    if "keys" not in figures:
        print("bench/results/latest.json has no key table: run make bench first", file=sys.stderr)
        return 1
    doc = target.read_text(encoding="utf-8")
    new = rewrite(doc, figures)
    if check:
        return 0 if new == doc else 1
    target.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
