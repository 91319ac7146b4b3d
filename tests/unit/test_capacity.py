"""docs/capacity.md's ceiling comes from the measured key table (issue 23): the bench's arithmetic, the
document's table against ``bench/results/latest.json``, and the prod tables' warm throughput against
the measured need."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import keys

ROOT = Path(__file__).resolve().parents[2]
FULL_SIZE = 100_000
# A new on-demand table or index takes this much at once without pre-warming [doc: on-demand capacity mode].
NEW_TABLE_WRITES, NEW_TABLE_READS = 4_000, 12_000


def _row(
    table: str, index: str | None, pattern: str, count: int, busiest: int, key: str | None = None
) -> dict[str, Any]:
    return {
        "table": table,
        "index": index,
        "pattern": pattern,
        "count": count,
        "distinct_values": 1 if key else count,
        "busiest_value": busiest,
        "busiest_key": key,
        "peak_per_s": 1,
    }


def test_the_ceiling_is_the_partition_limit_over_the_busiest_keys_writes_per_confirmation() -> None:
    # Given a burst of 1,000 confirmations in which one index value took 250 writes and a person's key 3
    metered = {
        "burst": {
            "writes": [
                _row("registrations", None, "p#<id>", 2_000, 3),
                _row("registrations", "removal-pending", "<n>", 2_000, 250, key="4"),
            ],
            "reads": [_row("campaign", None, "gate", 300, 300, key="gate")],
        }
    }
    # When the key table is made
    table = keys.summary(metered, confirmations=1_000, attempts=2_000)
    # Then the busiest key is the index value, at 0.25 writes per confirmation: 4,000 confirmations/s
    assert table["busiest_write_key"]["busiest_key"] == "4"
    assert table["busiest_write_key"]["writes_per_confirmation"] == 0.25
    assert table["ceiling_confirmations_per_s"] == keys.WRITE_LIMIT / 0.25
    assert table["read_ceiling_confirmations_per_s"] == keys.READ_LIMIT / 0.3
    # And each table's writes per confirmation are all its keys together
    assert table["writes_per_confirmation_by_table"] == {"registrations": 2.0, "registrations / removal-pending": 2.0}
    # And the document's table names it, with the ceiling
    assert "ceiling 4,000 confirmations/s" in keys.render({"keys": table})


def _latest_keys() -> dict[str, Any]:
    figures = json.loads((ROOT / "bench" / "results" / "latest.json").read_text(encoding="utf-8"))
    if "keys" not in figures:
        pytest.skip("bench/results/latest.json has no key table yet (make bench)")
    return dict(figures)


def test_capacity_md_shows_the_key_table_of_the_full_size_run() -> None:
    figures = _latest_keys()
    if figures["keys"]["attempts"] != FULL_SIZE:
        pytest.skip("latest.json is not a full-size run (a small one is never committed)")
    doc = (ROOT / "docs" / "capacity.md").read_text(encoding="utf-8")
    assert keys.rewrite(doc, figures) == doc, "run make capacity"


def _prod_warm(resource: dict[str, Any]) -> dict[str, int]:
    warm = resource.get("WarmThroughput")
    if warm is None:
        return {}
    prod, _other = warm["Fn::If"][1:]
    assert warm["Fn::If"][0] == "IsProd" and _other == {"Ref": "AWS::NoValue"}
    return dict(prod)


def _warm_by_table() -> dict[str, dict[str, int]]:
    template = yaml.safe_load((ROOT / "infra" / "template.yaml").read_text(encoding="utf-8"))
    out: dict[str, dict[str, int]] = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        props = resource["Properties"]
        label = props["TableName"]["Fn::Sub"].rsplit("}-", 1)[-1]
        out[label] = _prod_warm(props)
        for index in props.get("GlobalSecondaryIndexes", []):
            out[f"{label} / {index['IndexName']}"] = _prod_warm(index)
    return out


def test_the_prod_tables_are_pre_warmed_for_the_target_from_the_measured_key_table() -> None:
    table = _latest_keys()["keys"]
    warm = _warm_by_table()
    for unit, default, by_table in (
        ("WriteUnitsPerSecond", NEW_TABLE_WRITES, table["writes_per_confirmation_by_table"]),
        ("ReadUnitsPerSecond", NEW_TABLE_READS, table["reads_per_confirmation_by_table"]),
    ):
        for where, per_confirmation in by_table.items():
            need = per_confirmation * keys.TARGET_PER_S
            assert warm[where].get(unit, default) >= need, (where, unit, need)


def test_only_prod_is_pre_warmed_and_the_busy_tables_are() -> None:
    warm = _warm_by_table()
    assert {where for where, units in warm.items() if units} == {
        "registrations",
        "registrations / removal-pending",
        "registrations / appointment-pending",
        "campaign",
        "queue",
        "queue / arrivals",
    }
