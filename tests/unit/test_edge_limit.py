"""The local stack's edge limit: a sliding 5-minute window per client address, public POSTs only."""

from __future__ import annotations

import threading

import pytest

from local.edge import RateLimiter, is_public_post


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_gets_its_limit_then_waits_for_the_oldest_to_leave_the_window() -> None:
    # Given a limit of 3 in 300 s, and requests at t=0, 10, 20
    clock = Clock()
    limiter = RateLimiter(3, 300, clock)
    for offset in (0, 10, 20):
        clock.now = 1000 + offset
        assert limiter.hit("203.0.113.7") is None
    # When a fourth comes at t=30 / Then it is refused until the first leaves the window (t=300)
    clock.now = 1030
    assert limiter.hit("203.0.113.7") == 270
    # and at t=300 exactly one more fits
    clock.now = 1300
    assert limiter.hit("203.0.113.7") is None
    assert limiter.hit("203.0.113.7") == 10


def test_refused_requests_are_not_counted() -> None:
    # Given an address at its limit that keeps knocking
    clock = Clock()
    limiter = RateLimiter(1, 300, clock)
    assert limiter.hit("a") is None
    for _ in range(50):
        clock.now += 1
        assert limiter.hit("a") is not None
    # When it waits what it was told / Then it gets in
    clock.now = 1300
    assert limiter.hit("a") is None


def test_addresses_are_counted_apart() -> None:
    limiter = RateLimiter(1, 300, Clock())
    assert limiter.hit("198.51.100.1") is None
    assert limiter.hit("198.51.100.2") is None
    assert limiter.hit("198.51.100.1") is not None


def test_the_retry_after_is_at_least_one_second() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 300, clock)
    limiter.hit("a")
    clock.now += 299.9
    assert limiter.hit("a") == 1


def test_addresses_that_stopped_sending_are_forgotten() -> None:
    # Given 5,000 addresses that sent once, then a window later more traffic from one address
    clock = Clock()
    limiter = RateLimiter(10, 300, clock)
    for n in range(5000):
        limiter.hit(f"10.0.{n // 256}.{n % 256}")
    clock.now += 301
    for _ in range(5000):
        limiter.hit("192.0.2.1")
    # Then the memory holds about the live address only
    assert limiter.tracked() < 100


def test_concurrent_hits_never_let_more_than_the_limit_through() -> None:
    # Given 16 threads sending 50 requests each from one address, with a limit of 100
    limiter = RateLimiter(100, 300, Clock())
    allowed: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def send() -> None:
        barrier.wait()
        mine = sum(1 for _ in range(50) if limiter.hit("a") is None)
        with lock:
            allowed.append(mine)

    threads = [threading.Thread(target=send) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then exactly 100 get in
    assert sum(allowed) == 100


@pytest.mark.parametrize(
    ("method", "path", "counted"),
    [
        ("POST", "/v1/registrations", True),
        ("POST", "/v1/registrations/lookup", True),
        ("POST", "/v1/registrations/r_abc/cancel", True),
        ("POST", "/v1/registrations?x=1", True),
        ("POST", "/v1/verifications", True),
        ("POST", "/v1/queue", True),
        ("GET", "/v1/queue", False),
        ("GET", "/v1/queue/q_abc", False),
        ("PUT", "/v1/admin/queue", False),
        ("GET", "/v1/registrations/r_abc", False),
        ("GET", "/v1/campaign", False),
        ("POST", "/v1/counter/registrations", False),
        ("POST", "/v1/org/batches", False),
        ("POST", "/v1/admin/reconcile", False),
        ("POST", "/v1/registrationsX", False),
    ],
)
def test_only_public_posts_are_counted(method: str, path: str, counted: bool) -> None:
    assert is_public_post(method, path) is counted


def test_a_limit_below_one_is_a_mistake() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)
