"""CloudWatch metrics in Embedded Metric Format (Powertools). Never a personal value as a dimension.

Each event is one EMF line, written at once (``single_metric``): handlers need no flush, and a
metric cannot leak dimensions into another. ``POWERTOOLS_METRICS_DISABLED=true`` silences them
(the local stack does, unless asked otherwise).
"""

from __future__ import annotations

import os

NAMESPACE = "KhonKaenVaccine"


def add(name: str, value: float = 1, **dimensions: str) -> None:
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() == "true":
        return
    # Imported on the first metric: ``import app`` (every cold start) needs none of Powertools.
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE) as metric:
        for key, val in dimensions.items():
            metric.add_dimension(key, val)
