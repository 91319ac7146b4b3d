// The admin dashboard: the summary as numbers and SVG charts (drawn here, no library), switches
// for the channels, and the CSV exports and reports, fetched with the bearer token and offered
// as downloads (a plain link cannot carry the Authorization header).
"use strict";

(function () {
  const { el, bi, clear, api, showError, hide } = KK;
  const REFRESH_MS = 10000;
  const SVG = "http://www.w3.org/2000/svg";
  const NOT_ADMIN = { code: "forbidden", message: "This token is not an admin token.",
    message_th: "โทเคนนี้ไม่ใช่โทเคนของผู้ดูแลระบบ" };
  const STATES = { pending: ["รอดำเนินการ", "pending"], removed: ["ถอดชื่อแล้ว", "removed"],
    not_found: ["ไม่พบชื่อ", "not found"], failed: ["ล้มเหลว", "failed"] };
  const SHORT_STATUS = { confirmed: ["ยืนยันแล้ว", "confirmed"], reserve: ["สำรอง", "reserve"],
    cancelled: ["ยกเลิกแล้ว", "cancelled"] };
  const REGISTRIES = { mor_phrom: "หมอพร้อม Mor Phrom", khon_kaen_phrom: "ขอนแก่นพร้อม Khon Kaen Phrom" };

  const $ = (id) => document.getElementById(id);
  let summary = null;
  let channels = null;
  const switchedAt = {}; // a switch just flipped wins over a /v1/campaign read that predates it
  let timer = null;

  async function check(candidate) {
    const r = await api("GET", "v1/admin/summary", { token: candidate });
    if (r.ok) {
      summary = r.data;
      return null;
    }
    if (r.status === 401) return KK.REVOKED;
    if (r.status === 403) return NOT_ADMIN;
    return r.error;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Horizontal bars. rows: [{label, value, max?, cls}]; a row with max draws its track (used / capacity).
  function barChart(title, rows) {
    // 400 units wide: legible on a 360-px phone, and not blown up on a desktop (max-width in CSS).
    const rowH = 30;
    const labelW = 170;
    const barW = 140;
    const width = labelW + barW + 90;
    const height = rows.length * rowH + 30;
    const top = Math.max(1, ...rows.map((r) => r.max || r.value));
    const chart = svg("svg", { class: "chart", viewBox: "0 0 " + width + " " + height, role: "img",
      "aria-label": title });
    chart.append(svg("title", {}, title), svg("text", { x: 0, y: 16, "font-weight": 700 }, title));
    rows.forEach((row, i) => {
      const y = 26 + i * rowH;
      const scale = row.max || top;
      chart.append(svg("text", { x: 0, y: y + 17 }, row.label));
      if (row.max) chart.append(svg("rect", { class: "track", x: labelW, y: y + 3, width: barW, height: 20 }));
      const w = scale > 0 ? Math.round((Math.min(row.value, scale) / scale) * barW) : 0;
      chart.append(svg("rect", { class: row.cls || "c0", x: labelW, y: y + 3, width: w, height: 20 }));
      const valueText = row.max ? row.value + " / " + row.max : String(row.value);
      chart.append(svg("text", { x: labelW + barW + 6, y: y + 17 }, valueText));
    });
    return chart;
  }

  function figure(th, en, value, testid) {
    return el("div", { class: "panel" }, el("p", {}, bi(th, en)),
      el("p", { class: "big", "data-testid": testid }, el("strong", { class: "num", text: value })));
  }

  function renderSummary() {
    const s = summary;
    const byChannel = s.registrations.by_channel;
    const byStatus = s.registrations.by_status;
    clear($("figures"),
      figure("ที่นั่งที่ใช้แล้ว", "Places used", s.primary.used + " / " + s.primary.capacity, "primary-used"),
      figure("รายชื่อสำรอง", "Reserve used", s.reserve.used + " / " + s.reserve.capacity, "reserve-used"),
      figure("ยกเลิกแล้ว", "Cancelled", String(byStatus.cancelled), "cancelled"));
    const removals = [];
    Object.entries(s.removals).forEach(([registry, counts]) => {
      Object.keys(STATES).forEach((state, i) => {
        removals.push({ label: (REGISTRIES[registry] || registry).split(" ")[0] + " · " + STATES[state][1],
          value: counts[state] || 0, cls: "c" + i });
      });
    });
    clear($("charts"),
      barChart("ที่นั่ง · Places", [
        { label: "ที่นั่งหลัก primary", value: s.primary.used, max: s.primary.capacity, cls: "c0" },
        { label: "สำรอง reserve", value: s.reserve.used, max: s.reserve.capacity, cls: "c2" },
      ]),
      barChart("การลงทะเบียนตามช่องทาง · By channel", ["app", "counter", "org"].map((name, i) => ({
        label: KK.label(KK.CHANNEL, name).join(" "), value: byChannel[name] || 0, cls: "c" + i }))),
      barChart("ตามสถานะ · By status", ["confirmed", "reserve", "cancelled"].map((name, i) => ({
        label: SHORT_STATUS[name].join(" "), value: byStatus[name] || 0, cls: "c" + [1, 2, 3][i] }))),
      barChart("การถอดชื่อจากระบบอื่น · Removals", removals));
    const [th, en] = KK.momentText(new Date().toISOString());
    clear($("updated"), bi("ปรับปรุงเมื่อ " + th, "updated " + en));
    // The removal sweep counts direct confirmations: the figures are complete up to as_of only.
    if (s.as_of) {
      const [ath, aen] = KK.momentText(s.as_of);
      clear($("as-of"), bi("ตัวเลขการลงทะเบียนครบถึง " + ath + " (ที่ยืนยันหลังจากนั้นจะนับเพิ่มภายในราว 2 นาที)",
        "registration figures as of " + aen + " (later confirmations are added within about 2 minutes)"));
      $("as-of").hidden = false;
    } else {
      hide($("as-of"));
    }
  }

  function renderChannels() {
    const box = $("channels");
    clear(box, ...["app", "counter", "org"].map((name) => {
      const open = channels[name] === "open";
      const [th, en] = KK.label(KK.CHANNEL, name);
      const labelId = "switch-label-" + name;
      const button = el("button", { type: "button", role: "switch", "aria-checked": open ? "true" : "false",
        "aria-labelledby": labelId, "data-channel": name }, open ? "เปิดอยู่ · open" : "ปิดอยู่ · closed");
      button.addEventListener("click", () => flip(name, !open, button));
      return el("div", { class: "switch" }, el("span", { id: labelId }, bi("ช่องทาง" + th, en + " channel")), button);
    }));
  }

  async function flip(name, open, button) {
    button.disabled = true;
    const r = await api("PUT", "v1/admin/channels/" + name, { token: session.token(), body: { open } });
    button.disabled = false;
    if (r.status === 401) return session.expired();
    if (!r.ok) return showError($("admin-error"), r.error);
    hide($("admin-error"));
    switchedAt[name] = Date.now();
    channels[name] = r.data.open ? "open" : "closed";
    renderChannels();
    box(name).focus();
  }

  function box(name) {
    return $("channels").querySelector('[data-channel="' + name + '"]');
  }

  async function refresh() {
    if (!session.token()) return;
    const [s, c] = await Promise.all([
      api("GET", "v1/admin/summary", { token: session.token() }),
      api("GET", "v1/campaign"),
    ]);
    if (s.status === 401) return session.expired();
    if (s.ok) {
      summary = s.data;
      renderSummary();
    }
    if (c.ok) {
      // Every server sees a switch within 3 s: until then the public figure may still be the old one.
      const fresh = Object.assign({}, c.data.channels);
      for (const name of Object.keys(fresh)) {
        if (channels && switchedAt[name] && Date.now() - switchedAt[name] < 5000) fresh[name] = channels[name];
      }
      const focused = document.activeElement && document.activeElement.getAttribute("data-channel");
      channels = fresh;
      renderChannels();
      if (focused) box(focused).focus();
    }
  }

  function nextLink(header) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header || "");
    return m ? m[1] : null;
  }

  // Fetch with the token (following rel="next" pages), then offer the file as a download.
  async function download(path, filename, type, show) {
    hide($("export-error"));
    const parts = [];
    let next = path;
    for (let page = 0; next && page < 1000; page += 1) {
      let response;
      try {
        response = await fetch(KK.BASE + next.replace(/^\//, ""), {
          headers: { Authorization: "Bearer " + session.token() }, cache: "no-store" });
      } catch (e) {
        return showError($("export-error"), { message_th: "ติดต่อระบบไม่ได้", message: "The service could not be reached." });
      }
      if (response.status === 401) return session.expired();
      if (!response.ok) {
        let data = null;
        try {
          data = await response.json();
        } catch (e) {
          data = null;
        }
        return showError($("export-error"), KK.envelopeError(data, response.status));
      }
      parts.push(await response.arrayBuffer()); // bytes as sent: the CSV's BOM stays for spreadsheets
      next = nextLink(response.headers.get("Link"));
    }
    if (show) {
      const text = parts.map((part) => new TextDecoder().decode(part)).join("");
      const pre = $("report");
      pre.hidden = false;
      try {
        pre.textContent = JSON.stringify(JSON.parse(text), null, 2);
      } catch (e) {
        pre.textContent = text;
      }
    }
    offer(parts, filename, type);
  }

  function offer(parts, filename, type) {
    const url = URL.createObjectURL(new Blob(parts, { type }));
    const link = el("a", { href: url, download: filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  const AUDIT_COLUMNS = ["at", "token_id", "role", "label", "action", "status", "target", "suppressed"];

  // One CSV cell as the service's own exports write it: a cell a spreadsheet would read as a
  // formula (a token's label is typed by people) starts with ' and stays text.
  function csvCell(value) {
    let text = value === null || value === undefined ? "" : String(value);
    if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  // The day's audit trail as CSV: every page (next_cursor), 1,000 entries a request, then one file.
  async function downloadAudit(d) {
    hide($("export-error"));
    const lines = [AUDIT_COLUMNS.join(",")];
    let cursor = null;
    for (let page = 0; page < 1000; page += 1) {
      const query = "date=" + d + "&limit=1000" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      const r = await api("GET", "v1/admin/audit?" + query, { token: session.token() });
      if (r.status === 401) return session.expired();
      if (!r.ok) return showError($("export-error"), r.error);
      for (const entry of r.data.entries) lines.push(AUDIT_COLUMNS.map((c) => csvCell(entry[c])).join(","));
      cursor = r.data.next_cursor;
      if (!cursor) break;
    }
    offer(["\ufeff" + lines.join("\r\n") + "\r\n"], "audit-" + d + ".csv", "text/csv;charset=utf-8");
  }

  function dayOrError() {
    const input = $("report-date");
    const value = input.value.trim();
    if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
    showError($("export-error"), { message_th: "กรุณากรอกวันที่แบบ ปปปป-ดด-วว (ค.ศ.)", message: "Enter the day as YYYY-MM-DD." });
    input.focus();
    return null;
  }

  // The day's doses per site: given (dose by dose), missed, booked again, cancelled as no-shows.
  async function showDoses(d) {
    const r = await api("GET", "v1/admin/reports/daily?date=" + d, { token: session.token() });
    if (r.status === 401) return session.expired();
    if (!r.ok) return showError($("export-error"), r.error);
    const doses = r.data.doses;
    const numbers = Object.keys(doses.given);
    const row = (name, f, tag) => el("tr", {}, el(tag, { text: name }),
      ...numbers.map((n) => el(tag, { class: "num", text: f.given[n] })),
      ...[f.missed, f.rebooked, f.no_show_cancelled].map((v) => el(tag, { class: "num", text: v })));
    const head = el("tr", {}, el("th", {}, bi("จุดฉีด", "Site")),
      ...numbers.map((n) => el("th", {}, bi("ฉีดเข็ม " + n, "dose " + n + " given"))),
      el("th", {}, bi("ไม่มาตามนัด", "missed")), el("th", {}, bi("นัดใหม่", "rebooked")),
      el("th", {}, bi("ยกเลิก (ไม่มา)", "no-show cancelled")));
    clear($("doses"),
      el("h3", {}, bi("การฉีดวัคซีนวันที่ " + KK.dateText(d)[0], "Doses of " + KK.dateText(d)[1])),
      el("table", { class: "doses", "data-testid": "doses-table" },
        el("thead", {}, head),
        el("tbody", {}, ...Object.entries(doses.by_site).map(([name, f]) => row(name, f, "td"))),
        el("tfoot", {}, row("รวม / Total", doses, "th"))));
  }

  function buildExports() {
    const csv = "text/csv;charset=utf-8";
    const link = (id, th, en, action) => el("button", { type: "button", class: "secondary", id, onclick: action }, bi(th, en));
    clear($("csv-links"),
      link("csv-all", "ทั้งหมด", "all", () => download("v1/admin/registrations.csv", "registrations.csv", csv)),
      ...["confirmed", "reserve", "cancelled"].map((status) => link("csv-" + status, SHORT_STATUS[status][0],
        SHORT_STATUS[status][1], () => download("v1/admin/registrations.csv?status=" + status, "registrations-" + status + ".csv", csv))));
    const today = KK.todayInBangkok();
    $("report-date").value = KK.iso(today.y, today.m, today.d);
    const day = (fn) => () => {
      const d = dayOrError();
      if (d) fn(d);
    };
    clear($("day-links"),
      link("report-daily", "รายงานประจำวัน", "daily report", day((d) =>
        download("v1/admin/reports/daily?date=" + d, "daily-report-" + d + ".json", "application/json", true))),
      link("doses-day", "การฉีดวัคซีนของวัน", "doses of the day", day(showDoses)),
      link("appointments-csv", "รายชื่อนัดฉีดของวัน", "appointments of the day", day((d) =>
        download("v1/admin/appointments.csv?date=" + d, "appointments-" + d + ".csv", csv))),
      link("audit-log", "บันทึกการใช้งานของเจ้าหน้าที่", "staff audit trail", day((d) =>
        downloadAudit(d))));
  }

  const session = KK.staffSession({
    storageKey: "kk.admin.token",
    title: ["เข้าสู่ระบบผู้ดูแล", "Admin sign-in"],
    tokenLabel: ["โทเคนผู้ดูแล", "Admin token"],
    check,
    onIn: () => {
      buildExports();
      if (summary) renderSummary();
      refresh();
      if (timer === null) timer = setInterval(refresh, REFRESH_MS);
    },
  });
})();
