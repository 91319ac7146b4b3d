"""The municipality's admins: channel control, the summary, the CSV exports, the audit trail,
reconciliation, the daily report and appointments."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.api.routes import Link, route
from chalicelib.domain.errors import DayNotOver, NotFound, ValidationFailed
from chalicelib.domain.names import DATE_PATTERN, Channel, Role

if TYPE_CHECKING:
    from chalicelib.api.queries import AppointmentsQuery
    from chalicelib.domain.models import DayClosing
    from chalicelib.domain.reports import (
        AuditQuery,
        DailyReport,
        DayQuery,
        ExportQuery,
        ReconcileQuery,
        ReconcileRun,
        ReconcileStarted,
        Started,
    )
    from chalicelib.domain.staff import AuditLog, ChannelState, ChannelSwitch, Summary

admin = Blueprint(__name__)

ADMIN = (Role.ADMIN,)
CSV = "text/csv"
# Under Lambda's 6 MB response limit even for long Thai addresses (~350 bytes a row once encoded).
EXPORT_PAGE_ROWS = 5_000


@route(
    admin,
    "PUT",
    "/v1/admin/channels/{channel}",
    body="chalicelib.domain.staff:ChannelSwitch",
    response="chalicelib.domain.staff:ChannelState",
    roles=ADMIN,
    audit="admin.channel.set",
    errors=(NotFound,),
    path_schemas={"channel": {"type": "string", "enum": [c.value for c in Channel]}},
    summary="Open or close a channel (app, counter, org); seen everywhere within 5 seconds",
)
def set_channel(channel: str, body: ChannelSwitch) -> ChannelState:
    from chalicelib.services import staff

    return staff.set_channel(channel, body.open)


@route(
    admin,
    "GET",
    "/v1/admin/summary",
    response="chalicelib.domain.staff:Summary",
    roles=ADMIN,
    audit="admin.summary",
    summary="Places, registrations by channel and status, removals by registry",
)
def summary() -> Summary:
    from chalicelib.services import staff

    return staff.summary()


@route(
    admin,
    "GET",
    "/v1/admin/registrations.csv",
    query="chalicelib.domain.reports:ExportQuery",
    media=CSV,
    roles=ADMIN,
    audit="admin.export",
    summary=f'Registrations as CSV (UTF-8 with BOM), {EXPORT_PAGE_ROWS:,} rows a page; a Link rel="next" header gives '
    "the next (a Lambda response stops at 6 MB)",
)
def export(query: ExportQuery) -> Response:
    from chalicelib.services import staff

    text, next_cursor = staff.export_csv(query.status, query.cursor, EXPORT_PAGE_ROWS)
    headers: dict[str, str | list[str]] = {"Content-Disposition": 'attachment; filename="registrations.csv"'}
    if next_cursor:
        status = f"status={query.status.value}&" if query.status else ""
        headers["Link"] = f'</v1/admin/registrations.csv?{status}cursor={next_cursor}>; rel="next"'
    return csv_response(text, headers)


@route(
    admin,
    "GET",
    "/v1/admin/audit",
    query="chalicelib.domain.reports:AuditQuery",
    response="chalicelib.domain.staff:AuditLog",
    roles=ADMIN,
    audit="admin.audit",
    summary="The staff actions of one day (who, token label, what, outcome, when), oldest first, a page at a"
    " time: next_cursor gives the next page (null on the last). A token's refused calls past 10 a minute are"
    " one audit.suppressed entry that counts them",
)
def audit(query: AuditQuery) -> AuditLog:
    from chalicelib.services import staff

    return staff.audit_log(query.date, query.cursor, query.limit)


@route(
    admin,
    "POST",
    "/v1/admin/reconcile",
    status=202,
    query="chalicelib.domain.reports:ReconcileQuery",
    response="chalicelib.domain.reports:ReconcileStarted",
    roles=ADMIN,
    links={"read": Link("admin.reconcile_run", {"run_id": "$response.body#/run_id"})},
    audit="admin.reconcile",
    summary="Start a reconciliation run now (?full=true also asks the other registries)",
)
def reconcile_now(query: ReconcileQuery) -> ReconcileStarted:
    from chalicelib.domain.reports import ReconcileStarted
    from chalicelib.services import reconcile

    full = query.full == "true"
    return ReconcileStarted(run_id=reconcile.start(full=full), full=full)


@route(
    admin,
    "GET",
    "/v1/admin/reconcile/{run_id}",
    response="chalicelib.domain.reports:ReconcileRun",
    roles=ADMIN,
    audit="admin.reconcile.read",
    errors=(NotFound,),
    summary="Progress and findings of a reconciliation run",
)
def reconcile_run(run_id: str) -> ReconcileRun:
    from chalicelib.services import reconcile

    return reconcile.status(run_id)


@route(
    admin,
    "GET",
    "/v1/admin/reports/daily",
    query="chalicelib.domain.reports:DayQuery",
    response="chalicelib.domain.reports:DailyReport",
    roles=ADMIN,
    audit="admin.report.daily",
    summary="The day's registrations, confirmations, promotions, cancellations, removals, places left and doses",
)
def daily_report(query: DayQuery) -> DailyReport:
    from chalicelib.services import reports

    return reports.daily_report(query.date)


@route(
    admin,
    "POST",
    "/v1/admin/appointments/allocate",
    status=202,
    response="chalicelib.domain.reports:Started",
    roles=ADMIN,
    audit="admin.appointments.allocate",
    summary="Give every confirmed registration without an appointment the earliest day and site with room",
)
def allocate_appointments() -> Started:
    from chalicelib.domain.reports import Started
    from chalicelib.services import appointments

    appointments.start()
    return Started()


@route(
    admin,
    "GET",
    "/v1/admin/appointments.csv",
    query="chalicelib.api.queries:AppointmentsQuery",
    media=CSV,
    roles=ADMIN,
    audit="admin.appointments.export",
    summary="The day's list for a vaccination team, and afterwards who came: one row per appointment with its dose, "
    "status and given_on (CSV, UTF-8 with BOM)",
)
def appointments_csv(query: AppointmentsQuery) -> Response:
    from chalicelib.services import appointments

    text = appointments.day_list(query.date, query.site)
    return csv_response(text, {"Content-Disposition": f'attachment; filename="appointments-{query.date}.csv"'})


@route(
    admin,
    "POST",
    "/v1/admin/days/{date}/close",
    status=202,
    response="chalicelib.domain.models:DayClosing",
    roles=ADMIN,
    audit="admin.day.close",
    errors=(ValidationFailed, DayNotOver),
    path_schemas={"date": {"type": "string", "pattern": DATE_PATTERN, "format": "date"}},
    summary="Close today or a past day: its appointments still booked become missed (rebooked, or a second missed first"
    " dose cancels as a no-show); also runs every morning for the day before",
)
def close_day(date: str) -> DayClosing:
    from chalicelib.services import doses

    return doses.close(date)


def csv_response(text: str, headers: dict[str, str | list[str]]) -> Response:
    return Response(body=text, status_code=200, headers={"Content-Type": "text/csv; charset=utf-8", **headers})
