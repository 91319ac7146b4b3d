"""Staff: tokens, the audit trail, channel control, the admin summary and the CSV export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.config import get_settings, hmac_key
from chalicelib.domain import rules
from chalicelib.domain.errors import NotFound
from chalicelib.domain.exports import CsvSheet
from chalicelib.domain.models import Channel, Status, iso_utc
from chalicelib.domain.staff import (
    DEFAULT_TOKEN_DAYS,
    SUPPRESSED_ACTION,
    AuditEntry,
    AuditLog,
    ChannelState,
    Principal,
    RegistrationCounts,
    RemovalCounts,
    Role,
    StaffToken,
    Summary,
    Used,
    audit_cursor,
    audit_position,
    clean_label,
    new_token,
    token_days,
    token_hash,
)
from chalicelib.services import campaign
from chalicelib.store.factory import stores


def issue_token(role: Role, label: str, days: int = DEFAULT_TOKEN_DAYS) -> tuple[str, StaffToken]:
    """A new token for ``role``, good for ``days`` days; returned once and stored only as a hash.

    Raises ValidationFailed for a label that is blank, too long or has hidden characters, or a
    number of days outside 1..MAX_TOKEN_DAYS.
    """
    label = clean_label(label)
    days = token_days(days)
    token, token_id = new_token()
    now = datetime.now(UTC)
    record = StaffToken(
        token_id=token_id, role=role, label=label, created_at=now, expires_at=now + timedelta(days=days)
    )
    stores().staff.put_token(token_hash(token), record)
    return token, record


def revoke_token(token_id: str) -> None:
    """Raises NotFound if no token has this ID."""
    if not stores().staff.revoke(token_id, datetime.now(UTC)):
        raise NotFound()


def authenticate(token: str, now: datetime | None = None) -> Principal | None:
    """The principal of a live token, or None (unknown, revoked or expired)."""
    record = stores().staff.token(token_hash(token))
    if record is None or not record.live(now or datetime.now(UTC)):
        return None
    return Principal(token_id=record.token_id, role=record.role, label=record.label, expires_at=record.expiry())


def audit(principal: Principal, action: str, status: int, target: str | None) -> None:
    """Record a staff call in the day's audit trail. A refused one (4xx) is recorded one by one only
    up to ``REFUSED_AUDIT_PER_MINUTE`` per token and minute; the minute's further refusals add to one
    ``audit.suppressed`` entry that counts them. Raises Overloaded."""
    now = datetime.now(UTC)
    st = stores()
    entry = AuditEntry(
        at=now,
        token_id=principal.token_id,
        role=principal.role,
        label=principal.label,
        action=action,
        status=status,
        target=target,
    )
    day = rules.today_in_bangkok(now).isoformat()
    if 400 <= status < 500:
        minute = int(now.timestamp()) // 60
        if not st.attempts.take_refused_audit(principal.token_id, minute):
            # Stamped with the minute's last instant: it sorts after the minute's own entries. A
            # Bangkok day starts on a whole minute, so the minute is the call's day.
            end = datetime.fromtimestamp(minute * 60 + 59.999999, UTC)
            st.staff.count_suppressed(day, entry.model_copy(update={"at": end, "action": SUPPRESSED_ACTION}))
            return
    st.staff.record(day, entry)


def audit_log(day: str, cursor: str | None, limit: int) -> AuditLog:
    """One page of a day's audit trail, oldest first, with the cursor of the next page (None on the
    last). Raises ValidationFailed naming ``cursor`` for a cursor this service did not give for
    that day."""
    after = audit_position(hmac_key(), day, cursor) if cursor else None
    entries, last = stores().staff.audit_page(day, after, limit)
    return AuditLog(date=day, entries=entries, next_cursor=audit_cursor(hmac_key(), day, last) if last else None)


def set_channel(channel: str, is_open: bool) -> ChannelState:
    """Open or close a registration channel. Raises NotFound for an unknown channel.

    Every container sees the change within ``CHANNEL_CACHE_SECONDS``; this one at once.
    """
    if channel not in {c.value for c in Channel}:
        raise NotFound()
    stores().channels.set_channel(channel, is_open)
    campaign.channel_states(fresh=True)
    return ChannelState(channel=channel, open=is_open)


def summary() -> Summary:
    """The campaign at a glance, from counters (one BatchGetItem each, never a scan), and the instant
    up to which they are complete (``as_of``: the removal sweep counts direct confirmations)."""
    settings = get_settings()
    st = stores()
    counts = st.quota.counts()
    counted_to = st.removal_control.counted_to()  # read first: the counters read next are no older
    stats = st.statistics.stats()
    return Summary(
        primary=Used(
            capacity=settings.primary_capacity,
            used=min(settings.primary_capacity, counts.primary_used),
        ),
        reserve=Used(capacity=settings.reserve_capacity, used=counts.reserve_active),
        registrations=RegistrationCounts(
            by_channel={c.value: stats.get(f"channel_{c.value}", 0) for c in Channel},
            by_status={s.value: stats.get(f"status_{s.value}", 0) for s in Status},
        ),
        removals={
            registry: RemovalCounts(
                **{state: stats.get(f"removal_{registry}_{state}", 0) for state in RemovalCounts.model_fields}
            )
            for registry in ("mor_phrom", "khon_kaen_phrom")
        },
        as_of=iso_utc(counted_to) if counted_to else None,
    )


CSV_HEADER = (
    "registration_id",
    "status",
    "reserve_rank",
    "channel",
    "registered_at",
    "national_id",
    "first_name",
    "last_name",
    "birth_date",
    "phone",
    "basis",
    "detail",
    "label",
)


def export_csv(status: Status | None, cursor: str | None, limit: int) -> tuple[str, str | None]:
    """One page of the registrations as CSV (UTF-8, BOM on the first page), and the next cursor.

    Every cell goes through ``safe_cell``: names, details and labels are whatever people typed.
    """
    st = stores()
    page, next_cursor = st.registrations.page(status, cursor, limit)
    ranks = st.reserve.ranks([r.ticket for r in page if r.status is Status.RESERVE and r.ticket])
    sheet = CsvSheet(bom=cursor is None)
    if cursor is None:
        sheet.row(CSV_HEADER)
    for reg in page:
        rank = ranks.get(reg.ticket) if reg.status is Status.RESERVE and reg.ticket else None
        sheet.row(
            [
                reg.registration_id,
                reg.status.value,
                rank or "",
                reg.channel.value,
                reg.registered_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                reg.national_id,
                reg.first_name,
                reg.last_name,
                reg.birth_date.isoformat(),
                reg.phone,
                reg.basis.value,
                reg.detail,
                reg.label or "",
            ]
        )
    return sheet.text(), next_cursor
