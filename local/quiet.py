"""Silence what moto's CloudFormation says, expectedly, about the infra template, and nothing else.

moto has no model of the template's alarms, secrets and web ACL: it skips each with a warning and a
log line (34 lines before `make run`'s banner). Locally that is as intended: the keys come from the
environment, nothing watches alarms, and the local server enforces the edge limits (``local.edge``).
Any other resource moto cannot build still says so. pyproject.toml's pytest filter names the same
types (pytest resets warning filters for each test).
"""

from __future__ import annotations

import logging
import re
import warnings

EXPECTED = r"AWS::\S+(Alarm|Secret|WebACL)"
_SKIPPED_LOG = "No Moto CloudFormation support for %s"


def _not_an_expected_gap(record: logging.LogRecord) -> bool:
    args = record.args if isinstance(record.args, tuple) else ()
    return not (record.msg == _SKIPPED_LOG and len(args) == 1 and re.fullmatch(EXPECTED, str(args[0])) is not None)


def expected_moto_gaps() -> None:
    """Drop moto's warning and log line for each expected gap (idempotent; for this process)."""
    warnings.filterwarnings("ignore", message=f"Tried to parse {EXPECTED} but", category=UserWarning)
    logging.getLogger("moto").addFilter(_not_an_expected_gap)
