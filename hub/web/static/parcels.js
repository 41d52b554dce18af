// The parcel pages: hold countdowns and the delivery mode a scanner gun types into.
// No inline script (the page's CSP): this file finds its elements by id and data-*.
"use strict";

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(2, "0"), ss = String(r).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

// hold_until comes from the server with the server's "now": count against that, not
// against this device's clock (a tablet's clock may be minutes off).
function startCountdowns(root) {
  const els = document.querySelectorAll("[data-until]");
  if (!els.length) return;
  const offset = parseFloat(root.dataset.now) - Date.now() / 1000;
  const tick = () => {
    const now = Date.now() / 1000 + offset;
    for (const el of els) {
      const left = parseFloat(el.dataset.until) - now;
      const text = left > 0 ? "静置 " + clock(left) : "静置结束 hold over";
      if (el.textContent !== text) el.textContent = text;
      el.classList.toggle("over", left <= 0);
    }
  };
  tick();
  setInterval(tick, 1000);
}

// Each Enter from the gun posts one scan; the answer shows at once and the field is
// ready for the next one. Answers are shown in the order the scans were made.
function startDelivery(form) {
  const input = form.querySelector("input[name=scan]");
  const result = document.getElementById("scan-result");
  const log = document.getElementById("scan-log");
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  const show = (li, ok, message) => {
    li.className = ok ? "ok" : "bad";
    li.textContent = message;
    result.className = ok ? "ok" : "bad";
    result.textContent = message;
  };
  const send = async (text, li) => {
    let answer;
    try {
      const resp = await fetch(form.action, {
        method: "POST", credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRF-Token": csrf },
        body: new URLSearchParams({ scan: text, csrf }),
      });
      answer = await resp.json();
    } catch (err) {
      show(li, false, "网络或登录问题，请刷新页面 Network or sign-in problem: reload the page");
      return;
    }
    show(li, answer.ok, answer.message);
    if (!answer.ok) return;
    if (answer.kind === "venue") {
      const venue = document.getElementById("venue-state");
      venue.className = "ok";
      venue.textContent = answer.message;
      document.getElementById("delivery").dataset.venue = "ok";
    } else if (answer.parcel) {
      const row = document.querySelector(`#run-lines tr[data-parcel="${CSS.escape(answer.parcel)}"]`);
      if (row) {
        row.classList.add("done");
        row.querySelector(".tick").textContent = "✓";
      }
      document.getElementById("delivered").textContent = answer.delivered;
    }
  };
  // One scan at a time, in order: the venue code must reach the hub before the parcels.
  let queue = Promise.resolve();
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value;
    input.value = "";
    input.focus();
    if (!text.trim()) return;
    const li = document.createElement("li");
    li.textContent = "… " + (text.length > 24 ? text.slice(0, 24) + "…" : text);
    log.prepend(li);
    queue = queue.then(() => send(text, li));
  });
}

// The shelf board on a screen in the parcel area: drawn again every minute (new drop-offs,
// pickups), unless someone is typing in the search or filters.
function refreshBoard() {
  setInterval(() => {
    const typing = document.activeElement && /^(INPUT|SELECT|TEXTAREA)$/.test(
      document.activeElement.tagName);
    if (!document.hidden && !typing) location.reload();
  }, 60000);
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.querySelector("[data-now]");
  if (root) startCountdowns(root);
  if (document.getElementById("board")) refreshBoard();
  const scan = document.getElementById("scan-form");
  if (scan) startDelivery(scan);
});
