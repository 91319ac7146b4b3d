"""Query models of the API's own (those whose schema comes from the settings), imported by the
routes that name them when they first run (``routes.py``), not by ``import app``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.config import get_settings
from chalicelib.domain.models import ABSENT_NOT_NULL
from chalicelib.domain.reports import Day


def _configured_sites(schema: dict[str, Any]) -> None:
    ABSENT_NOT_NULL(schema)
    schema["enum"] = [site.name for site in get_settings().schedule.sites]


class AppointmentsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    date: Day
    site: str | None = Field(default=None, description="one of the sites", json_schema_extra=_configured_sites)
