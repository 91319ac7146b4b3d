"""The counter desk at /counter/: keyboard-only registration, reserve rank, look-up, field checks,
sign-in and revocation."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta
from typing import Any

from playwright.sync_api import expect

from chalicelib.domain.rules import age_on, thai_id_check_digit, today_in_bangkok
from tests.browser.conftest import Stack, new_person


def sign_in(page: Any, stack: Stack, token: str) -> None:
    page.goto(f"{stack.url}/counter/")
    page.locator("#token").fill(token)
    page.locator("#token").press("Enter")
    expect(page.locator("#desk")).to_be_visible()


def fill_registration(page: Any, person: dict[str, Any], form_id: str = "reg-form") -> None:
    form = page.locator(f"#{form_id}")
    form.locator("[name=national_id]").fill(person["national_id"])
    form.locator("[name=birth_date]").fill(person["birth_date"])
    form.locator("[name=first_name]").fill(person["first_name"])
    form.locator("[name=last_name]").fill(person["last_name"])
    phone = form.locator("[name=phone]")
    if phone.is_editable():  # on the public page it is the verified phone, filled in and fixed
        phone.fill(person["phone"])
    form.locator("[name=basis]").select_option(person["eligibility"]["basis"])
    form.locator("[name=detail]").fill(person["eligibility"]["detail"])
    form.locator("[name=consent]").check()


def test_a_counter_registers_a_person_with_the_keyboard_alone(page: Any, stack: Stack) -> None:
    # Given a counter token and a person; the birth date as the ID card prints it (Buddhist Era)
    token, _ = stack.token("counter", "Counter 3, city hall")
    person = new_person()
    page.goto(f"{stack.url}/counter/")
    # When the staff member signs in and fills the form with the keyboard only
    expect(page.locator("#token")).to_be_focused()
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    expect(page.locator("#reg-national_id")).to_be_focused()
    page.keyboard.type(person["national_id"])
    expect(page.locator("#reg-national_id-msg")).to_contain_text("ถูกต้อง")
    page.keyboard.press("Tab")
    page.keyboard.type("31/01/2523")
    expect(page.locator("#reg-birth_date-msg")).to_contain_text(re.compile(r"อายุ \d+ ปี"))
    for value in (person["first_name"], person["last_name"], "081-234-5678"):
        page.keyboard.press("Tab")
        page.keyboard.type(value)
    page.keyboard.press("Tab")
    expect(page.locator("#reg-basis")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    page.keyboard.type(person["eligibility"]["detail"])
    page.keyboard.press("Tab")
    expect(page.locator("#reg-consent")).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("Enter")

    # Then the result is shown large, with the receipt code the API knows, as a counter registration
    code = page.get_by_test_id("receipt-code").first
    expect(code).to_have_text(re.compile(r"^r_"))
    resource = stack.get(f"/v1/registrations/{code.text_content()}")
    assert resource["channel"] == "counter"
    assert resource["status"] in ("confirmed", "reserve")
    expect(page.locator("#outcome-body .result")).to_have_attribute("data-status", resource["status"])
    # And the slip says it in Thai first, then in English, with the person's name and birth date as 1980
    slip = page.locator("#slip").inner_text()
    assert slip.index("ใบรับการลงทะเบียน") < slip.index("registration receipt")
    assert person["first_name"] in slip and code.text_content() in slip
    assert person["national_id"] not in slip  # masked: only the last digits
    looked_up = stack.lookup(person["national_id"], "1980-01-31")
    assert looked_up["channel"] == "counter" and looked_up["status"] == resource["status"]
    # And focus moved to "next person", which clears the form for the next one
    expect(page.locator("#next-person")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#reg-national_id")).to_be_focused()
    expect(page.locator("#reg-national_id")).to_have_value("")


def test_the_desk_shows_a_reserve_rank_once_the_places_are_gone(page: Any, stack: Stack) -> None:
    # Given every primary place taken and someone already on the reserve list
    while stack.get("/v1/campaign")["primary"]["remaining"] > 0:
        stack.register()
    stack.register()
    token, _ = stack.token("counter")
    sign_in(page, stack, token)
    # When the counter registers one more person
    fill_registration(page, new_person())
    page.locator("#reg-form [name=detail]").press("Enter")
    # Then the desk says reserve, with the rank the API gives
    code = page.get_by_test_id("receipt-code").first
    expect(code).to_have_text(re.compile(r"^r_"))
    resource = stack.get(f"/v1/registrations/{code.text_content()}")
    assert resource["status"] == "reserve" and resource["reserve_rank"] >= 2
    headline = page.locator("#outcome-body").get_by_test_id("status-headline")
    expect(headline).to_contain_text(f"สำรอง ลำดับที่ {resource['reserve_rank']}")
    expect(headline).to_contain_text(f"rank {resource['reserve_rank']}")
    expect(page.locator("#slip")).to_contain_text(f"สำรอง ลำดับที่ {resource['reserve_rank']}")


def test_the_desk_looks_a_person_up_by_national_id_and_birth_date(page: Any, stack: Stack) -> None:
    person, resource = stack.register()
    token, _ = stack.token("counter")
    sign_in(page, stack, token)
    page.locator("#lookup-national_id").fill(person["national_id"])
    page.locator("#lookup-birth_date").fill("31/01/1980")
    page.locator("#lookup-birth_date").press("Enter")
    result = page.locator("#lookup-result")
    expect(result.locator(".result")).to_have_attribute("data-status", resource["status"])
    # v1.1: a look-up never shows the receipt code
    expect(result.get_by_test_id("receipt-code")).to_have_count(0)
    assert resource["registration_id"] not in (result.text_content() or "")
    # A wrong birth date finds nobody, and says so in both languages
    page.locator("#lookup-birth_date").fill("1980-02-01")
    page.locator("#lookup-birth_date").press("Enter")
    expect(page.locator("#lookup-error")).to_contain_text("ไม่พบ")
    expect(page.locator("#lookup-error")).to_contain_text("Not found")


def test_wrong_check_digit_future_birth_date_and_too_young_are_shown_at_the_field(page: Any, stack: Stack) -> None:
    token, _ = stack.token("counter")
    sign_in(page, stack, token)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    person = new_person()
    wrong = person["national_id"][:12] + str((int(person["national_id"][12]) + 1) % 10)
    fill_registration(page, {**person, "national_id": wrong})
    nid = page.locator("#reg-national_id")
    expect(page.locator("#reg-national_id-msg")).to_contain_text("หลักตรวจสอบไม่ตรง")
    expect(page.locator("#reg-national_id-msg")).to_contain_text("wrong check digit")
    expect(nid).to_have_attribute("aria-invalid", "true")

    birth = page.locator("#reg-birth_date")
    tomorrow = date.today() + timedelta(days=2)
    birth.fill(tomorrow.isoformat())
    expect(page.locator("#reg-birth_date-msg")).to_contain_text("อนาคต")
    ten_years_ago = date.today().replace(year=date.today().year - 10, day=1)
    birth.fill(ten_years_ago.strftime("%d/%m/") + str(ten_years_ago.year + 543))
    expect(page.locator("#reg-birth_date-msg")).to_contain_text("ยังไม่ถึงเกณฑ์ 18 ปี")
    expect(birth).to_have_attribute("aria-invalid", "true")

    # Submitting sends nothing and puts the cursor on the first bad field
    page.locator("#reg-submit").click()
    expect(nid).to_be_focused()
    assert posts == []


def test_a_wrong_token_stays_at_sign_in_and_a_revoked_one_is_sent_back_to_it(page: Any, stack: Stack) -> None:
    page.goto(f"{stack.url}/counter/")
    page.locator("#token").fill("not-a-token")
    page.locator("#token").press("Enter")
    expect(page.locator("#signin-error")).to_contain_text("โทเคนไม่ถูกต้องหรือถูกยกเลิก")
    expect(page.locator("#desk")).to_be_hidden()
    # An org token is a real token, but not for this desk
    org, _ = stack.token("org")
    page.locator("#token").fill(org)
    page.locator("#token").press("Enter")
    expect(page.locator("#signin-error")).to_contain_text("not a counter token")

    token, token_id = stack.token("counter")
    sign_in(page, stack, token)
    assert page.evaluate("sessionStorage.getItem('kk.counter.token')") == token
    stack.revoke(token_id)
    fill_registration(page, new_person())
    page.locator("#reg-submit").click()
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#signin-error")).to_contain_text("revoked")
    expect(page.locator("#desk")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('kk.counter.token')") is None


def test_the_pages_check_digit_and_age_agree_with_the_domain_rules(page: Any, stack: Stack) -> None:
    page.goto(f"{stack.url}/counter/")
    rng = random.Random(8)
    prefixes = [f"{rng.randrange(10**12):012d}" for _ in range(300)]
    digits = page.evaluate("(ps) => ps.map((p) => KK.checkDigit(p))", prefixes)
    assert digits == [thai_id_check_digit(p) for p in prefixes]
    # Thai digits, spaces and dashes are accepted as the contract says
    thai = page.evaluate("KK.nationalId('๑-๑๐๑๗-๐๐๒๓๐-๗๐-๘')")
    assert thai == {"ok": True, "value": "1101700230708", "reason": None}
    today = today_in_bangkok()
    for birth in ("1980-01-31", f"{today.year - 18}-{today.month:02d}-{today.day:02d}", "2000-02-29"):
        shown = page.evaluate("(b) => KK.birthDate(b, 18)", birth)
        assert shown["age"] == age_on(date.fromisoformat(birth), today)
    assert page.evaluate("KK.birthDate('31/01/2523', 18).iso") == "1980-01-31"  # Buddhist Era
    assert page.evaluate("KK.birthDate('30/02/1980', 18).reason") == "invalid"
