// The waiting room on the public page (contract v1.2): join the line as soon as the phone is
// verified, show the place, the people ahead, the estimated wait and a progress bar; the form stays
// open while waiting and is sent the moment the person is admitted (with the admission token).
// While waiting it reads the shared GET /v1/queue (cached for everyone); its own ticket only until
// its position is known and once serving has reached it (for the admission token).
"use strict";

KK.line = function (panel, hooks) {
  const { el, bi, clear, api } = KK;
  const $ = (name) => panel.querySelector('[data-line="' + name + '"]');
  const LINE_MS = 3000;  // the shared answer is cached for 2 s: asking more often gains nothing

  // off: no waiting room (404): registrations need no admission. Otherwise the ticket and its state.
  let off = false;
  let ticket = null;
  let view = null;
  let admission = null;  // {token, until}
  let firstAhead = null;
  let sendWhenAdmitted = false;
  let timer = null;
  let verificationToken = null;

  function later(ms, fn) {
    clearTimeout(timer);
    timer = setTimeout(fn, Math.max(250, ms));
  }

  async function join(token) {
    verificationToken = token;
    const r = await api("POST", "v1/queue", { body: { verification_token: token } });
    if (r.status === 404) {
      off = true;
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    if (r.ok) {
      ticket = r.data.ticket;
      show(r.data);
      return;
    }
    const code = r.error.code;
    if (code === "phone_not_verified") {
      hooks.reverify();
      return;
    }
    message(code === "queue_not_open" ? "not_open" : code === "registration_full" ? "full" : "error", r.error);
    if (code !== "registration_full") later(r.retryAfter !== null ? r.retryAfter * 1000 : 20000, () => join(token));
  }

  // The ticket as the service answered it: what to show, and when to ask again.
  function show(data) {
    view = data;
    if (data.status === "admitted" && data.admission_token) {
      admission = { token: data.admission_token, until: data.admitted_until };
      render();
      if (sendWhenAdmitted) {
        sendWhenAdmitted = false;
        hooks.send();
      }
      return;
    }
    admission = null;
    render();
    if (data.status === "waiting") {
      if (data.position === null) later(data.poll_after_s * 1000, readTicket);
      else later(LINE_MS, readLine);
    }
  }

  async function readTicket() {
    const r = await api("GET", "v1/queue/" + encodeURIComponent(ticket));
    if (r.ok) show(r.data);
    else later(r.retryAfter !== null ? r.retryAfter * 1000 : 5000, readTicket);
  }

  // The shared line: serving moves on without asking about this ticket again.
  async function readLine() {
    const r = await api("GET", "v1/queue");
    if (!r.ok) {
      later(r.retryAfter !== null ? r.retryAfter * 1000 : LINE_MS, readLine);
      return;
    }
    const line = r.data;
    if (line.status === "full") {
      show(Object.assign({}, view, { status: "full" }));
      return;
    }
    if (line.serving >= view.position) {
      readTicket();  // its turn: the admission token comes with its own ticket
      return;
    }
    const ahead = view.position - line.serving;
    const wait = line.admit_per_minute > 0 ? Math.ceil((ahead * 60) / line.admit_per_minute) : null;
    view = Object.assign({}, view, { ahead, estimated_wait_s: wait });
    render();
    later(LINE_MS, readLine);
  }

  function message(kind, error) {
    const box = $("status");
    box.dataset.state = kind;
    clear(box, el("p", { class: "th", lang: "th", text: error.message_th }),
      el("p", { class: "en", lang: "en", text: error.message }));
    $("figures").hidden = true;
  }

  function waitText(seconds) {
    if (seconds === null || seconds === undefined) return ["ยังไม่ทราบ", "not known yet"];
    if (seconds < 60) return ["ไม่ถึง 1 นาที", "under a minute"];
    const minutes = Math.ceil(seconds / 60);
    return ["ประมาณ " + minutes + " นาที", "about " + minutes + " min"];
  }

  function render() {
    const box = $("status");
    box.dataset.state = view.status;
    const figures = $("figures");
    figures.hidden = view.position === null || view.status !== "waiting";
    if (view.status === "admitted") {
      const [th, en] = KK.momentText(view.admitted_until);
      clear(box, bi("ถึงคิวของท่านแล้ว กรุณาลงทะเบียนภายใน " + th,
        "It is your turn: register by " + en, "p"));
      setProgress(100);
    } else if (view.status === "expired") {
      clear(box, bi("หมดเวลาลงทะเบียนของคิวนี้แล้ว", "Your turn in the line has expired.", "p"));
    } else if (view.status === "full") {
      clear(box, bi("ที่นั่งและรายชื่อสำรองเต็มแล้ว คิวหยุดแล้ว", "All places and the reserve are taken: the line has stopped.", "p"));
    } else if (view.position === null) {
      const before = view.opens_at && new Date(view.opens_at).getTime() > Date.now();
      clear(box, before
        ? bi("ท่านอยู่ในคิวแล้ว ลำดับจะสุ่มเมื่อเปิดลงทะเบียน " + KK.momentText(view.opens_at)[0],
          "You are in the line. Places are drawn at random when registration opens, " + KK.momentText(view.opens_at)[1], "p")
        : bi("ท่านอยู่ในคิวแล้ว กำลังจัดลำดับ…", "You are in the line; your place is being given…", "p"));
    } else {
      clear(box, bi("ท่านอยู่ในคิวแล้ว", "You are in the line", "p"));
      if (firstAhead === null || view.ahead > firstAhead) firstAhead = Math.max(1, view.ahead);
      clear($("position"), String(view.position));
      clear($("ahead"), String(view.ahead));
      const [th, en] = waitText(view.estimated_wait_s);
      clear($("wait"), bi(th, en));
      setProgress(Math.round((100 * (firstAhead - view.ahead)) / firstAhead));
    }
    const waitingForTurn = sendWhenAdmitted && view.status === "waiting";
    $("queued").hidden = !waitingForTurn;
    hooks.changed(view.status);
  }

  function setProgress(percent) {
    const bar = $("progress");
    bar.value = Math.max(0, Math.min(100, percent));
    bar.textContent = bar.value + "%";
    clear($("percent"), bar.value + "%");
  }

  return {
    join,
    // The registration may go now (true); else it goes by itself once admitted.
    ready() {
      if (off || admission) return true;
      if (view && view.status !== "waiting") {
        panel.scrollIntoView({ block: "nearest" });
        return false;
      }
      sendWhenAdmitted = true;
      if (view) render();
      return false;
    },
    // Fields the registration carries: the admission token while the waiting room is on.
    extra() {
      return admission ? { admission_token: admission.token } : {};
    },
    // 403 admission_required: back to the line (the ticket says where it stands).
    back() {
      admission = null;
      if (ticket) readTicket();
      else if (verificationToken) join(verificationToken);
    },
    active: () => !off,
  };
};
