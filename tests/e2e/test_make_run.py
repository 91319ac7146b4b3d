"""`make run` as an operator starts it: the main flow over real HTTP, then a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local.speedups import PINNED_MOTO
from tests.helpers import body

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


STAND_INS: dict[str, str] = {}
OUTPUT: list[str] = []  # what `make run` printed up to its banner's last line


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "CAMPAIGN_PRIMARY_CAPACITY": "2", "CAMPAIGN_RESERVE_CAPACITY": "2"}
    env.update(getattr(request, "param", {}))  # settings of a test's own (indirect parametrisation)
    for key in ("REGISTRATIONS_TABLE", "PEOPLE_TABLE", "CAMPAIGN_TABLE", "IDEMPOTENCY_TABLE", "KKREG_RESOURCE_PREFIX"):
        env.pop(key, None)
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal would start it
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    STAND_INS.clear()
    OUTPUT.clear()
    assert proc.stdout is not None
    for line in proc.stdout:
        OUTPUT.append(line.rstrip("\n"))
        if "stand-in on" in line:
            name, _, rest = line.strip().partition(" stand-in on ")
            if name == "sms gateway":
                break  # the banner's last line
            STAND_INS[name] = rest.split()[0]
        if time.monotonic() > deadline:
            break
    try:
        yield url, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.e2e
def test_make_run_serves_the_contract_and_stops_cleanly(served: tuple[str, subprocess.Popen[str]]) -> None:
    url, proc = served
    assert f"engine speed-ups on (moto {PINNED_MOTO})" in [line.strip() for line in OUTPUT]
    assert requests.get(f"{url}/v1/health", timeout=10).json() == {"status": "ok"}

    regs = [requests.post(f"{url}/v1/registrations", json=body(n), timeout=10) for n in range(4)]
    assert [r.status_code for r in regs] == [201] * 4
    assert [r.json()["status"] for r in regs] == ["confirmed", "confirmed", "reserve", "reserve"]
    full = requests.post(f"{url}/v1/registrations", json=body(9), timeout=10)
    assert full.status_code == 409 and full.json()["error"]["code"] == "registration_full"

    first = regs[0].json()["registration_id"]
    cancelled = requests.post(f"{url}/v1/registrations/{first}/cancel", json={"birth_date": "1980-01-31"}, timeout=10)
    assert cancelled.json()["status"] == "cancelled"
    # The queue worker inside `make run` promotes reserve rank 1 within seconds.
    promoted = regs[2].json()["registration_id"]
    deadline = time.monotonic() + 20
    status = None
    while time.monotonic() < deadline:
        status = requests.get(f"{url}/v1/registrations/{promoted}", timeout=10).json()["status"]
        if status == "confirmed":
            break
        time.sleep(0.2)
    assert status == "confirmed"
    # The job records the reserve's exit just after the promotion itself: the next in line moves up then.
    rank, deadline = None, time.monotonic() + 20
    while time.monotonic() < deadline:
        rank = requests.get(f"{url}/v1/registrations/{regs[3].json()['registration_id']}", timeout=10).json()
        if rank["reserve_rank"] == 1:
            break
        time.sleep(0.2)
    assert rank is not None and rank["reserve_rank"] == 1
    lookup = requests.post(
        f"{url}/v1/registrations/lookup",
        json={"national_id": body(1)["national_id"], "birth_date": "1980-01-31"},
        timeout=10,
    )
    # v1.1: the lookup answers without the receipt code
    assert lookup.json() == {k: v for k, v in regs[1].json().items() if k != "registration_id"}
    missing = requests.get(f"{url}/v1/nowhere", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    # A method no route has (TRACE, or one http.server has never heard of) is a 405 in the envelope.
    for method in ("TRACE", "QUERY"):
        odd = requests.request(method, f"{url}/v1/health", timeout=10)
        assert odd.status_code == 405 and odd.json()["error"]["code"] == "method_not_allowed", method
        assert "GET" in odd.headers["Allow"]

    # SIGINT to the group, as Ctrl-C does: everything stops, nothing is left behind.
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=30)  # make itself reports the interrupt in its exit status, as it does in a terminal
    assert proc.stdout is not None
    assert "Stopped." in proc.stdout.read()
    assert_group_gone(proc.pid)


@pytest.mark.e2e
def test_make_run_starts_quietly_and_its_banner_shows_the_pages_the_sms_sent_and_how_to_get_a_token(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    url, _ = served
    # Then nothing comes before the banner but make's own echo of the command (moto's expected
    # CloudFormation gaps are silenced)
    start = next(i for i, line in enumerate(OUTPUT) if line.startswith("Serving on "))
    assert OUTPUT[start] == f"Serving on {url}"
    assert [line for line in OUTPUT[:start] if not line.startswith("exec ")] == []
    banner = "\n".join(OUTPUT[start:])
    # and the banner names every page, each of which answers
    assert f"{url}/ (public)" in banner
    for page in ("/", "/counter/", "/site/", "/admin/"):
        assert f"{page}," in banner or f"{page} " in banner, page
        assert requests.get(f"{url}{page}", timeout=10).status_code == 200, page
    # how to get a staff token, and where the SMS sent (codes) can be read
    assert "make token ROLE=admin LABEL=me" in banner
    messages = OUTPUT[-1].rsplit("GET ", 1)[1].rstrip(")")
    assert messages.endswith("/_messages") and requests.get(messages, timeout=5).json()["messages"] == []


@pytest.mark.e2e
def test_sigterm_to_make_stops_the_service(served: tuple[str, subprocess.Popen[str]]) -> None:
    url, proc = served
    assert requests.get(f"{url}/v1/health", timeout=10).status_code == 200
    os.kill(proc.pid, signal.SIGTERM)  # to make alone, as a process supervisor would
    proc.wait(timeout=30)
    assert_group_gone(proc.pid)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/v1/health", timeout=2)


def make_token(url: str, role: str, label: str) -> tuple[str, str]:
    """(token, token_id) from `make token` against the stack at ``url``."""
    env = {**os.environ, "PORT": url.rsplit(":", 1)[1]}
    env.pop("STAGE", None)
    out = (
        subprocess.run(
            ["make", "--no-print-directory", "token", f"ROLE={role}", f"LABEL={label}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()
    )
    return out[-1], out[0].split()[3]


def assert_group_gone(pgid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError("a process of `make run` is still running")


@pytest.mark.e2e
def test_make_token_issues_a_working_token_and_make_revoke_stops_it(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    url, _ = served
    token, token_id = make_token(url, "admin", "IT admin")
    env = {**os.environ, "PORT": url.rsplit(":", 1)[1]}
    auth = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{url}/v1/admin/summary", headers=auth, timeout=10).status_code == 200
    subprocess.run(
        ["make", "--no-print-directory", "revoke", f"TOKEN_ID={token_id}"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    assert requests.get(f"{url}/v1/admin/summary", headers=auth, timeout=10).status_code == 401


@pytest.mark.e2e
def test_a_confirmed_person_is_removed_from_both_stand_ins(served: tuple[str, subprocess.Popen[str]]) -> None:
    url, _ = served
    person = body(0)  # seeded in both stand-ins
    assert requests.get(f"{STAND_INS['mor_phrom']}/registrants/{person['national_id']}", timeout=5).status_code == 401
    assert requests.post(f"{url}/v1/registrations", json=person, timeout=10).status_code == 201
    token, _ = make_token(url, "admin", "e2e")
    deadline = time.monotonic() + 30
    removals: dict[str, dict[str, int]] = {}
    while time.monotonic() < deadline:
        removals = requests.get(
            f"{url}/v1/admin/summary", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).json()["removals"]
        if all(r["removed"] == 1 for r in removals.values()):
            break
        time.sleep(0.2)
    assert removals == {
        "mor_phrom": {"pending": 0, "removed": 1, "not_found": 0, "failed": 0},
        "khon_kaen_phrom": {"pending": 0, "removed": 1, "not_found": 0, "failed": 0},
    }
    for stand_in in STAND_INS.values():
        state = requests.get(f"{stand_in}/_control", timeout=5).json()
        assert state["removed"] == 1 and state["calls"]["DELETE"] == 1


@pytest.mark.e2e
def test_make_run_refuses_a_schedule_that_makes_no_sense() -> None:
    env = {**os.environ, "PORT": str(free_port()), "VACCINATION_SITES": '[{"name": "Hall", "capacity": 0}]'}
    done = subprocess.run(
        ["make", "--no-print-directory", "run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "VACCINATION_SITES[0] (Hall) needs a daily capacity above 0" in done.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("served", [{"LOCAL_ENGINE_SPEEDUPS": "off"}], indirect=True)
def test_make_run_with_the_speedups_off_says_so_and_serves_on_plain_moto(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    # Given `LOCAL_ENGINE_SPEEDUPS=off make run`
    url, _ = served
    # Then it says which engine it runs, and serves on it
    assert "engine speed-ups off: plain moto (LOCAL_ENGINE_SPEEDUPS=off)" in [line.strip() for line in OUTPUT]
    regs = [requests.post(f"{url}/v1/registrations", json=body(n), timeout=10) for n in range(3)]
    assert [r.json()["status"] for r in regs] == ["confirmed", "confirmed", "reserve"]


@pytest.mark.e2e
def test_make_run_refuses_a_speedups_setting_other_than_on_or_off() -> None:
    env = {**os.environ, "PORT": str(free_port()), "LOCAL_ENGINE_SPEEDUPS": "fast"}
    done = subprocess.run(
        ["make", "--no-print-directory", "run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "LOCAL_ENGINE_SPEEDUPS is on or off, not 'fast'" in done.stderr
