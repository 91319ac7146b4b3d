"""The municipality's admins: channel control, the summary, the CSV export and the audit trail."""

from __future__ import annotations

import re
from datetime import date

from chalice.app import Blueprint, Response

from chalicelib.api.auth import staff_token, staff_view
from chalicelib.api.http import JSON_TYPES, json_body, parse, query_param, respond
from chalicelib.domain.errors import NotFound, ValidationFailed
from chalicelib.domain.models import Status
from chalicelib.domain.staff import AuditLog, ChannelSwitch, Principal
from chalicelib.services import appointments, reconcile, staff

admin = Blueprint(__name__)

# Under Lambda's 6 MB response limit even for long Thai addresses (~350 bytes a row once encoded).
EXPORT_PAGE_ROWS = 5_000
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CURSOR = re.compile(r"^[rp]_[A-Za-z0-9_-]{16,43}$")


@admin.route("/v1/admin/channels/{channel}", methods=["PUT"], authorizer=staff_token, content_types=list(JSON_TYPES))
@staff_view(admin, "admin.channel.set")
def set_channel(principal: Principal, channel: str) -> Response:
    body = parse(ChannelSwitch, json_body(admin.current_request))
    return respond(staff.set_channel(channel, body.open))


@admin.route("/v1/admin/summary", methods=["GET"], authorizer=staff_token)
@staff_view(admin, "admin.summary")
def summary(principal: Principal) -> Response:
    return respond(staff.summary())


@admin.route("/v1/admin/registrations.csv", methods=["GET"], authorizer=staff_token)
@staff_view(admin, "admin.export")
def export(principal: Principal) -> Response:
    """One page of CSV; a ``Link: <…&cursor=…>; rel="next"`` header points at the next page.

    A Lambda response stops at 6 MB, so 60,000 registrations come in pages of 5,000 rows.
    """
    status = _status(query_param(admin.current_request, "status"))
    cursor = query_param(admin.current_request, "cursor")
    if cursor is not None and not _CURSOR.match(cursor):
        raise ValidationFailed(["cursor"])
    text, next_cursor = staff.export_csv(status, cursor, EXPORT_PAGE_ROWS)
    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="registrations.csv"',
    }
    if next_cursor:
        query = f"status={status.value}&" if status else ""
        headers["Link"] = f'</v1/admin/registrations.csv?{query}cursor={next_cursor}>; rel="next"'
    return Response(body=text, status_code=200, headers=headers)


@admin.route("/v1/admin/audit", methods=["GET"], authorizer=staff_token)
@staff_view(admin, "admin.audit")
def audit(principal: Principal) -> Response:
    day = _day()
    return respond(AuditLog(date=day, entries=staff.audit_log(day)))


@admin.route("/v1/admin/reconcile", methods=["POST"], authorizer=staff_token)
@staff_view(admin, "admin.reconcile")
def reconcile_now(principal: Principal) -> Response:
    full = query_param(admin.current_request, "full") == "true"
    run_id = reconcile.start(full=full)
    return respond({"run_id": run_id, "status": "running", "full": full}, status=202)


@admin.route("/v1/admin/reconcile/{run_id}", methods=["GET"], authorizer=staff_token)
@staff_view(admin, "admin.reconcile.read")
def reconcile_run(principal: Principal, run_id: str) -> Response:
    run = reconcile.status(run_id)
    if run is None:
        raise NotFound()
    return respond(run)


@admin.route("/v1/admin/reports/daily", methods=["GET"], authorizer=staff_token)
@staff_view(admin, "admin.report.daily")
def daily_report(principal: Principal) -> Response:
    return respond(reconcile.daily_report(_day()))


@admin.route("/v1/admin/appointments/allocate", methods=["POST"], authorizer=staff_token)
@staff_view(admin, "admin.appointments.allocate")
def allocate_appointments(principal: Principal) -> Response:
    appointments.start()
    return respond({"status": "running"}, status=202)


@admin.route("/v1/admin/appointments.csv", methods=["GET"], authorizer=staff_token)
@staff_view(admin, "admin.appointments.export")
def appointments_csv(principal: Principal) -> Response:
    day = _day()
    text = appointments.day_list(day, query_param(admin.current_request, "site"))
    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="appointments-{day}.csv"',
    }
    return Response(body=text, status_code=200, headers=headers)


def _day() -> str:
    """The ``date`` query parameter: a real ``YYYY-MM-DD`` date. Raises ValidationFailed."""
    day = query_param(admin.current_request, "date")
    if day is None or not _DAY.match(day):
        raise ValidationFailed(["date"])
    try:
        date.fromisoformat(day)
    except ValueError:
        raise ValidationFailed(["date"]) from None
    return day


def _status(raw: str | None) -> Status | None:
    if raw is None:
        return None
    try:
        return Status(raw)
    except ValueError:
        raise ValidationFailed(["status"]) from None
