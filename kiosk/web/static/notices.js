// The kiosk's standing notices (mock pins, camera or scanner missing, no bundle yet),
// Chinese first, English second; shared by the gate's page and the waiting page.
// A page left open across a restart, or across the gate starting, loads itself again:
// its CSRF token belongs to the old process.
"use strict";
(() => {
  const box = document.getElementById("notices");
  const waiting = document.body.dataset.mode === "waiting";
  let boot = null;
  function show(doc) {
    box.replaceChildren(...doc.notices.map((n) => {
      const row = document.createElement("div");
      row.className = "notice " + n.level;
      row.dataset.key = n.key;
      const zh = document.createElement("b"); zh.textContent = n.zh;
      const en = document.createElement("span"); en.textContent = n.en;
      row.append(zh, en);
      if (n.detail) { row.title = n.detail; }
      return row;
    }));
    box.hidden = doc.notices.length === 0;
  }
  async function poll() {
    try {
      const r = await fetch("/api/notices", {cache: "no-store"});
      if (!r.ok) return;
      const doc = await r.json();
      if (boot !== null && doc.boot !== boot) { location.reload(); return; }
      boot = doc.boot;
      if ((doc.phase === "running") === waiting) { location.reload(); return; }
      show(doc);
    } catch (e) { /* the kiosk is restarting: the next poll tells */ }
  }
  poll();
  setInterval(poll, 2000);
})();
