// The vaccination site: staff record each dose given on POST /v1/site/check-ins. Keyboard first:
// the one field keeps the focus, and a barcode scanner acting as a keyboard types the receipt code
// from the slip's (or the SMS link's) QR code followed by Enter, which records it at once.
"use strict";

(function () {
  const { el, bi, clear, api } = KK;
  const NOT_SITE = { code: "forbidden", message: "This token is not a vaccination-site token.",
    message_th: "โทเคนนี้ไม่ใช่โทเคนของจุดฉีดวัคซีน" };
  const BAD_CODE = { code: "validation_error", message: "Not a receipt code (r_…) nor a valid 13-digit national ID.",
    message_th: "ไม่ใช่รหัสรับลงทะเบียน (r_…) หรือเลขประจำตัวประชาชน 13 หลักที่ถูกต้อง" };
  const HISTORY = 10;

  const $ = (id) => document.getElementById(id);
  const input = $("scan-code");
  const result = $("scan-result");
  let busy = false;

  // An empty body is refused for the token (401) and the role (403) before the body (400).
  async function check(candidate) {
    const r = await api("POST", "v1/site/check-ins", { token: candidate, body: {} });
    if (r.status === 400) return null;
    if (r.status === 401) return KK.REVOKED;
    if (r.status === 403) return NOT_SITE;
    return r.error;
  }

  // A receipt code as printed or scanned, else a national ID (Thai digits, spaces, dashes allowed).
  function keyOf(raw) {
    const text = String(raw).trim();
    if (/^r_[A-Za-z0-9_-]{16,43}$/.test(text)) return { registration_id: text };
    const id = KK.nationalId(text);
    return id.ok ? { national_id: id.value } : null;
  }

  function show(ok, lines) {
    const box = el("div", { class: "checkin " + (ok ? "ok" : "refused"), "data-testid": "checkin-result",
      "data-outcome": ok ? "ok" : "refused" }, ...lines);
    clear(result, box);
  }

  async function submit(event) {
    event.preventDefault();
    if (busy) return;
    const key = keyOf(input.value);
    input.value = "";
    input.focus();
    if (!key) {
      show(false, [el("p", { class: "th", lang: "th", text: BAD_CODE.message_th }), el("p", { class: "en", lang: "en", text: BAD_CODE.message })]);
      return;
    }
    busy = true;
    const r = await api("POST", "v1/site/check-ins", { token: session.token(), body: key });
    busy = false;
    input.focus();
    if (r.status === 401) {
      session.expired();
      return;
    }
    if (!r.ok) {
      show(false, [el("p", { class: "big th", lang: "th", text: r.error.message_th }),
        el("p", { class: "en", lang: "en", text: r.error.message }),
        el("p", { class: "hint", text: r.error.code })]);
      return;
    }
    const [th, en] = KK.dateText(r.data.date);
    show(true, [
      el("p", { class: "big" }, bi("บันทึกเข็มที่ " + r.data.dose + " แล้ว", "Dose " + r.data.dose + " recorded")),
      el("p", {}, bi(th + " · " + r.data.site, en + " · " + r.data.site)),
      el("p", {}, el("span", { class: "code", "data-testid": "checked-code", text: r.data.registration_id }))]);
    const history = $("history");
    history.prepend(el("li", {}, el("span", { class: "code", text: r.data.registration_id }),
      " · ", bi("เข็มที่ " + r.data.dose, "dose " + r.data.dose)));
    while (history.children.length > HISTORY) history.lastElementChild.remove();
  }

  $("scan-form").addEventListener("submit", submit);
  // Keyboard first: a click elsewhere must not leave the scanner typing into nothing.
  document.addEventListener("keydown", (event) => {
    if (!$("desk").hidden && document.activeElement === document.body && event.key.length === 1) input.focus();
  });

  const session = KK.staffSession({
    storageKey: "kk.site.token",
    title: ["เข้าสู่ระบบเจ้าหน้าที่จุดฉีด", "Vaccination-site sign-in"],
    tokenLabel: ["โทเคนของจุดฉีด", "Site token"],
    check,
    onIn: () => input.focus(),
  });
})();
