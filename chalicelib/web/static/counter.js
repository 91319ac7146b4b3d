// The counter desk: staff register walk-in people on POST /v1/counter/registrations (open even
// while the app channel is closed), print a receipt slip, and look people up. For the person at
// the desk (ID card seen) they also reclaim a national ID somebody else registered
// (POST /v1/counter/reclaims: a new receipt code and slip) and cancel (POST /v1/counter/cancellations),
// each after a confirmation.
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

  // The staff member confirms that the person agreed to the consent text (shown above the form, to
  // read out or hand over): the registration records it as given at the counter.
  KK.buildFields($("reg-fields"), "reg", {
    consent: ["ข้าพเจ้า (เจ้าหน้าที่) ยืนยันว่าผู้ลงทะเบียนได้รับทราบข้อความความยินยอมและยินยอมแล้ว",
      "I (staff) confirm that the person was given the consent text and agreed to it"],
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
    for (const form of [reg, reclaim]) {
      form.reset();
      form.forget();
    }
    hide(regError);
    hide($("reclaim-error"));
    clear(outcome);
    regForm.elements.namedItem("national_id").focus();
  }

  // "1101700230708" -> "1-1017-00230-70-8", as the ID card prints it, to compare with the card.
  function cardStyle(nationalId) {
    const n = nationalId;
    return [n.slice(0, 1), n.slice(1, 5), n.slice(5, 10), n.slice(10, 12), n.slice(12)].join("-");
  }

  // A confirmation in a modal dialog: Enter on the focused button answers it, Esc goes back.
  // Resolves true for "yes". focusYes: false puts the focus on "go back" (an action that cannot be undone).
  function confirmAction(title, lines, yes, focusYes) {
    const dialog = $("confirm");
    clear($("confirm-title"), bi(title[0], title[1]));
    clear($("confirm-text"), ...lines);
    clear($("confirm-yes"), bi(yes[0], yes[1]));
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
      dialog.showModal();
      $(focusYes ? "confirm-yes" : "confirm-no").focus();
    });
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

  function showOutcome(view, body, notice) {
    const next = el("button", { type: "button", class: "secondary", id: "next-person", onclick: nextPerson },
      bi("คนถัดไป", "Next person"));
    clear(outcome,
      notice ? el("div", { class: "alert info no-print", role: "status", "data-testid": "outcome-notice" },
        el("p", { class: "th", lang: "th", text: notice[0] }), el("p", { class: "en", lang: "en", text: notice[1] })) : null,
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

  // Reclaim: the registration form, a confirmation, then the new receipt code on a new slip.
  KK.buildFields($("reclaim-fields"), "reclaim", {
    consent: ["ข้าพเจ้า (เจ้าหน้าที่) ยืนยันว่าเจ้าของบัตรได้รับทราบข้อความความยินยอมและยินยอมแล้ว",
      "I (staff) confirm that the card holder was given the consent text and agreed to it"],
  });
  const NO_ACTIVE = { code: "not_found",
    message: "This national ID has no active registration (nothing to reclaim or cancel). To register the person, use the registration form.",
    message_th: "ไม่พบการลงทะเบียนที่ยังมีผลของเลขประจำตัวประชาชนนี้ (ไม่มีสิ่งที่ต้องคืนสิทธิ์หรือยกเลิก) หากต้องการลงทะเบียนให้ใช้แบบฟอร์มลงทะเบียน" };
  const onStaffError = (box) => (r) => {
    if (r.status === 401) {
      session.expired();
      return true;
    }
    if (r.status !== 404) return false;
    showError(box, NO_ACTIVE);
    return true;
  };
  const reclaim = KK.registrationForm($("reclaim-form"), () => (campaign ? campaign.min_age : 18), {
    path: "v1/counter/reclaims",
    token: () => session.token(),
    submit: $("reclaim-submit"),
    errorBox: $("reclaim-error"),
    waitBox: $("reclaim-wait"),
    confirm: (body) => confirmAction(
      ["ยืนยันการคืนสิทธิ์", "Confirm the reclaim"],
      [el("p", { class: "id", text: cardStyle(body.national_id) }),
        el("p", { class: "th", lang: "th", text: "ตรวจบัตรประชาชนของ " + body.first_name + " " + body.last_name +
          " แล้ว การลงทะเบียนของเลขนี้จะเป็นของเจ้าของบัตร ได้รหัสรับลงทะเบียนใหม่ และรหัสเดิมจะใช้ไม่ได้อีก" }),
        el("p", { class: "en", lang: "en", text: "ID card of " + body.first_name + " " + body.last_name +
          " checked. This ID's registration becomes the card holder's, with a new receipt code; the old code stops working." })],
      ["ยืนยัน คืนสิทธิ์ (Enter)", "Yes, reclaim (Enter)"], true),
    onDone: (view, body) => {
      showOutcome(view, body, ["คืนสิทธิ์แล้ว: พิมพ์ใบรับใหม่ให้เจ้าของบัตร รหัสรับลงทะเบียนเดิมใช้ไม่ได้อีก",
        "Reclaimed: print the new receipt for the card holder. The old receipt code no longer works."]);
      $("outcome").scrollIntoView({ block: "nearest" });
      refresh();
    },
    onError: onStaffError($("reclaim-error")),
  });

  // Cancel for the person at the desk: national ID, a confirmation (focus on "go back"), the result.
  const cancelForm = $("cancel-form");
  const cancelInput = $("cancel-national_id");
  const cancelError = $("cancel-error");
  const cancelMsg = $("cancel-national_id-msg");
  cancelForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    hide(cancelError);
    clear(cancelMsg);
    const id = KK.nationalId(cancelInput.value);
    cancelInput.setAttribute("aria-invalid", id.ok ? "false" : "true");
    if (!id.ok) {
      const pair = KK.FIELD_TEXT[id.reason === "short" ? "long" : id.reason];
      cancelMsg.className = "field-msg error";
      cancelMsg.append(bi(pair[0], pair[1]));
      cancelInput.focus();
      return;
    }
    const sure = await confirmAction(
      ["ยืนยันการยกเลิก", "Confirm the cancellation"],
      [el("p", { class: "id", text: cardStyle(id.value) }),
        el("p", { class: "th", lang: "th", text: "ยกเลิกการลงทะเบียนของผู้ถือบัตรนี้ ที่นั่งจะส่งต่อให้ผู้อยู่ในรายชื่อสำรองทันที ย้อนกลับไม่ได้" }),
        el("p", { class: "en", lang: "en", text: "Cancel this card holder's registration. The place goes to the reserve list at once; this cannot be undone." })],
      ["ยืนยัน ยกเลิก", "Yes, cancel it"], false);
    if (!sure) {
      cancelInput.focus();
      return;
    }
    const r = await api("POST", "v1/counter/cancellations", { token: session.token(), body: { national_id: id.value } });
    if (r.ok) {
      clear($("cancel-result"), KK.viewBox(r.data));
      cancelInput.value = "";
      refresh();
    } else if (!onStaffError(cancelError)(r)) {
      showError(cancelError, r.error);
    }
    cancelInput.focus();
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

  // The consent text the person agrees to, as the service records it (its version).
  async function showConsent() {
    const r = await api("GET", "v1/consent");
    if (!r.ok) return;
    clear($("consent-body"),
      el("p", { class: "version", text: "ฉบับ / version " + r.data.version }),
      el("p", { lang: "th", "data-testid": "consent-th", text: r.data.text_th }),
      el("p", { lang: "en", "data-testid": "consent-en", text: r.data.text_en }));
  }

  refresh();
  showConsent();
  setInterval(refresh, REFRESH_MS);
  const session = KK.staffSession({
    storageKey: TOKEN_KEY,
    title: ["เข้าสู่ระบบเจ้าหน้าที่", "Staff sign-in"],
    tokenLabel: ["โทเคนของจุดบริการ", "Counter token"],
    check,
    onIn: () => regForm.elements.namedItem("national_id").focus(),
  });
})();
