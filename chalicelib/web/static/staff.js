// Staff sign-in for the counter desk and the admin dashboard. The token lives in sessionStorage
// only (this tab, until it is closed); a wrong or revoked token (401) brings the sign-in back.
"use strict";

KK.REVOKED = { code: "unauthorized", message: "The token is wrong or has been revoked. Sign in again.",
  message_th: "โทเคนไม่ถูกต้องหรือถูกยกเลิกแล้ว กรุณาเข้าสู่ระบบใหม่" };

// options: storageKey; title and tokenLabel as [Thai, English]; check(token) -> Promise of null
// (good) or an error to show; onIn().
KK.staffSession = function (options) {
  const $ = (id) => document.getElementById(id);
  const { el, bi } = KK;
  KK.clear($("signin"),
    el("h2", { id: "signin-title" }, bi(options.title[0], options.title[1])),
    el("div", { id: "signin-error", class: "alert error", role: "alert", hidden: true }),
    el("form", { id: "signin-form", novalidate: true },
      el("div", { class: "field" },
        el("label", { for: "token" }, bi(options.tokenLabel[0], options.tokenLabel[1])),
        el("p", { class: "hint", id: "token-hint" }, bi("เก็บไว้ในแท็บนี้เท่านั้น ปิดแท็บแล้วต้องเข้าสู่ระบบใหม่",
          "Kept in this tab only; closing the tab signs you out")),
        el("input", { type: "password", id: "token", name: "token", autocomplete: "off",
          "aria-describedby": "token-hint", required: true })),
      el("button", { type: "submit" }, bi("เข้าสู่ระบบ", "Sign in"))));
  const input = $("token");
  const errorBox = $("signin-error");
  let token = sessionStorage.getItem(options.storageKey);

  function signOut(error) {
    token = null;
    sessionStorage.removeItem(options.storageKey);
    $("desk").hidden = true;
    $("sign-out").hidden = true;
    $("signin").hidden = false;
    if (error) KK.showError(errorBox, error);
    else KK.hide(errorBox);
    input.value = "";
    input.focus();
  }

  function signedIn() {
    $("signin").hidden = true;
    $("desk").hidden = false;
    $("sign-out").hidden = false;
    KK.hide(errorBox);
    options.onIn();
  }

  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const candidate = input.value.trim();
    if (!candidate) {
      KK.showError(errorBox, { message_th: "กรุณากรอกโทเคน", message: "Please enter the token." });
      input.focus();
      return;
    }
    const problem = await options.check(candidate);
    if (problem) {
      signOut(problem);
      return;
    }
    token = candidate;
    sessionStorage.setItem(options.storageKey, token);
    signedIn();
  });
  $("sign-out").addEventListener("click", () => signOut(null));

  (async function start() {
    if (!token) {
      signOut(null);
      return;
    }
    const problem = await options.check(token);
    if (problem) signOut(problem);
    else signedIn();
  })();

  return {
    token: () => token,
    // Any 401 from a staff endpoint: back to sign-in, saying why.
    expired: () => signOut(KK.REVOKED),
  };
};
