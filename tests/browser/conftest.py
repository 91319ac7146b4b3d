"""Browser tests: Debian's headless Chromium, driven by Playwright, against the local stack.

`make test` installs chromium and the Thai fonts when they are missing (`make browser-deps`).
Playwright drives the system browser (no browser download). Screenshots go to
tests/browser/screenshots/ (git-ignored).
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from local.stack import LocalStack
from tests.conftest import STAGE
from tests.helpers import body

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent / "screenshots"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
PRIMARY = 3
RESERVE = 200

_people = itertools.count(910_000)


@dataclass
class Stack:
    url: str
    sms_url: str

    def token(self, role: str, label: str = "browser test") -> tuple[str, str]:
        """(token, token_id), issued through the local stack's operator endpoint (as `make token`)."""
        r = requests.post(f"{self.url}/_local/tokens", json={"role": role, "label": label}, timeout=10)
        assert r.status_code == 201, r.text
        return r.json()["token"], r.json()["token_id"]

    def revoke(self, token_id: str) -> None:
        r = requests.post(f"{self.url}/_local/tokens/revoke", json={"token_id": token_id}, timeout=10)
        assert r.status_code == 200, r.text

    def sms_code(self, phone: str) -> str:
        """The latest verification code the SMS gateway stand-in got for ``phone`` (waits for it)."""
        return self.sms_text(phone, re.compile(r"code is (\d{6})")).group(1)

    def sms_text(self, phone: str, pattern: re.Pattern[str]) -> re.Match[str]:
        """The latest SMS to ``phone`` matching ``pattern``, once the SMS worker has sent it."""
        deadline = time.monotonic() + 20
        while True:
            r = requests.get(f"{self.sms_url}/_messages", params={"to": phone}, timeout=10)
            found = [m for m in (pattern.search(x["text"]) for x in r.json()["messages"]) if m]
            if found:
                return found[-1]
            assert time.monotonic() < deadline, f"no SMS matching {pattern.pattern}"
            time.sleep(0.1)  # polling the stand-in for a condition, not waiting out a timing

    def verification_token(self, phone: str) -> str:
        """Through the API, as the app does: a code by SMS, confirmed for a token."""
        r = requests.post(f"{self.url}/v1/verifications", json={"phone": phone}, timeout=10)
        assert r.status_code == 202, r.text
        vid = r.json()["verification_id"]
        code = self.sms_code(phone)
        r = requests.post(f"{self.url}/v1/verifications/{vid}/confirm", json={"code": code}, timeout=10)
        assert r.status_code == 200, r.text
        return str(r.json()["verification_token"])

    def register(self, **changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """(body, resource) of a new registration on the app channel, for a person no other test uses."""
        person = new_person(**changes)
        token = self.verification_token(person["phone"])
        r = requests.post(f"{self.url}/v1/registrations", json={**person, "verification_token": token}, timeout=10)
        assert r.status_code == 201, r.text
        return person, r.json()

    def get(self, path: str, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = requests.get(f"{self.url}{path}", headers=headers, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def lookup(self, national_id: str, birth_date: str) -> Any:
        lookup = {"national_id": national_id, "birth_date": birth_date}
        r = requests.post(f"{self.url}/v1/registrations/lookup", json=lookup, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def set_channel(self, admin: str, channel: str, open_: bool) -> None:
        r = requests.put(
            f"{self.url}/v1/admin/channels/{channel}",
            json={"open": open_},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=10,
        )
        assert r.status_code == 200, r.text


def new_person(**changes: Any) -> dict[str, Any]:
    """A registration body for a person no other test uses, with a phone of their own."""
    n = next(_people)
    return body(n, **{"phone": f"08{n:08d}", **changes})


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps` (make test does it)")
    from playwright.sync_api import expect, sync_playwright

    # Waits for what the page shows, not sleeps: generous, as the machine is shared. A switched channel
    # reaches every server within 3 s, and the pages poll every 5 s.
    expect.set_options(timeout=20_000)

    with sync_playwright() as pw:
        # A fresh profile every launch (Playwright makes a temporary user-data-dir).
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


def serve(**settings: str) -> Iterator[Stack]:
    """The local stack on a free port, with small capacities so that the reserve list is reached
    (and any other settings given), stopped afterwards."""
    env = pytest.MonkeyPatch()
    env.setenv("CAMPAIGN_PRIMARY_CAPACITY", str(PRIMARY))
    env.setenv("CAMPAIGN_RESERVE_CAPACITY", str(RESERVE))
    env.setenv("QUOTA_SHARDS", "1")
    env.setenv("PHONE_VERIFICATION", "required")  # the default of `make run`
    for key, val in settings.items():
        env.setenv(key, val)
    local = LocalStack(stage=STAGE).__enter__()
    try:
        yield Stack(local.url, local.sms.url)
    finally:
        local.close()
        env.undo()
        from chalicelib.store import factory

        factory.reset()


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    yield from serve()


@pytest.fixture(scope="module")
def admin_token(stack: Stack) -> str:
    return stack.token("admin", "dashboard")[0]


@pytest.fixture
def page(browser: Any, stack: Stack, admin_token: str) -> Iterator[Any]:
    """A fresh browser context (empty sessionStorage) at desktop size. Any script error, CSP
    violation or console error on the page fails the test."""
    context = browser.new_context(viewport=DESKTOP, locale="th-TH")
    context.set_default_timeout(20_000)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    tab.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    tab.problems = problems
    try:
        yield tab
    finally:
        context.close()
        for channel in ("app", "counter", "org"):
            stack.set_channel(admin_token, channel, True)
    expected = [p for p in problems if "the server responded with a status of" not in p]
    assert expected == [], expected


def verify_phone(page: Any, stack: Stack, phone: str) -> None:
    """On the public page: send a code to ``phone``, read it from the SMS, confirm it."""
    page.locator("#verify-phone").fill(phone)
    page.locator("#verify-send").click()
    expect_visible = page.locator("#code-form")
    expect_visible.wait_for(state="visible")
    page.locator("#verify-code").fill(stack.sms_code(phone))
    page.locator("#verify-confirm").click()
    page.locator("#verify-done").wait_for(state="visible")


def shoot(tab: Any, name: str) -> Path:
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path
