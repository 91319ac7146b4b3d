// The public page: register on POST /v1/registrations, look up, cancel. Thai by default.
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
  const reg = KK.registrationForm($("reg-form"), () => (campaign ? campaign.min_age : 18), {
    path: "v1/registrations",
    token: () => null,
    submit: $("reg-submit"),
    errorBox: $("reg-error"),
    waitBox: $("reg-wait"),
    onDone: registered,
    onError: (r) => {
      if (r.error.code === "channel_closed") refresh();
      return false;
    },
  });
  KK.lookupForm($("lookup-form"), "lookup", $("lookup-error"), showLookup, lang);

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
      confirmBox.append(
        el("p", {}, bi("ยกเลิกแล้วที่นั่งจะส่งต่อให้ผู้อื่น ต้องการยกเลิกหรือไม่", "Your place will go to someone else. Cancel?")),
        el("div", { class: "actions" }, yes, no));
      ask.addEventListener("click", () => {
        confirmBox.hidden = false;
        yes.focus();
      });
      no.addEventListener("click", () => {
        confirmBox.hidden = true;
        ask.focus();
      });
      yes.addEventListener("click", async () => {
        yes.disabled = true;
        const r = await api("POST", "v1/registrations/" + encodeURIComponent(view.registration_id) + "/cancel",
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
