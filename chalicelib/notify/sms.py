"""A client for the SMS gateway: ``POST {base}/messages`` with ``{"to", "text"}``.

Every message carries an ``Idempotency-Key``: a job delivered twice sends one SMS. 2xx is sent;
anything else raises ``SmsUnavailable`` and the queue retries. The number is never logged.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import urllib3

logging.getLogger("urllib3").setLevel(logging.WARNING)


class SmsUnavailable(Exception):
    pass


class SmsClient:
    def __init__(self, base_url: str, api_key: str, pool: urllib3.PoolManager | None = None) -> None:
        self._url = base_url.rstrip("/") + "/messages"
        self._key = api_key
        import urllib3  # on first use: a cold start of the API needs no HTTP client

        self._pool = pool or urllib3.PoolManager(maxsize=8, retries=False)
        self._timeout = urllib3.Timeout(connect=2.0, read=5.0)

    def send(self, to: str, text: str, idempotency_key: str) -> None:
        """Raises SmsUnavailable unless the gateway accepts the message."""
        try:
            resp = self._pool.request(
                "POST",
                self._url,
                body=json.dumps({"to": to, "text": text}, ensure_ascii=False).encode("utf-8"),
                headers={
                    "Content-Type": "application/json",
                    "X-Api-Key": self._key,
                    "Idempotency-Key": idempotency_key,
                },
                timeout=self._timeout,
                redirect=False,
            )
        except (_http_error(), OSError):
            raise SmsUnavailable() from None
        if not 200 <= resp.status < 300:
            raise SmsUnavailable()


def _http_error() -> type[Exception]:
    import urllib3

    return urllib3.exceptions.HTTPError


def appointment_text(booked: list[tuple[int, str, str]], code: str, link: str | None) -> str:
    """The message, Thai first: each booked dose (dose, day, site), the receipt code the sites
    check people in with, and (when configured) a link to a page showing that code as a QR code."""
    th = " ".join(f"เข็มที่ {dose} วันที่ {day} ที่ {site}" for dose, day, site in booked)
    en = "; ".join(f"dose {dose} on {day} at {site}" for dose, day, site in booked)
    return (
        f"เทศบาลนครขอนแก่น: นัดฉีดวัคซีนซิโนฟาร์ม {th} กรุณานำบัตรประชาชนมาด้วย รหัสรับลงทะเบียน {code} "
        f"/ Your Sinopharm vaccination: {en}. Receipt code {code}" + (f" {link}" if link else "")
    )
