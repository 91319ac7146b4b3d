// The counter desk: staff register walk-in people on POST /v1/counter/registrations (open even
// while the app channel is closed), print a receipt slip, and look people up.
"use strict";

(function () {
  const { el, bi, clear, api, showError, hide } = KK;
  const TOKEN_KEY = "kk.counter.token";
  const REFRESH_MS = 5000;
  const NOT_COUNTER = { code: "forbidden", message: "This token is not a counter token.",
    message_th: "โทเคนนี้ไม่ใช่โทเคนของจุดบริการ" };

  const $ = (id) => document.getElementById(id);
  const regForm = $("reg-form");
  const regError = $("reg-error");
  const outcome = $("outcome-body");

  let campaign = null;

  KK.buildFields($("reg-fields"), "reg", {
    consent: ["ผู้ลงทะเบียนยินยอมให้ใช้ข้อมูลส่วนบุคคลเพื่อการฉีดวัคซีน", "The person consents to the use of their data for vaccination"],
  });
  const reg = KK.registrationForm(regForm, () => (campaign ? campaign.min_age : 18), {
    path: "v1/counter/registrations",
    token: () => session.token(),
    submit: $("reg-submit"),
    errorBox: regError,
    waitBox: $("reg-wait"),
    onDone: (view, body) => {
      showOutcome(view, body);
      refresh();
    },
    onError: (r) => {
      if (r.status !== 401) return false;
      session.expired();
      return true;
    },
  });

  // The contract has no "who am I": an empty body sent to the counter endpoint is checked for the
  // token (401) and the role (403) before the body (400), and so registers nobody.
  async function check(candidate) {
    const r = await api("POST", "v1/counter/registrations", { token: candidate, body: {} });
    if (r.status === 400) return null;
    if (r.status === 401) return KK.REVOKED;
    if (r.status === 403 && r.error.code === "forbidden") return NOT_COUNTER;
    return r.error;
  }

  $("reg-clear").addEventListener("click", nextPerson);

  function nextPerson() {
    reg.reset();
    reg.forget();
    hide(regError);
    clear(outcome);
    regForm.elements.namedItem("national_id").focus();
  }

  function masked(nationalId) {
    return "X-XXXX-XXXXX-" + nationalId.slice(10, 12) + "-" + nationalId.slice(12);
  }

  // The receipt slip: Thai first, English second; the print stylesheet prints it alone.
  function slip(view, body) {
    const name = body.first_name + " " + body.last_name;
    const [statusTh, statusEn] = KK.statusHeadline(view);
    const [atTh, atEn] = KK.momentText(view.registered_at);
    const shot = KK.shotText(view);
    const line = (labelText, value) => el("p", {}, el("strong", { text: labelText + ": " }), value);
    const part = (lang, title, labels, texts) => el("div", { class: "part", lang },
      el("h3", { text: title }),
      line(labels[0], name),
      line(labels[1], masked(body.national_id)),
      line(labels[2], texts[0]),
      line(labels[3], el("span", { class: "code", text: view.registration_id })),
      line(labels[4], texts[1]),
      shot ? line(texts[2], texts[3]) : null);
    // The receipt code as a QR code: the vaccination site's scanner reads it as typed text + Enter.
    const code = KK.qr(view.registration_id, "QR: " + view.registration_id);
    return el("section", { class: "slip", id: "slip", "aria-label": "ใบรับการลงทะเบียน / Registration receipt" },
      code ? el("div", { class: "slip-qr", "data-testid": "slip-qr" }, code) : null,
      part("th", "เทศบาลนครขอนแก่น · ใบรับการลงทะเบียนวัคซีน",
        ["ชื่อ-นามสกุล", "เลขประจำตัวประชาชน", "สถานะ", "รหัสรับลงทะเบียน", "ลงทะเบียนเมื่อ"],
        [statusTh, atTh, shot ? shot[0][0] : "", shot ? shot[1][0] : ""]),
      part("en", "Khon Kaen City Municipality · Vaccine registration receipt",
        ["Name", "National ID", "Status", "Receipt code", "Registered at"],
        [statusEn, atEn, shot ? shot[0][1] : "", shot ? shot[1][1] : ""]));
  }

  function showOutcome(view, body) {
    const next = el("button", { type: "button", class: "secondary", id: "next-person", onclick: nextPerson },
      bi("คนถัดไป", "Next person"));
    clear(outcome,
      el("div", { class: "no-print" }, KK.viewBox(view)),
      slip(view, body),
      el("div", { class: "actions no-print" },
        el("button", { type: "button", id: "print-slip", onclick: () => window.print() }, bi("พิมพ์ใบรับ", "Print receipt")),
        next));
    next.focus();
  }

  KK.lookupForm($("lookup-form"), "lookup", $("lookup-error"), (view) => {
    clear($("lookup-result"), KK.viewBox(view));
  });

  function pill(state) {
    const open = state === "open";
    return el("span", { class: "pill " + (open ? "open" : "closed") }, open ? "เปิด open" : "ปิด closed");
  }

  function renderCampaign() {
    const bar = $("status-bar");
    if (!campaign) return;
    const ch = campaign.channels;
    clear(bar,
      el("span", { "data-testid": "primary-left" }, bi("ที่นั่งคงเหลือ", "places left"), " ",
        el("span", { class: "num", text: campaign.primary.remaining })),
      el("span", { "data-testid": "reserve-left" }, bi("สำรองคงเหลือ", "reserve left"), " ",
        el("span", { class: "num", text: campaign.reserve.remaining })),
      ...["app", "counter", "org"].map((name) => el("span", { "data-channel": name, "data-state": ch[name] },
        KK.label(KK.CHANNEL, name)[0] + " ", pill(ch[name]))));
    const alertBox = $("channel-alert");
    if (ch.counter !== "open") {
      showError(alertBox, { message_th: "ช่องทางจุดบริการปิดอยู่ในขณะนี้", message: "The counter channel is closed for now." });
    } else {
      hide(alertBox);
    }
  }

  async function refresh() {
    const r = await api("GET", "v1/campaign");
    if (r.ok) {
      campaign = r.data;
      renderCampaign();
    }
  }

  refresh();
  setInterval(refresh, REFRESH_MS);
  const session = KK.staffSession({
    storageKey: TOKEN_KEY,
    title: ["เข้าสู่ระบบเจ้าหน้าที่", "Staff sign-in"],
    tokenLabel: ["โทเคนของจุดบริการ", "Counter token"],
    check,
    onIn: () => regForm.elements.namedItem("national_id").focus(),
  });
})();
