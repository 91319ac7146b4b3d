"""Registrations read many at a time: by receipt codes (one BatchGetItem per 100), and the scans of
the admin export and of reconciliation (background and admin work, never a request path)."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from chalicelib.domain.models import Registration, Status
from chalicelib.store.registrations.base import RegistrationTable
from chalicelib.store.registrations.keys import key_of, reclaimed_from
from chalicelib.store.table import Page

# The admin export scans this many items a call (DynamoDB returns at most 1 MB a page anyway).
SCAN_PAGE = 1000


class Scans(RegistrationTable):
    def by_codes(self, codes: list[str]) -> list[Registration]:
        """The current registrations with these receipt codes (one BatchGetItem per 100; a code
        whose person registered again since is left out: the index finds it under its code)."""
        wanted: dict[str, list[str]] = {}
        for c in codes:
            if (k := key_of(c)) is not None:
                wanted.setdefault(k, []).append(c)
        found = self._t.batch_get([(k,) for k in wanted])
        # A code a counter reclaim replaced since still names the person's registration (its new code).
        return [
            self._read(i)
            for i in found
            if any(c == i.get("code") or reclaimed_from(i, c) for c in wanted.get(str(i["registration_id"]), []))
        ]

    def get_many(self, codes: list[str]) -> list[Registration]:
        """Registrations by receipt code, current or superseded (a BatchGetItem per 100 of the
        persons' items, then one for the codes found superseded); unknown codes are left out."""
        unique = list(dict.fromkeys(codes))
        wanted = {c: k for c in unique if (k := key_of(c)) is not None}
        by_key: dict[str, list[str]] = {}
        for c, k in wanted.items():
            by_key.setdefault(k, []).append(c)
        found: dict[str, Registration] = {}
        for item in self._t.batch_get([(k,) for k in by_key]):
            code = str(item.get("code", ""))
            # Codes a counter reclaim replaced name the person's registration too (a check-in record
            # made before the reclaim): under its new code, once.
            for named in by_key.get(str(item["registration_id"]), []):
                if named == code or reclaimed_from(item, named):
                    found[named] = self._read(item)
        superseded = [c for c in wanted if c not in found]
        for item in self._t.batch_get([(c,) for c in superseded]):
            found[str(item["registration_id"])] = self._read(item)
        regs = {found[c].registration_id: found[c] for c in unique if c in found}
        return list(regs.values())

    def page(self, status: Status | None, cursor: str | None, limit: int) -> tuple[list[Registration], str | None]:
        """Up to ``limit`` registrations (of ``status``), scanning on from ``cursor`` (admin export only).

        Returns the page and the cursor of the next one (None at the end).
        """
        # The cursor is the last key read, URL-safe: a person's key ``p#…`` travels as ``p_…``.
        start = {"registration_id": {"S": "p#" + cursor[2:] if cursor.startswith("p_") else cursor}} if cursor else None
        found: list[Registration] = []
        # The next scan page, when this one cannot fill the page, is asked for while this one is
        # decrypted (on a thread named after this one: the local stack's meter counts its calls here).
        with ThreadPoolExecutor(1, thread_name_prefix=threading.current_thread().name) as ahead:
            coming: Future[Page] | None = ahead.submit(self._t.scan_page, start, min(SCAN_PAGE, max(100, limit)))
            while len(found) < limit:
                if coming is None:  # filtered out more than expected: the next page after all
                    coming = ahead.submit(self._t.scan_page, start, min(SCAN_PAGE, max(100, limit - len(found))))
                page = coming.result()
                expected = len(found) + len(page.items)  # at most, after this page
                coming = None
                if page.cursor and expected < limit:
                    coming = ahead.submit(self._t.scan_page, page.cursor, min(SCAN_PAGE, max(100, limit - expected)))
                found.extend(r for r in map(self._read, page.items) if status is None or r.status is status)
                if not page.cursor:
                    return found, None
                start = page.cursor
        last = str(start["registration_id"]["S"]) if start else None
        return found, ("p_" + last[2:] if last and last.startswith("p#") else last)

    def scan_segment(
        self, segment: int, total: int, cursor: dict[str, Any] | None, page: int = 100
    ) -> tuple[list[Registration], dict[str, Any] | None]:
        """One page of one segment of a parallel scan (reconciliation only, never a request path)."""
        found = self._t.scan_page(cursor, page, (segment, total))
        return [self._read(i) for i in found.items], found.cursor
