// Shared by the three pages: calling the API, its error envelope, and the field rules of API.md.
// Nothing a person typed, nor any string from the API, is ever inserted as HTML: text nodes only.
"use strict";

window.KK = (function () {
  // ".../static/common.js?v=…" -> ".../": the service's root, whatever prefix it is served under.
  const BASE = new URL("..", document.currentScript.src).href;
  const THAI_DIGITS = "๐๑๒๓๔๕๖๗๘๙";

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // Thai first, English second; each in its own span so a page can show one or both.
  function bi(th, en, tag) {
    return el(tag || "span", { class: "bi" }, el("span", { class: "th", lang: "th", text: th }), " ",
      el("span", { class: "en", lang: "en", text: en }));
  }

  function clear(node, ...children) {
    node.replaceChildren(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }

  function networkError() {
    return { code: "network_error", message: "The service could not be reached. Check the connection and try again.",
      message_th: "ติดต่อระบบไม่ได้ กรุณาตรวจสอบการเชื่อมต่อแล้วลองใหม่" };
  }

  // {status, ok, data, error, retryAfter, headers}; never throws for an HTTP or network failure.
  async function api(method, path, options) {
    const opts = options || {};
    const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    if (opts.token) headers.Authorization = "Bearer " + opts.token;
    let body;
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    }
    let response;
    try {
      response = await fetch(BASE + path.replace(/^\//, ""), { method, headers, body, cache: "no-store" });
    } catch (e) {
      return { status: 0, ok: false, data: null, error: networkError(), retryAfter: null, headers: new Headers() };
    }
    let data = null;
    try {
      data = opts.raw ? await response.text() : await response.json();
    } catch (e) {
      data = null;
    }
    const error = response.ok ? null : envelopeError(data, response.status);
    const retry = Number.parseInt(response.headers.get("Retry-After") || "", 10);
    return { status: response.status, ok: response.ok, data, error, headers: response.headers,
      retryAfter: Number.isFinite(retry) && retry >= 0 ? retry : null };
  }

  function envelopeError(data, status) {
    const e = data && typeof data === "object" && data.error && typeof data.error === "object" ? data.error : null;
    if (e && typeof e.message === "string" && typeof e.message_th === "string") {
      return { code: String(e.code || ""), message: e.message, message_th: e.message_th,
        fields: Array.isArray(e.fields) ? e.fields.map(String) : [] };
    }
    return { code: "http_" + status, message: "The service answered with an unexpected error (" + status + ").",
      message_th: "ระบบตอบกลับด้วยข้อผิดพลาดที่ไม่คาดคิด (" + status + ")", fields: [] };
  }

  // An error box: Thai first, English second, announced to screen readers.
  function showError(box, error) {
    box.hidden = false;
    clear(box, el("p", { class: "th", lang: "th", text: error.message_th }),
      el("p", { class: "en", lang: "en", text: error.message }));
  }

  function hide(box) {
    box.hidden = true;
    clear(box);
  }

  function digitsOf(raw) {
    let out = "";
    for (const ch of String(raw)) {
      const thai = THAI_DIGITS.indexOf(ch);
      out += thai >= 0 ? String(thai) : ch;
    }
    return out;
  }

  // The same algorithm as chalicelib/domain/rules.py: digit 13 = (11 - Σ dᵢ·(14-i) mod 11) mod 10.
  function checkDigit(first12) {
    let total = 0;
    for (let i = 0; i < 12; i += 1) total += Number(first12[i]) * (13 - i);
    return (11 - (total % 11)) % 10;
  }

  // {ok, value, reason}: reason is "empty", "chars", "short", "long" or "check".
  function nationalId(raw) {
    const value = digitsOf(raw).replace(/[ -]/g, "");
    if (value === "") return { ok: false, value, reason: "empty" };
    if (!/^[0-9]+$/.test(value)) return { ok: false, value, reason: "chars" };
    if (value.length < 13) return { ok: false, value, reason: "short" };
    if (value.length > 13) return { ok: false, value, reason: "long" };
    if (checkDigit(value) !== Number(value[12])) return { ok: false, value, reason: "check" };
    return { ok: true, value, reason: null };
  }

  function todayInBangkok() {
    const now = new Date(Date.now() + 7 * 3600 * 1000); // Thailand is UTC+7 all year
    return { y: now.getUTCFullYear(), m: now.getUTCMonth() + 1, d: now.getUTCDate() };
  }

  function iso(y, m, d) {
    return String(y).padStart(4, "0") + "-" + String(m).padStart(2, "0") + "-" + String(d).padStart(2, "0");
  }

  // Accepts YYYY-MM-DD or DD/MM/YYYY; a year past 2400 is Buddhist Era (BE = CE + 543), as Thai
  // ID cards print it. {ok, iso, age, reason}: reason is "empty", "format", "invalid", "future" or "young".
  function birthDate(raw, minAge) {
    const text = digitsOf(raw).trim();
    if (text === "") return { ok: false, reason: "empty" };
    let m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(text);
    let y, mo, d;
    if (m) {
      [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    } else {
      m = /^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$/.exec(text);
      if (!m) return { ok: false, reason: "format" };
      [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
    }
    if (y > 2400) y -= 543;
    const probe = new Date(Date.UTC(y, mo - 1, d));
    if (y < 1900 || probe.getUTCFullYear() !== y || probe.getUTCMonth() !== mo - 1 || probe.getUTCDate() !== d) {
      return { ok: false, reason: "invalid" };
    }
    const today = todayInBangkok();
    const value = iso(y, mo, d);
    if (value > iso(today.y, today.m, today.d)) return { ok: false, iso: value, reason: "future" };
    const age = today.y - y - ((today.m < mo || (today.m === mo && today.d < d)) ? 1 : 0);
    if (typeof minAge === "number" && age < minAge) return { ok: false, iso: value, age, reason: "young" };
    return { ok: true, iso: value, age, reason: null };
  }

  // Thai mobile number: 10 digits starting 06, 08 or 09; +66, spaces and dashes accepted.
  function phone(raw) {
    let value = String(raw).replace(/[ -]/g, "");
    if (value.startsWith("+66")) value = "0" + value.slice(3);
    return /^0[689]\d{8}$/.test(value) ? { ok: true, value } : { ok: false, value };
  }

  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const STATUS = {
    confirmed: ["ยืนยันแล้ว ได้รับสิทธิ์ฉีดวัคซีน", "Confirmed: you have a place"],
    reserve: ["อยู่ในรายชื่อสำรอง", "On the reserve list"],
    cancelled: ["ยกเลิกแล้ว", "Cancelled"],
  };
  const VISIT = { booked: ["นัดไว้", "booked"], done: ["ฉีดแล้ว", "given"], missed: ["ไม่มาตามนัด", "missed"] };
  const CHANNEL = { app: ["แอป/เว็บ", "app/web"], counter: ["จุดบริการ", "counter"], org: ["หน่วยงาน", "employer"] };
  const BASIS = {
    house_registration: ["มีทะเบียนบ้านในเขตเทศบาล", "House registration in the municipality"],
    works_in_municipality: ["ทำงานในเขตเทศบาล", "Works in the municipality"],
    lives_without_house_number: ["อาศัยในเขตเทศบาล (ไม่มีบ้านเลขที่)", "Lives in the municipality without a house number"],
  };
  const THAI_MONTHS = ["ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค."];
  const EN_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  // "2026-07-20" -> ["20 ก.ค. 2569", "20 Jul 2026"]
  function dateText(value) {
    const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(value || ""));
    if (!m) return [String(value || "-"), String(value || "-")];
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    return [d + " " + THAI_MONTHS[mo - 1] + " " + (y + 543), d + " " + EN_MONTHS[mo - 1] + " " + y];
  }

  function label(table, key) {
    return table[key] || [String(key), String(key)];
  }

  // The reasons of nationalId() and birthDate(), as [Thai, English].
  const FIELD_TEXT = {
    empty: ["กรุณากรอกช่องนี้", "Please fill in this field"],
    chars: ["ใช้ได้เฉพาะตัวเลข", "Digits only"],
    long: ["เลขประจำตัวประชาชนมี 13 หลัก", "A national ID has 13 digits"],
    check: ["เลขประจำตัวประชาชนไม่ถูกต้อง (หลักตรวจสอบไม่ตรง)", "This national ID is not valid (wrong check digit)"],
    format: ["รูปแบบวันที่: วว/ดด/ปปปป (พ.ศ. หรือ ค.ศ.) หรือ ปปปป-ดด-วว", "Date format: DD/MM/YYYY (BE or CE) or YYYY-MM-DD"],
    invalid: ["ไม่มีวันที่นี้", "This date does not exist"],
    future: ["วันเกิดอยู่ในอนาคต", "The birth date is in the future"],
    phone: ["เบอร์มือถือ 10 หลัก ขึ้นต้นด้วย 06, 08 หรือ 09", "A 10-digit mobile number starting 06, 08 or 09"],
    consent: ["ต้องยินยอมให้ใช้ข้อมูลส่วนบุคคล", "Consent to the use of personal data is required"],
    invalid_field: ["ข้อมูลในช่องนี้ไม่ถูกต้อง", "This field is not valid"],
  };

  function youngText(minAge, age) {
    return ["อายุ " + age + " ปี ยังไม่ถึงเกณฑ์ " + minAge + " ปี", "Age " + age + ": under the minimum age of " + minAge];
  }

  // "2026-07-06T08:15:00Z" -> ["6 ก.ค. 2569 15:15", "6 Jul 2026 15:15"], in Bangkok time.
  function momentText(value) {
    const at = new Date(String(value || ""));
    if (Number.isNaN(at.getTime())) return [String(value || "-"), String(value || "-")];
    const local = new Date(at.getTime() + 7 * 3600 * 1000);
    const day = iso(local.getUTCFullYear(), local.getUTCMonth() + 1, local.getUTCDate());
    const time = String(local.getUTCHours()).padStart(2, "0") + ":" + String(local.getUTCMinutes()).padStart(2, "0");
    const [th, en] = dateText(day);
    return [th + " " + time + " น.", en + " " + time];
  }

  // The big answer: status (with the reserve rank), then the receipt code and the dates.
  function statusHeadline(view) {
    if (view.status === "reserve") {
      return ["สำรอง ลำดับที่ " + view.reserve_rank, "Reserve list, rank " + view.reserve_rank];
    }
    return label(STATUS, view.status);
  }

  function shotText(view) {
    if (view.appointment && view.appointment.date) {
      const [th, en] = dateText(view.appointment.date);
      return [["วันนัดฉีดวัคซีน", "Appointment"], [th + " · " + view.appointment.site, en + " · " + view.appointment.site]];
    }
    if (view.status !== "cancelled" && view.expected_date) {
      return [["วันที่คาดว่าจะได้ฉีด", "Expected date"], dateText(view.expected_date)];
    }
    return null;
  }

  function viewBox(view) {
    // A lookup answers without the receipt code (contract v1.1): the row shows only when it is known.
    const rows = view.registration_id ? [
      [["รหัสรับลงทะเบียน", "Receipt code"], null, el("span", { class: "code", "data-testid": "receipt-code",
        text: view.registration_id })],
    ] : [];
    rows.push(
      [["ลงทะเบียนทาง", "Channel"], label(CHANNEL, view.channel)],
      [["ลงทะเบียนเมื่อ", "Registered at"], momentText(view.registered_at)]);
    const shot = shotText(view);
    if (shot) rows.push([shot[0], shot[1]]);
    for (const a of view.appointments || []) {
      const [th, en] = dateText(a.date);
      const [sth, sen] = label(VISIT, a.status);
      rows.push([["เข็มที่ " + a.dose, "Dose " + a.dose], [th + " · " + a.site + " · " + sth, en + " · " + a.site + " · " + sen]]);
    }
    if (view.cancel_reason === "no_show") {
      rows.push([["เหตุที่ยกเลิก", "Cancelled because"], ["ไม่มาตามนัดเข็มที่ 1 สองครั้ง", "first dose missed twice"]]);
    }
    const dl = el("dl");
    for (const [name, value, node] of rows) {
      dl.append(el("dt", {}, bi(name[0], name[1])), el("dd", {}, node || bi(value[0], value[1])));
    }
    const [th, en] = statusHeadline(view);
    return el("div", { class: "result " + view.status, "data-status": view.status },
      el("p", { class: "big", "data-testid": "status-headline" }, el("span", { class: "th", lang: "th", text: th }),
        el("br", { class: "en" }), el("span", { class: "en", lang: "en", text: en })),
      dl);
  }

  return { BASE, momentText, statusHeadline, shotText, viewBox, el, bi, clear, api, envelopeError, showError, hide, nationalId, birthDate, phone, checkDigit,
    newKey, todayInBangkok, iso, dateText, label, STATUS, CHANNEL, VISIT, BASIS, FIELD_TEXT, youngText };
})();
