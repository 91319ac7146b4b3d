"""One person's registration requests in one container: the first in flight answers the others.

A person who taps twice, or whose app retries while the first request is still on its way, sends
two requests for one person at once. Both would ask the tables, and the second, racing the first's
write, can cost a look that finds nobody, a place taken, then a refused write. Here the second
waits for the first: if the first made a registration, the second is answered from it (refused, or
the same answer replayed), exactly as the stored registration would answer it, with no request.
Any other outcome of the first (an error, a refusal, a replay of an older registration) tells the
second nothing: it goes on as usual. A first still running after ``WAIT_SECONDS`` gets the second
the contract's 409 ``request_in_progress`` (with ``Retry-After``). Exactness never rests on this: the
person's conditional write still decides between containers, and between requests that do not
overlap here.
"""

from __future__ import annotations

import threading

from chalicelib.domain.errors import RequestInProgress
from chalicelib.domain.models import RegistrationView

# Far longer than a registration takes, well within a client's patience.
WAIT_SECONDS = 5.0


class Flight:
    """The first request of one person while it runs."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._answer: RegistrationView | None = None
        self.fingerprint: str | None = None
        self.phone: str | None = None

    def answered(self, view: RegistrationView, fingerprint: str | None, phone: str) -> None:
        """The first request made this registration (and stored this fingerprint with it), for a
        person with this phone."""
        self._answer = view
        self.fingerprint = fingerprint
        self.phone = phone

    def wait(self) -> RegistrationView | None:
        """The registration the first request made; None if it made none. Raises RequestInProgress
        if it is still running after ``WAIT_SECONDS``."""
        if not self._done.wait(WAIT_SECONDS):
            raise RequestInProgress(retry_after=1)
        return self._answer

    def land(self) -> None:
        self._done.set()


class InFlight:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[bytes, Flight] = {}

    def join(self, person: bytes) -> tuple[Flight, bool]:
        """The person's flight, and True if this request leads it (then it must ``land``)."""
        with self._lock:
            flight = self._flights.get(person)
            if flight is not None:
                return flight, False
            flight = self._flights[person] = Flight()
            return flight, True

    def land(self, person: bytes, flight: Flight) -> None:
        with self._lock:
            if self._flights.get(person) is flight:
                del self._flights[person]
        flight.land()
