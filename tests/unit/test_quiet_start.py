"""`make run` starts quietly: moto's expected CloudFormation gaps are silenced, and only those."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator

import pytest

from local import quiet


@pytest.fixture
def moto_log() -> Iterator[logging.Logger]:
    logger = logging.getLogger("moto")
    yield logger
    logger.removeFilter(quiet._not_an_expected_gap)


def record(resource_type: str) -> logging.LogRecord:
    return logging.LogRecord("moto", logging.WARNING, __file__, 1, quiet._SKIPPED_LOG, (resource_type,), None)


def test_the_alarms_secrets_and_web_acl_moto_skips_are_silent_and_any_other_gap_still_speaks(
    moto_log: logging.Logger,
) -> None:
    expected = ["AWS::CloudWatch::Alarm", "AWS::SecretsManager::Secret", "AWS::WAFv2::WebACL"]
    other = ["AWS::Lambda::Function", "AWS::WAFv2::WebACLAssociation", "AWS::SecretsManager::SecretTargetAttachment"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Given the engine's start-up filters
        quiet.expected_moto_gaps()
        # When moto warns about each type it cannot build
        for resource_type in expected + other:
            warnings.warn(f"Tried to parse {resource_type} but it's not supported", UserWarning, stacklevel=1)
    # Then only the unexpected ones are heard, in warnings and in moto's log
    assert [str(w.message).split()[3] for w in caught] == other
    assert [r.args[0] for r in map(record, expected + other) if moto_log.filter(r)] == other
