"""One small HTTP contract per registry (``DELETE``/``GET {base}/registrants/{national_id}``).

Timeouts are short and failures are retried a few times with exponential backoff and jitter by
urllib3's ``Retry`` (connection errors, timeouts, 429 and 5xx); what still fails raises
``RegistryUnavailable`` so that the removal sweep backs off from that registry. Only the documented
answers count: 204/404 for a removal, 200/404 for a presence check. Anything else (a 5xx, a 200 to
a DELETE, a redirect, a timeout, a broken connection) is a failure, never a success.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import urllib3

# urllib3 logs each request line at DEBUG, and ours carry national IDs in the path.
logging.getLogger("urllib3").setLevel(logging.WARNING)
Removal = Literal["removed", "not_found"]


class RegistryUnavailable(Exception):
    """The registry did not give a documented answer (after the client's own retries)."""


@dataclass(frozen=True)
class RegistryConfig:
    name: str
    base_url: str
    api_key: str


class RegistryClient:
    def __init__(
        self,
        config: RegistryConfig,
        pool: urllib3.PoolManager | None = None,
        attempts: int = 3,
        base_delay: float = 0.2,
        timeout: float = 5.0,
    ) -> None:
        self.name = config.name
        self._base = config.base_url.rstrip("/")
        self._headers = {"X-Api-Key": config.api_key, "Accept": "application/json"}
        import urllib3  # on first use: a cold start of the API needs no HTTP client
        from urllib3.util.retry import Retry

        self._pool = pool or urllib3.PoolManager(maxsize=16, retries=False)
        self._retry = Retry(
            total=attempts - 1,
            backoff_factor=base_delay,
            backoff_jitter=base_delay,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"GET", "DELETE"}),
            raise_on_status=False,
            redirect=False,
            respect_retry_after_header=False,
        )
        self._timeout = urllib3.Timeout(connect=min(2.0, timeout), read=timeout)
        self._http_error: Any = urllib3.exceptions.HTTPError

    def remove(self, national_id: str) -> Removal:
        """Remove the person from this registry. Raises RegistryUnavailable."""
        status = self._call("DELETE", national_id, {204: "removed", 404: "not_found"})
        return "removed" if status == "removed" else "not_found"

    def is_registered(self, national_id: str) -> bool:
        """Whether the person is still booked there. Raises RegistryUnavailable."""
        return self._call("GET", national_id, {200: "present", 404: "absent"}) == "present"

    def _call(self, method: str, national_id: str, answers: dict[int, str]) -> str:
        if not (len(national_id) == 13 and national_id.isdigit()):
            raise ValueError("national_id must be 13 digits")
        url = f"{self._base}/registrants/{national_id}"
        try:
            resp = self._pool.request(
                method, url, headers=self._headers, timeout=self._timeout, retries=self._retry, preload_content=True
            )
        except (self._http_error, OSError):
            raise RegistryUnavailable(self.name) from None  # a timeout, a refused or broken connection
        if resp.status in answers:
            return answers[resp.status]
        raise RegistryUnavailable(self.name)
