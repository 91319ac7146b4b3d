"""The edge limits of the local stack: the per-address rate rules AWS WAF enforces in a deployment.

``EDGE_RATE_LIMIT_PER_5MIN`` requests to the public POST routes per client address in any 5 minutes
(0 switches it off, the local default). The deployed rule is ``PublicPostRateLimit`` in
``infra/template.yaml``; both match the routes by the same path prefixes (a test keeps them equal).
``EDGE_VERIFICATION_LIMIT_PER_5MIN`` is the tighter one of ``VerificationRateLimit``: requests for
an SMS code (``POST /v1/verifications``) per address (0, the local default, switches it off too).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from math import ceil

WINDOW_SECONDS = 300
# The public POST routes: register, look up, cancel (and, in contract v1.1, phone verification; in v1.2
# joining the waiting room). Staff routes live under /v1/counter, /v1/org, /v1/admin, /v1/site: never matched.
PUBLIC_POST_PREFIXES = ("/v1/registrations", "/v1/verifications", "/v1/queue")
# Asking for a code sends an SMS: its own, tighter rule (SMS pumping). Confirming one sends none.
VERIFICATION_PATH = "/v1/verifications"
_SWEEP_EVERY = 4096
# Addresses remembered at most (a deque of up to ``limit`` times each). Past it, the longest-known
# address is forgotten (its count starts again: a limit, not a ledger); quiet ones go at each sweep.
MAX_TRACKED = 65_536


def is_public_post(method: str, path: str) -> bool:
    """True for a POST to one of the public routes the edge limit counts."""
    if method.upper() != "POST":
        return False
    path = path.split("?", 1)[0]
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PUBLIC_POST_PREFIXES)


def is_verification_start(method: str, path: str) -> bool:
    """True for a POST that asks for an SMS code (the route, with or without a trailing slash)."""
    return method.upper() == "POST" and path.split("?", 1)[0] in (VERIFICATION_PATH, VERIFICATION_PATH + "/")


class RateLimiter:
    """At most ``limit`` requests per key in any ``window`` seconds (a sliding window).

    Refused requests are not counted, so a client that waits the Retry-After it was given gets in.
    Remembers at most ``MAX_TRACKED`` keys.
    """

    def __init__(self, limit: int, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic):
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._hits = 0

    def hit(self, key: str) -> int | None:
        """Count one request of ``key``: None if it may go on, else the seconds until it may."""
        now = self._clock()
        with self._lock:
            self._hits += 1
            if self._hits % _SWEEP_EVERY == 0:
                self._sweep(now)
            times = self._seen.get(key)
            if times is None:
                while len(self._seen) >= MAX_TRACKED:
                    del self._seen[next(iter(self._seen))]
                times = self._seen[key] = deque()
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return max(1, ceil(times[0] + self.window - now))
            times.append(now)
            return None

    def tracked(self) -> int:
        """How many addresses are remembered (the memory the limiter holds)."""
        with self._lock:
            return len(self._seen)

    def _sweep(self, now: float) -> None:
        # Addresses that stopped sending are forgotten once their window is over.
        for key in [k for k, times in self._seen.items() if not times or times[-1] <= now - self.window]:
            del self._seen[key]
