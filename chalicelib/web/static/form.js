// The registration form of the public page and the counter desk: the contract's field rules,
// checked as the person types, each problem shown at its field before anything is sent.
"use strict";

// The fields, built in one place for both pages. options.consent: [Thai, English] consent text.
KK.buildFields = function (container, prefix, options) {
  const el = KK.el;
  const field = (name, th, en, control, hint) => {
    const id = prefix + "-" + name;
    control.id = id;
    control.name = name;
    control.setAttribute("aria-describedby", id + "-msg" + (hint ? " " + id + "-hint" : ""));
    return el("div", { class: "field", "data-field": name },
      el("label", { for: id }, KK.bi(th, en)),
      hint ? el("p", { class: "hint", id: id + "-hint" }, KK.bi(hint[0], hint[1])) : null,
      control,
      el("p", { class: "field-msg", id: id + "-msg", "data-msg": name, "aria-live": "polite" }));
  };
  const text = (attrs) => el("input", Object.assign({ type: "text", autocomplete: "off", required: true }, attrs));
  const basis = el("select", { required: true },
    el("option", { value: "", "data-th": "— เลือก —", "data-en": "— choose —" }),
    ...Object.entries(KK.BASIS).map(([value, [th, en]]) => el("option", { value, "data-th": th, "data-en": en })));
  const consentId = prefix + "-consent";
  const consent = el("input", { type: "checkbox", id: consentId, name: "consent",
    "aria-describedby": consentId + "-msg" });
  KK.clear(container,
    field("national_id", "เลขประจำตัวประชาชน", "National ID", text({ inputmode: "numeric", maxlength: "20" }),
      ["13 หลัก เว้นวรรคหรือขีดได้", "13 digits; spaces or dashes are fine"]),
    field("birth_date", "วันเกิด", "Birth date", text({ inputmode: "numeric", maxlength: "10" }),
      ["วว/ดด/ปปปป (พ.ศ.) เช่น 31/01/2523", "DD/MM/YYYY (BE or CE), e.g. 31/01/1980"]),
    field("first_name", "ชื่อ", "First name", text({ autocomplete: "given-name", maxlength: "100" })),
    field("last_name", "นามสกุล", "Last name", text({ autocomplete: "family-name", maxlength: "100" })),
    field("phone", "เบอร์โทรศัพท์มือถือ", "Mobile phone", text({ type: "tel", autocomplete: "tel", maxlength: "16" })),
    field("basis", "สิทธิ์ในการลงทะเบียน", "Right to register", basis),
    field("detail", "ที่อยู่ หรือ สถานที่ทำงาน", "Address or employer", text({ maxlength: "300" })),
    el("div", { class: "field check", "data-field": "consent" },
      el("label", { for: consentId }, consent, " ", KK.bi(options.consent[0], options.consent[1])),
      el("p", { class: "field-msg", id: consentId + "-msg", "data-msg": "consent", "aria-live": "polite" })));
  KK.applyLang(container, options.lang || "both");
};

// Elements with data-th / data-en (options, which cannot hold spans) take the page's language.
KK.applyLang = function (root, lang) {
  for (const node of root.querySelectorAll("[data-th]")) {
    const th = node.getAttribute("data-th");
    const en = node.getAttribute("data-en");
    node.textContent = lang === "th" ? th : lang === "en" ? en : th + " / " + en;
  }
};

KK.registrationForm = function (form, minAge, o) {
  const T = KK.FIELD_TEXT;
  const SERVER_NAMES = { "eligibility.basis": "basis", "eligibility.detail": "detail", eligibility: "basis" };
  const ORDER = ["national_id", "birth_date", "first_name", "last_name", "phone", "basis", "detail", "consent"];

  const input = (name) => form.elements.namedItem(name);

  function setMsg(name, pair, kind) {
    const box = form.querySelector('[data-msg="' + name + '"]');
    const target = input(name);
    if (box) {
      KK.clear(box);
      box.className = "field-msg" + (kind ? " " + kind : "");
      if (pair) box.append(KK.bi(pair[0], pair[1]));
    }
    if (target) target.setAttribute("aria-invalid", kind === "error" ? "true" : "false");
    return kind !== "error";
  }

  function checkId(final) {
    const r = KK.nationalId(input("national_id").value);
    if (r.ok) return setMsg("national_id", ["✓ เลขประจำตัวประชาชนถูกต้อง", "✓ Valid national ID"], "ok");
    if (r.reason === "short" && !final) {
      return setMsg("national_id", ["กรอกแล้ว " + r.value.length + "/13 หลัก", r.value.length + " of 13 digits"], "info") && false;
    }
    if (r.reason === "empty" && !final) return setMsg("national_id", null, null) && false;
    const pair = r.reason === "short" ? T.long : T[r.reason];
    return setMsg("national_id", pair, "error");
  }

  function checkBirth(final) {
    const r = KK.birthDate(input("birth_date").value, minAge());
    if (r.ok) {
      const [th, en] = KK.dateText(r.iso);
      return setMsg("birth_date", ["อายุ " + r.age + " ปี (" + th + ")", "Age " + r.age + " (" + en + ")"], "ok");
    }
    if ((r.reason === "format" || r.reason === "empty") && !final) return setMsg("birth_date", null, null) && false;
    const pair = r.reason === "young" ? KK.youngText(minAge(), r.age) : T[r.reason];
    return setMsg("birth_date", pair, "error");
  }

  function checkText(name, max) {
    const value = input(name).value.trim();
    if (value === "") return setMsg(name, T.empty, "error");
    if (value.length > max) return setMsg(name, T.invalid_field, "error");
    return setMsg(name, null, null);
  }

  function checkPhone() {
    return KK.phone(input("phone").value).ok ? setMsg("phone", null, null) : setMsg("phone", T.phone, "error");
  }

  function checkBasis() {
    return input("basis").value ? setMsg("basis", null, null) : setMsg("basis", T.empty, "error");
  }

  function checkConsent() {
    return input("consent").checked ? setMsg("consent", null, null) : setMsg("consent", T.consent, "error");
  }

  const CHECKS = {
    national_id: () => checkId(true),
    birth_date: () => checkBirth(true),
    first_name: () => checkText("first_name", 100),
    last_name: () => checkText("last_name", 100),
    phone: checkPhone,
    basis: checkBasis,
    detail: () => checkText("detail", 300),
    consent: checkConsent,
  };

  input("national_id").addEventListener("input", () => checkId(false));
  input("birth_date").addEventListener("input", () => checkBirth(false));
  for (const name of ORDER) {
    const target = input(name);
    target.addEventListener("blur", () => {
      if (target.value !== "" || name === "national_id" || name === "birth_date") {
        if (name === "national_id") checkId(target.value === "" ? false : true);
        else if (name === "birth_date") checkBirth(target.value === "" ? false : true);
        else if (name !== "consent") CHECKS[name]();
      }
    });
  }
  input("consent").addEventListener("change", checkConsent);

  // Enter submits from any field (selects and the checkbox too), so the desk never needs the mouse.
  form.addEventListener("keydown", (event) => {
    const tag = event.target.tagName;
    if (event.key === "Enter" && !event.isComposing && (tag === "INPUT" || tag === "SELECT")) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  // The body of the contract, or null after marking every bad field and focusing the first.
  function validate() {
    let first = null;
    for (const name of ORDER) {
      if (!CHECKS[name]() && first === null) first = name;
    }
    if (first !== null) {
      input(first).focus();
      return null;
    }
    return {
      national_id: KK.nationalId(input("national_id").value).value,
      first_name: input("first_name").value.trim(),
      last_name: input("last_name").value.trim(),
      birth_date: KK.birthDate(input("birth_date").value, minAge()).iso,
      phone: KK.phone(input("phone").value).value,
      eligibility: { basis: input("basis").value, detail: input("detail").value.trim() },
      consent: true,
    };
  }

  // A 400 names the bad fields: mark them as the local checks would.
  function markServerFields(fields) {
    let first = null;
    for (const raw of fields || []) {
      const name = SERVER_NAMES[raw] || raw;
      if (input(name)) {
        setMsg(name, T.invalid_field, "error");
        if (first === null || ORDER.indexOf(name) < ORDER.indexOf(first)) first = name;
      }
    }
    if (first !== null) input(first).focus();
  }

  function reset() {
    form.reset();
    for (const name of ORDER) setMsg(name, null, null);
  }

  // Shows "sending again in N s" in box, counting down, then resolves.
  function countdown(box, seconds) {
    return new Promise((resolve) => {
      let left = Math.max(1, seconds);
      const tick = () => {
        KK.showError(box, {
          message_th: "ขณะนี้มีผู้ลงทะเบียนจำนวนมาก ระบบจะส่งข้อมูลอีกครั้งโดยอัตโนมัติใน " + left + " วินาที ไม่ต้องกดซ้ำ",
          message: "Many people are registering right now. The registration will be sent again automatically in " +
            left + " s; there is no need to press again.",
        });
        if (left <= 0) return resolve();
        left -= 1;
        setTimeout(tick, 1000);
      };
      tick();
    });
  }

  // Submitting: validate, then POST with an Idempotency-Key. On 429 (or a retry that finds the first
  // still running) wait Retry-After seconds and send the same body with the same key again, so a
  // retry can never register anyone twice. The same details keep their key across presses too.
  // o: {path, token(), submit, errorBox, waitBox, onDone(view, body), onError(r) -> true if handled,
  //     extra() -> fields added to the body (the public page's verification and admission tokens),
  //     hold() -> false to keep the details until the person's turn in the waiting room,
  //     confirm(body) -> Promise of true to send (the desk's reclaim asks first)}
  let pending = null;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    KK.hide(o.errorBox);
    const body = validate();
    if (!body || o.submit.disabled) return;
    if (o.hold && !o.hold()) return;  // not its turn yet: the public page sends it once admitted
    if (o.extra) Object.assign(body, o.extra());
    if (o.confirm && !(await o.confirm(body))) return;
    const json = JSON.stringify(body);
    if (!pending || pending.json !== json) pending = { json, key: KK.newKey() };
    o.submit.disabled = true;
    let r = null;
    try {
      for (let attempt = 0; attempt < 30; attempt += 1) {
        r = await KK.api("POST", o.path, { token: o.token(), body: json, headers: { "Idempotency-Key": pending.key } });
        const busy = r.status === 429 || (r.error && r.error.code === "request_in_progress");
        if (!busy) break;
        await countdown(o.waitBox, r.retryAfter === null ? 1 : r.retryAfter);
      }
    } finally {
      o.submit.disabled = false;
      KK.hide(o.waitBox);
    }
    if (r.ok) {
      pending = null;
      o.onDone(r.data, body);
    } else if (!o.onError(r)) {
      KK.showError(o.errorBox, r.error);
      if (r.error.code === "validation_error") markServerFields(r.error.fields);
      o.errorBox.scrollIntoView({ block: "nearest" });
    }
  });

  return { validate, markServerFields, reset, setMsg, forget: () => { pending = null; } };
};

// Look-up by national ID and birth date (both pages): fields checked at the field, then
// POST /v1/registrations/lookup. onFound(view, birthIso) gets the registration resource.
KK.lookupForm = function (form, prefix, errorBox, onFound, lang) {
  const el = KK.el;
  const T = KK.FIELD_TEXT;
  const field = (name, th, en, hint) => {
    const id = prefix + "-" + name;
    return el("div", { class: "field" },
      el("label", { for: id }, KK.bi(th, en)),
      el("p", { class: "hint", id: id + "-hint" }, KK.bi(hint[0], hint[1])),
      el("input", { type: "text", id, name, inputmode: "numeric", autocomplete: "off", required: true,
        "aria-describedby": id + "-hint " + id + "-msg" }),
      el("p", { class: "field-msg", id: id + "-msg", "data-msg": name, "aria-live": "polite" }));
  };
  KK.clear(form,
    field("national_id", "เลขประจำตัวประชาชน", "National ID", ["13 หลัก", "13 digits"]),
    field("birth_date", "วันเกิด", "Birth date", ["วว/ดด/ปปปป (พ.ศ.)", "DD/MM/YYYY (BE or CE)"]),
    el("button", { type: "submit" }, KK.bi("ค้นหา", "Look up")));
  const input = (name) => form.elements.namedItem(name);
  const mark = (name, pair) => {
    const box = form.querySelector('[data-msg="' + name + '"]');
    KK.clear(box);
    box.className = "field-msg" + (pair ? " error" : "");
    if (pair) box.append(KK.bi(pair[0], pair[1]));
    input(name).setAttribute("aria-invalid", pair ? "true" : "false");
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    KK.hide(errorBox);
    const id = KK.nationalId(input("national_id").value);
    const birth = KK.birthDate(input("birth_date").value, null);
    mark("national_id", id.ok ? null : (id.reason === "short" ? T.long : T[id.reason]));
    mark("birth_date", birth.ok ? null : T[birth.reason]);
    if (!id.ok || !birth.ok) {
      input(id.ok ? "birth_date" : "national_id").focus();
      return;
    }
    const r = await KK.api("POST", "v1/registrations/lookup", { body: { national_id: id.value, birth_date: birth.iso } });
    if (!r.ok) {
      KK.showError(errorBox, r.error);
      return;
    }
    onFound(r.data, birth.iso);
  });
  KK.applyLang(form, lang || "both");
};
