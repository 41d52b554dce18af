// Gatehouse admin page: the live overview (server-sent events) and confirmations.
// No libraries, no CDN: the office LAN may have no internet.
"use strict";

function setText(root, sel, text) {
  const el = root.querySelector(sel);
  if (el && el.textContent !== String(text)) el.textContent = text;
}

function pill(ok, yes, no) {
  const s = document.createElement("span");
  s.className = "pill " + (ok ? "ok" : "bad");
  s.textContent = ok ? yes : no;
  return s;
}

function renderGates(snap) {
  const body = document.querySelector("#gates tbody");
  for (const g of snap.gates) {
    const row = body.querySelector(`tr[data-gate="${CSS.escape(g.id)}"]`);
    if (!row) { location.reload(); return; }  // a new gate: draw the table again
    const state = row.querySelector(".state");
    state.replaceChildren(pill(g.online, "在线 online", "离线 offline"));
    if (g.mock_pins) state.append(" ", pill(false, "", "模拟引脚 no door"));
    setText(row, ".beat", g.heartbeat);
    setText(row, ".outbox", g.outbox ?? "—");
    setText(row, ".pv", (g.policy_version ?? "—") +
      (g.manifest_age !== null && g.manifest_age !== undefined ? ` · 清单 list ${g.manifest_age} s` : ""));
    setText(row, ".fps", g.fps ?? "—");
    const clock = row.querySelector(".clock");
    if (g.clock_trusted === null || g.clock_trusted === undefined) clock.textContent = "—";
    else if (g.clock_trusted) clock.textContent = "已校准 ok";
    else clock.replaceChildren(pill(false, "", "未校准 untrusted"));
    const t = snap.today[g.id] || {};
    setText(row, ".today", `${t.entries || 0} / ${t.exits || 0} / ${t.refusals || 0} / ${t.referrals || 0}`);
  }
}

function renderAlerts(snap) {
  const list = document.getElementById("alerts");
  const items = snap.alerts.map(a => {
    const li = document.createElement("li");
    li.className = "alert";
    li.append(`${a.when} · ${a.gate} · `);
    const b = document.createElement("b");
    b.textContent = a.label;
    li.append(b);
    return li;
  });
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "没有 None";
    items.push(li);
  }
  list.replaceChildren(...items);
}

const POLL_MS = 5000;

function startLive(section) {
  const conn = document.getElementById("t-conn");
  let lastTotals = null;
  const show = (snap) => {
    setText(document, "#t-inside", snap.inside);
    setText(document, "#t-out", snap.out);
    for (const k of ["entries", "exits", "refusals", "referrals"]) setText(document, "#t-" + k, snap.totals[k]);
    setText(document, "#t-policy", "v" + snap.policy_version);
    setText(document, "#t-now", snap.now);
    renderGates(snap);
    renderAlerts(snap);
    const totals = JSON.stringify(snap.today);
    if (lastTotals !== null && totals !== lastTotals) {
      document.getElementById("chart").src = section.dataset.chart + "?t=" + Date.now();
    }
    lastTotals = totals;
  };
  // Each live stream holds a server thread: when enough tabs stream, the server answers
  // 204, EventSource closes for good, and this tab asks for the overview every 5 s.
  const poll = () => {
    conn.dataset.mode = "poll";
    const api = section.dataset.stream.replace(/events$/, "api/overview");
    const tick = async () => {
      try {
        const resp = await fetch(api, {credentials: "same-origin", headers: {Accept: "application/json"}});
        if (resp.ok) {
          show(await resp.json());
          conn.textContent = "每5秒刷新 every 5 s"; conn.className = "pill ok";
        } else {
          conn.textContent = "已断开 stopped"; conn.className = "pill bad";
          if (resp.status === 401) return;           // signed out: nothing more to ask
        }
      } catch (e) {
        conn.textContent = "重连中 reconnecting"; conn.className = "pill warn";
      }
      setTimeout(tick, POLL_MS);
    };
    tick();
  };
  const source = new EventSource(section.dataset.stream);
  source.onopen = () => { conn.dataset.mode = "stream"; conn.textContent = "实时 live"; conn.className = "pill ok"; };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) { source.close(); poll(); return; }
    conn.textContent = "重连中 reconnecting"; conn.className = "pill warn";
  };
  source.onmessage = (ev) => show(JSON.parse(ev.data));
}

document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (live) startLive(live);
  // A form with data-confirm asks first; the server also insists on confirmed=yes.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (ev) => {
      let text = form.dataset.confirm;
      const select = form.querySelector("select");
      if (select) text = text.replace("{choice}", select.options[select.selectedIndex].text);
      if (!window.confirm(text)) { ev.preventDefault(); return; }
      const c = form.querySelector("input[name=confirmed]");
      if (c) c.value = "yes";
    });
  }
  for (const el of document.querySelectorAll("[data-print]")) {
    el.addEventListener("click", () => window.print());
  }
});
