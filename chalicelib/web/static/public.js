// The public page: verify the phone (a code by SMS), join the waiting room (line.js), register on
// POST /v1/registrations with the verification token and, once admitted, the admission token; look
// up, have the receipt code sent by SMS, cancel with it. Thai by default.
// On 429 it says how long to wait (Retry-After) and sends the same body with the same
// Idempotency-Key again, so a retry can never register anyone twice.
"use strict";

(function () {
  const { el, bi, clear, api, showError, hide } = KK;
  const LANG_KEY = "kk.lang";
  const REFRESH_MS = 5000;

  const $ = (id) => document.getElementById(id);

  let campaign = null;
  let lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "th";

  KK.buildFields($("reg-fields"), "reg", {
    consent: ["ข้าพเจ้ายินยอมให้เทศบาลนครขอนแก่นใช้ข้อมูลส่วนบุคคลนี้เพื่อการฉีดวัคซีน",
      "I consent to Khon Kaen municipality using these personal data for vaccination"],
    lang,
  });
  // The phone's verification: {phone, token} once confirmed. The token lives in this page only.
  let verified = null;
  let verificationId = null;
  const phoneInput = $("reg-form").elements.namedItem("phone");

  $("verify-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    hide($("verify-error"));
    const phone = KK.phone($("verify-phone").value);
    if (!phone.ok) {
      showError($("verify-error"), { message_th: KK.FIELD_TEXT.phone[0], message: KK.FIELD_TEXT.phone[1] });
      $("verify-phone").focus();
      return;
    }
    $("verify-send").disabled = true;
    const r = await api("POST", "v1/verifications", { body: { phone: phone.value } });
    $("verify-send").disabled = false;
    if (!r.ok) {
      showError($("verify-error"), waitText(r));
      return;
    }
    verificationId = r.data.verification_id;
    verified = { phone: phone.value, token: null };
    $("code-form").hidden = false;
    $("verify-code").value = "";
    $("verify-code").focus();
  });

  $("code-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    hide($("verify-error"));
    const code = $("verify-code").value.trim();
    if (!/^[0-9]{6}$/.test(code) || !verificationId) {
      showError($("verify-error"), { message_th: "กรุณากรอกรหัส 6 หลักจาก SMS", message: "Enter the 6 digits from the SMS." });
      return;
    }
    $("verify-confirm").disabled = true;
    const r = await api("POST", "v1/verifications/" + encodeURIComponent(verificationId) + "/confirm", { body: { code } });
    $("verify-confirm").disabled = false;
    if (!r.ok) {
      showError($("verify-error"), r.error);
      return;
    }
    verified = { phone: r.data.phone, token: r.data.verification_token };
    $("verify-form").hidden = true;
    $("code-form").hidden = true;
    const done = $("verify-done");
    done.hidden = false;
    clear(done, bi("ยืนยันเบอร์ " + r.data.phone + " แล้ว", "Phone " + r.data.phone + " is verified"));
    $("reg-form").hidden = false;
    phoneInput.value = r.data.phone;
    phoneInput.readOnly = true;
    $("reg-form").elements.namedItem("national_id").focus();
    line.join(verified.token);
  });

  // A 429 says how long to wait; anything else is the error as the service gave it.
  function waitText(r) {
    if (r.status !== 429 || r.retryAfter === null) return r.error;
    const minutes = Math.ceil(r.retryAfter / 60);
    return { message_th: r.error.message_th + " (อีกประมาณ " + minutes + " นาที)",
      message: r.error.message + " (about " + minutes + " min)" };
  }

  // The waiting room: joined once the phone is verified; the form waits for the person's turn.
  const line = KK.line($("line"), {
    reverify: () => restartVerification(),
    send: () => $("reg-form").requestSubmit(),
    changed: () => KK.applyLang($("line"), lang),
  });

  const reg = KK.registrationForm($("reg-form"), () => (campaign ? campaign.min_age : 18), {
    path: "v1/registrations",
    token: () => null,
    hold: () => line.ready(),
    extra: () => Object.assign(verified && verified.token ? { verification_token: verified.token } : {}, line.extra()),
    submit: $("reg-submit"),
    errorBox: $("reg-error"),
    waitBox: $("reg-wait"),
    onDone: registered,
    onError: (r) => {
      if (r.error.code === "channel_closed") refresh();
      if (r.error.code === "phone_not_verified") restartVerification();
      if (r.error.code === "admission_required") line.back();
      return false;
    },
  });
  KK.lookupForm($("lookup-form"), "lookup", $("lookup-error"), showLookup, lang);

  // The token expired (24 hours): verify again, the details stay as typed.
  function restartVerification() {
    verified = null;
    verificationId = null;
    phoneInput.readOnly = false;
    $("verify-form").hidden = false;
    hide($("verify-done"));
    $("verify-phone").value = phoneInput.value;
  }

  // "Send me my receipt code": the same national ID and birth date as the look-up. The answer is the
  // same whether or not they match (only the registration's own phone gets the code).
  $("receipt-send").addEventListener("click", async () => {
    hide($("lookup-error"));
    hide($("receipt-done"));
    const form = $("lookup-form");
    const id = KK.nationalId(form.elements.namedItem("national_id").value);
    const birth = KK.birthDate(form.elements.namedItem("birth_date").value, null);
    if (!id.ok || !birth.ok) {
      form.requestSubmit();  // marks the bad fields as the look-up does
      return;
    }
    $("receipt-send").disabled = true;
    const r = await api("POST", "v1/registrations/receipt", { body: { national_id: id.value, birth_date: birth.iso } });
    $("receipt-send").disabled = false;
    if (!r.ok) {
      showError($("lookup-error"), waitText(r));
      return;
    }
    const done = $("receipt-done");
    done.hidden = false;
    clear(done, bi("หากข้อมูลตรงกับการลงทะเบียน รหัสรับลงทะเบียนจะส่งไปยังเบอร์โทรศัพท์ที่ลงทะเบียนไว้",
      "If these match a registration, its receipt code has been sent by SMS to the phone it was registered with."));
  });

  function setLang(next) {
    lang = next;
    localStorage.setItem(LANG_KEY, lang);
    const root = document.documentElement;
    root.lang = lang;
    root.classList.toggle("lang-th", lang === "th");
    root.classList.toggle("lang-en", lang === "en");
    const button = $("lang-switch");
    button.textContent = lang === "th" ? "English" : "ภาษาไทย";
    button.lang = lang === "th" ? "en" : "th";
    KK.applyLang(document.body, lang);
  }
  $("lang-switch").addEventListener("click", () => setLang(lang === "th" ? "en" : "th"));
  setLang(lang);

  function registered(view) {
    reg.reset();
    // The token serves the whole family on this phone for its 24 hours: the phone stays filled in.
    if (verified && verified.token) phoneInput.value = verified.phone;
    const box = KK.viewBox(view);
    clear($("reg-result"),
      el("h3", {}, bi("ลงทะเบียนเรียบร้อย", "You are registered")),
      box,
      el("p", {}, bi("โปรดจดรหัสรับลงทะเบียนไว้ และใช้เลขประจำตัวประชาชนกับวันเกิดเพื่อตรวจสอบสถานะ",
        "Keep your receipt code; check your status with your national ID and birth date.")));
    box.setAttribute("tabindex", "-1");
    box.focus();
    refresh();
  }

  function showLookup(view, birthIso) {
    const result = $("lookup-result");
    const parts = [KK.viewBox(view)];
    if (view.status === "reserve") {
      parts.push(el("p", {}, bi("เมื่อมีผู้ยกเลิก ผู้ที่อยู่ลำดับสำรองที่ 1 จะได้รับสิทธิ์ก่อน",
        "When someone cancels, reserve rank 1 gets the place first.")));
    }
    if (view.status !== "cancelled") {
      const confirmBox = el("div", { class: "alert warn", hidden: true, role: "group",
        "aria-label": "ยืนยันการยกเลิก / Confirm cancellation" });
      const ask = el("button", { type: "button", class: "secondary", id: "cancel-start" },
        bi("ยกเลิกการลงทะเบียน", "Cancel my registration"));
      const yes = el("button", { type: "button", class: "danger", id: "cancel-confirm" },
        bi("ยืนยัน ยกเลิก", "Yes, cancel"));
      const no = el("button", { type: "button", class: "secondary" }, bi("ไม่ยกเลิก", "No, keep it"));
      const codeInput = el("input", { type: "text", id: "cancel-code", autocomplete: "off", maxlength: "45" });
      confirmBox.append(
        el("p", {}, bi("ยกเลิกแล้วที่นั่งจะส่งต่อให้ผู้อื่น ต้องการยกเลิกหรือไม่", "Your place will go to someone else. Cancel?")),
        el("div", { class: "field" },
          el("label", { for: "cancel-code" }, bi("รหัสรับลงทะเบียน (จากการลงทะเบียน หรือ SMS)",
            "Receipt code (from your registration, or by SMS)")), codeInput),
        el("div", { class: "actions" }, yes, no));
      ask.addEventListener("click", () => {
        confirmBox.hidden = false;
        if (view.registration_id) codeInput.value = view.registration_id;
        codeInput.focus();
      });
      no.addEventListener("click", () => {
        confirmBox.hidden = true;
        ask.focus();
      });
      yes.addEventListener("click", async () => {
        const receipt = codeInput.value.trim();
        if (!receipt) {
          codeInput.focus();
          return;
        }
        yes.disabled = true;
        const r = await api("POST", "v1/registrations/" + encodeURIComponent(receipt) + "/cancel",
          { body: { birth_date: birthIso } });
        yes.disabled = false;
        if (!r.ok) {
          showError($("lookup-error"), r.error);
          return;
        }
        showLookup(r.data, birthIso);
        refresh();
      });
      parts.push(el("div", { class: "actions" }, ask), confirmBox);
    }
    clear(result, ...parts);
  }

  function render() {
    const places = $("places");
    const banner = $("closed-banner");
    const closed = campaign.channels.app !== "open";
    clear(places,
      el("span", {}, bi("ที่นั่งคงเหลือ", "Places left"), " ",
        el("span", { class: "num", text: campaign.primary.remaining + " / " + campaign.primary.capacity })),
      el("span", {}, bi("รายชื่อสำรองคงเหลือ", "Reserve places left"), " ",
        el("span", { class: "num", text: campaign.reserve.remaining + " / " + campaign.reserve.capacity })));
    if (closed) {
      banner.hidden = false;
      clear(banner,
        el("p", { class: "th", lang: "th", text: "ขณะนี้ปิดรับลงทะเบียนออนไลน์ชั่วคราว กรุณาลงทะเบียนที่จุดบริการของเทศบาล " +
          "หรือกลับมาใหม่ภายหลัง ท่านยังตรวจสอบสถานะและยกเลิกได้ตามปกติ" }),
        el("p", { class: "en", lang: "en", text: "Online registration is closed for now. Please register at a " +
          "municipality service counter, or come back later. You can still check your status and cancel." }));
    } else {
      hide(banner);
    }
    $("reg-fieldset").disabled = closed;
    for (const form of ["verify-form", "code-form"]) {
      for (const control of $(form).elements) control.disabled = closed;
    }
  }

  async function refresh() {
    const r = await api("GET", "v1/campaign");
    if (r.ok) {
      campaign = r.data;
      render();
    }
  }

  // The link in the appointment SMS: "#code=r_…" (a fragment: the code never reaches a server log).
  // Shows where the person stands and their receipt code as a QR code for the site's scanner.
  async function fromLink() {
    const m = /^#code=(r_[A-Za-z0-9_-]{16,43})$/.exec(window.location.hash);
    if (!m) return;
    const r = await api("GET", "v1/registrations/" + m[1]);
    const result = $("lookup-result");
    if (!r.ok) {
      showError($("lookup-error"), r.error);
      return;
    }
    const code = KK.qr(r.data.registration_id, "QR: " + r.data.registration_id);
    clear(result, KK.viewBox(r.data),
      el("p", {}, bi("แสดงรหัสนี้ที่จุดฉีดวัคซีน", "Show this code at the vaccination site")),
      code ? el("div", { class: "slip-qr", "data-testid": "link-qr" }, code) : null);
    KK.applyLang(result, lang);
    result.scrollIntoView();
  }

  refresh();
  fromLink();
  window.addEventListener("hashchange", fromLink);
  setInterval(refresh, REFRESH_MS);
})();
