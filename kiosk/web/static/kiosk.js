// The gate screen: renders the state streamed from /events; actions POST with the CSRF token.
"use strict";
const $ = (id) => document.getElementById(id);
const TOKEN = document.querySelector('meta[name="csrf-token"]').content;
const REASONS = JSON.parse($("reasons").textContent);
let state = null, lang = localStorage.getItem("lang") || "zh";
let voice = localStorage.getItem("voice") !== "off";
let countdown = null, lastResultKey = null;
let pkCode = "", pkMsgUntil = 0, lastFlashAt = null, pkShelves = null;

const T = {
  online: ["已连接", "Online"], offline: ["离线", "Offline"], none: ["单机", "Standalone"],
  clockOk: ["时钟已校准", "Clock OK"], clockBad: ["时钟未校准", "Clock not verified"],
  policy: ["策略", "Policy"], backlog: ["待上传", "To send"], camera: ["摄像头", "Camera"],
  camBad: ["摄像头无画面", "No camera"], admit: ["通行", "ENTER"], refer: ["请稍候", "WAIT"],
  refuse: ["禁止通行", "NO ENTRY"], inLane: ["进", "IN"], outLane: ["出", "OUT"],
  signin: ["志愿者登录", "Volunteer sign-in"], signout: ["退出登录", "Sign out"],
  who: ["请选择您的名字", "Choose your name"], pin: ["请输入密码", "Enter your PIN"],
  wrong: ["密码错误，还可尝试 ", "Wrong PIN, tries left: "], locked: ["已锁定，请稍后再试或联系组长",
    "Locked: try later or ask a lead"], needVolunteer: ["请志愿者登录处理", "A volunteer must sign in"],
  admitBtn: ["放行", "Admit"], refuseBtn: ["拒绝", "Refuse"], why: ["请选择原因", "Choose a reason"],
  today: ["今日统计", "Today"], voiceOn: ["语音 开", "Voice on"], voiceOff: ["语音 关", "Voice off"],
  parcels: ["取件区", "Parcels"], noManifest: ["尚未收到包裹清单", "No shelf list yet"],
  badCode: ["取件码不存在，还可尝试 ", "No such pickup code, tries left: "],
  paused: ["输错次数过多，请稍候再试：", "Too many wrong codes, wait: "],
  pinPaused: ["本屏密码错误过多，暂停登录：", "Too many wrong PINs on this screen, wait: "],
  noParcels: ["没有待取的包裹", "No parcels for you"],
  ready: ["可取", "ready"], held: ["静置中", "on hold"], taken: ["已取", "taken"],
  doneShort: ["已完成", "Done"], minutes: ["还需静置 %s 分钟", "%s min to go"],
  fresh: ["生鲜", "fresh"], frozen: ["冷冻", "frozen"], keyWaybill: ["输入运单号", "Key a waybill"],
  noPickup: ["请先出示出入证或输入取件码", "Show a pass or key a pickup code first"],
};
const t = (k) => T[k][lang === "zh" ? 0 : 1];

async function post(url, body) {
  const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json",
    "X-CSRF-Token": TOKEN}, body: JSON.stringify(body || {})});
  let data = {};
  try { data = await r.json(); } catch (e) { /* no body */ }
  return {status: r.status, ...data};
}

function pill(id, text, cls) { const el = $(id); el.textContent = text; el.className = "pill " + (cls || ""); }

function renderStrip(s) {
  const st = s.status;
  pill("s-hub", "● " + t(st.hub), st.hub === "online" ? "ok" : st.hub === "offline" ? "bad" : "warn");
  pill("s-clock", st.clock_trusted ? t("clockOk") : t("clockBad"), st.clock_trusted ? "ok" : "bad");
  pill("s-policy", t("policy") + " v" + st.policy_version);
  pill("s-backlog", t("backlog") + " " + (st.backlog === null ? "—" : st.backlog),
       st.backlog > 100 ? "warn" : "");
  if (st.fault) {  // the log cannot be written: nobody is admitted until it can
    pill("s-backlog", lang === "zh" ? "⚠ 记录失败，暂停放行" : "⚠ Log failing: no admits", "bad");
  }
  pill("s-camera", st.camera_ok ? t("camera") + " ✓ " + st.decoder : t("camBad"), st.camera_ok ? "" : "bad");
  pill("s-gate", s.gate.id + " · " + (s.gate.direction === "in" ? t("inLane") : t("outLane")), "strong");
  $("s-volunteer").textContent = s.volunteer ? "👤 " + s.volunteer.name : "";
  $("s-volunteer").className = s.volunteer ? "pill ok" : "";
  $("b-signin").firstChild.textContent = s.volunteer ? t("signout") : t("signin");
  const parcels = s.gate.role === "parcels";
  if (parcels) pill("s-gate", s.gate.id + " · " + t("parcels"), "strong");
  $("b-direction").hidden = !s.volunteer || parcels;
  $("b-manual").hidden = !s.volunteer || parcels;
  $("b-waybill").hidden = !s.volunteer || !(parcels || s.mode === "courier");
  $("b-visitor").hidden = !s.volunteer;
  $("b-counts").hidden = !s.volunteer;
}

function say(name) {
  if (!voice) return;
  const a = new Audio("/voice/" + name + ".wav");
  a.play().catch(() => {});
}

function renderResult(r) {
  document.body.classList.remove("admit", "refer", "refuse");
  if (!r) { $("r-actions").dataset.key = ""; return; }
  document.body.classList.add(r.outcome);
  $("r-word").textContent = (r.outcome === "admit" ? "✓ " : r.outcome === "refuse" ? "✗ " : "… ") + t(r.outcome);
  $("r-name").textContent = r.name || "";
  $("r-text").textContent = lang === "zh" ? r.zh : r.en;
  $("r-text2").textContent = lang === "zh" ? r.en : r.zh;
  // Rebuilt only when what it offers changes: a button replaced between a finger's
  // press and release loses the tap (every state push would otherwise rebuild it).
  const box = $("r-actions");
  const actionsKey = [!!r.referral, !!state.volunteer, lang, r.outcome, r.name].join("|");
  if (box.dataset.key !== actionsKey) {
    box.dataset.key = actionsKey;
    box.replaceChildren();
    if (r.referral && state.volunteer) {
      box.append(button(t("admitBtn"), "primary", () => chooseReason("admit")),
                 button(t("refuseBtn"), "danger", () => chooseReason("refuse")));
    } else if (r.referral) {
      box.append(button(t("needVolunteer"), "secondary", openSignIn));
    }
  }
  countdown = r.seconds_left;
  $("r-count").textContent = countdown > 0 ? countdown : "";
  const key = r.outcome + r.name + r.zh;
  if (key !== lastResultKey) { lastResultKey = key; say(r.outcome); }
}

function renderCourier(c) {
  $("c-company").textContent = c.company; $("c-name").textContent = c.name;
  $("c-count").textContent = c.count;
  $("c-room").textContent = c.room || "—";
  $("c-fresh").setAttribute("aria-pressed", c.fresh); $("c-frozen").setAttribute("aria-pressed", c.frozen);
  $("c-scanpass").setAttribute("aria-pressed", c.room_from_pass);
  $("c-list").replaceChildren(...c.parcels.map((p, i) => {
    const li = document.createElement("li");
    li.value = c.count - i;  // newest first, numbered as scanned
    li.textContent = `${p.waybill}  ${p.carrier_name || ""}  ${p.room || "—"}` +
      (p.fresh ? " 生鲜" : "") + (p.frozen ? " 冷冻" : "");
    return li;
  }));
}

function render(s) {
  state = s;
  document.body.dataset.mode = s.mode;
  renderStrip(s);
  if (s.mode === "ready") {
    renderResult(null);
    const p = s.prompt || s.ready;
    $("prompt-zh").textContent = lang === "zh" ? p.zh : p.en;
    $("prompt-en").textContent = lang === "zh" ? p.en : p.zh;
    $("prompt-name").textContent = s.prompt ? s.prompt.name || "" : "";
    lastResultKey = null;
  } else if (s.mode === "result") {
    renderResult(s.result);
  } else if (s.mode === "courier") {
    renderResult(null);
    renderCourier(s.courier);
  } else if (s.mode === "pickup") {
    renderResult(null);
    renderPickup(s.pickup);
  }
  document.body.classList.toggle("pk-wrong", s.mode === "pickup" && !!s.pickup.flash);
}

// The parcel area: the slots of the open pickup, a red flash for a wrong parcel.
const both = (zh, en) => lang === "zh" ? [zh, en] : [en, zh];

function pickupRow(p) {
  const li = document.createElement("li");
  li.className = "pk-" + p.state; li.dataset.parcel = p.parcel; li.dataset.state = p.state;
  const mark = document.createElement("span"); mark.className = "pk-mark";
  mark.textContent = p.state === "taken" ? "✓" : p.state === "held" ? "○" : "▸";
  const slot = document.createElement("b"); slot.className = "pk-slot";
  slot.textContent = p.state === "held" ? t("minutes").replace("%s", p.minutes_left) : p.slot;
  const info = document.createElement("span"); info.className = "pk-info";
  info.textContent = [p.code, p.carrier, p.waybill, p.fresh ? t("fresh") : "", p.frozen ? t("frozen") : ""]
    .filter(Boolean).join(" · ");
  li.append(mark, slot, info);
  return li;
}

function renderPickup(pk) {
  const open = pk.pickup;
  $("pk-idle").hidden = !!open;
  $("pk-open").hidden = !open;
  if (open) {
    $("pk-household").textContent = open.household;
    const counts = `${t("ready")}${open.ready} ${t("held")}${open.held} ${t("taken")}${open.taken}`;
    $("pk-summary").textContent = open.ended ? `${t("doneShort")} · ${t("taken")} ${open.taken}`
      : open.parcels.length ? counts : t("noParcels");
    $("pk-list").replaceChildren(...open.parcels.map(pickupRow));
    $("pk-done").hidden = open.ended;
  }
  const f = pk.flash;
  $("pk-flash").hidden = !f;
  if (f) {
    const [main, other] = both(f.zh, f.en);
    $("pk-flash-word").textContent = "✗ " + main;
    $("pk-flash-text").textContent = other;
    const lines = [];  // [main language, the other one below, small]
    if (f.put_back) lines.push(both("请放回 " + f.put_back, "Put it back at " + f.put_back));
    const slots = f.right_slots.join("  ");
    lines.push(f.right_slots.length ? both("您的包裹在 " + slots, "Yours: " + slots)
      : both("您暂无可取的包裹", "Nothing ready for you"));
    $("pk-flash-slots").replaceChildren(...lines.map(([main, other]) => {
      const d = document.createElement("div"); d.textContent = main;
      const s = document.createElement("small"); s.textContent = other;
      d.append(s); return d;
    }));
    if (f.at !== lastFlashAt) { lastFlashAt = f.at; say("wrong_parcel"); }
  }
  const paused = pk.paused_s > 0;
  for (const b of document.querySelectorAll("#pk-keys button, #pk-letters button")) b.disabled = paused;
  $("pk-note").textContent = paused ? t("paused") + pk.paused_s + " s"
    : pk.notice ? (lang === "zh" ? pk.notice.zh : pk.notice.en)
    : pk.manifest_version === null ? t("noManifest") : "";
  const shelves = pk.shelves.join(",");
  if (shelves !== pkShelves) {  // a letter key per shelf the manifest uses
    pkShelves = shelves;
    $("pk-letters").replaceChildren(...pk.shelves.map((l) => pickupKey(l)));
  }
  if (Date.now() > pkMsgUntil) $("pk-msg").textContent = "";
}

function showPickupCode() { $("pk-code").textContent = pkCode || "\u00a0"; }

function pickupKey(k) {
  const b = button(k, k === "OK" ? "primary" : "", async () => {
    if (k === "⌫") pkCode = pkCode.slice(0, -1);
    else if (k === "C") pkCode = "";
    else if (k !== "OK") pkCode = (pkCode + k).slice(0, 16);
    showPickupCode();
    if (k === "OK" && pkCode) {
      const r = await post("/api/pickup", {code: pkCode});
      pkCode = ""; showPickupCode();
      pkMsgUntil = Date.now() + 5000;
      $("pk-msg").textContent = r.ok ? "" : r.reason === "unknown" ? t("badCode") + r.tries_left
        : r.reason === "paused" ? t("paused") + Math.max(0, Math.ceil(r.paused_until - Date.now() / 1000)) + " s"
        : r.reason === "no_manifest" ? t("noManifest") : (r.reason || "");
    }
  });
  b.dataset.key = k;
  return b;
}

function pickupKeys() {
  $("pk-keys").replaceChildren(...["1", "2", "3", "⌫", "4", "5", "6", "-", "7", "8", "9", "C", "0", "OK"]
    .map(pickupKey));
  $("pk-done").onclick = () => post("/api/pickup", {done: true});
  $("b-waybill").onclick = keyWaybill;
  showPickupCode();
}

function keyWaybill() {
  // A label the camera cannot read: the volunteer keys the number (a drop-off's parcel,
  // or the parcel a resident is taking).
  const courier = state && state.mode === "courier";
  const input = document.createElement("input");
  input.id = "wb-input"; input.className = "field"; input.autocomplete = "off";
  input.placeholder = lang === "zh" ? "运单号，如 SF1234567890123" : "Waybill, e.g. SF1234567890123";
  const ok = button(lang === "zh" ? "核对 Check" : "Check", "primary", async () => {
    const r = await post(courier ? "/api/courier" : "/api/pickup",
                         {waybill: input.value.trim().toUpperCase()});
    if (r.status === 200) { closeOverlay(); return; }
    $("o-msg").textContent = r.status === 409 ? t("noPickup") : (r.reason || "");
  });
  ok.id = "wb-ok";
  overlay(t("keyWaybill"), [input, ok]);
  input.focus();
}

function button(text, cls, onclick) {
  const b = document.createElement("button");
  b.textContent = text; b.className = cls || ""; b.onclick = onclick; return b;
}

function overlay(title, nodes) {
  $("o-title").textContent = title;
  $("o-body").replaceChildren(...nodes);
  $("o-msg").textContent = "";
  $("overlay").hidden = false;
}
function closeOverlay() { $("overlay").hidden = true; }

function openSignIn() {
  const grid = document.createElement("div"); grid.className = "grid";
  for (const v of state.volunteers) {
    const b = button(v.name + (v.role === "lead" ? " ★" : ""), v.locked ? "secondary" : "", () => pinPad(v));
    b.dataset.volunteer = v.id;
    grid.append(b);
  }
  overlay(t("who"), [grid]);
}

function pinPad(v) {
  let pin = "";
  const dots = document.createElement("div"); dots.className = "pin-dots"; dots.id = "pin-dots";
  const pad = document.createElement("div"); pad.className = "keypad";
  const show = () => { dots.textContent = "●".repeat(pin.length) || "\u00a0"; };
  for (const k of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "⌫", "0", "OK"]) {
    const b = button(k, k === "OK" ? "primary" : "", async () => {
      if (k === "⌫") { pin = pin.slice(0, -1); show(); return; }
      if (k !== "OK") { if (pin.length < 8) pin += k; show(); return; }
      $("o-msg").textContent = "";
      const r = await post("/api/signin", {volunteer: v.id, pin});
      pin = ""; show();
      if (r.ok) { closeOverlay(); return; }
      $("o-msg").textContent = r.reason === "locked" ? t("locked")
        : r.reason === "paused" ? t("pinPaused") + Math.ceil(r.locked_until - Date.now() / 1000) + " s"
        : t("wrong") + r.tries_left;
    });
    b.dataset.key = k;
    pad.append(b);
  }
  show();
  overlay(v.name + " · " + t("pin"), [dots, pad]);
}

function chooseReason(decision) {
  const grid = document.createElement("div"); grid.className = "grid";
  for (const [code, zh, en] of REASONS[decision]) {
    const b = button(lang === "zh" ? zh : en, decision === "admit" ? "primary" : "danger", async () => {
      const r = await post("/api/referral", {decision, reason: code});
      if (r.ok) closeOverlay(); else $("o-msg").textContent = r.reason || "";
    });
    b.dataset.reason = code;
    grid.append(b);
  }
  overlay(t("why"), [grid]);
}

function manualAdmit() {
  // An elderly resident without a phone: the volunteer keys the ID and checks the card.
  let id = "", attest = false;
  const shown = document.createElement("div"); shown.className = "pin-dots"; shown.id = "id-shown";
  const pad = document.createElement("div"); pad.className = "keypad";
  const show = () => { shown.textContent = id || "\u00a0"; };
  for (const k of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "X", "0", "⌫"]) {
    const b = button(k, "", () => { id = k === "⌫" ? id.slice(0, -1) : (id + k).slice(0, 18); show(); });
    b.dataset.key = k;
    pad.append(b);
  }
  const check = button(lang === "zh" ? "我已核验本人身份证件" : "I checked the ID card", "toggle", () => {
    attest = !attest; check.setAttribute("aria-pressed", attest);
  });
  check.id = "attest"; check.setAttribute("aria-pressed", "false");
  const ok = button(lang === "zh" ? "核验放行" : "Check and admit", "primary", async () => {
    $("o-msg").textContent = "";
    if (!attest) { $("o-msg").textContent = lang === "zh" ? "请先核验身份证件" : "Check the ID card first"; return; }
    const r = await post("/api/manual", {id_number: id, attest});
    if (r.ok) { id = ""; show(); closeOverlay(); return; }
    $("o-msg").textContent = r.reason === "not_found" ? (lang === "zh" ? "未找到持有效出入证的居民"
      : "No resident with a valid pass has this ID") : (r.detail || r.reason);
  });
  ok.id = "manual-ok";
  show();
  overlay(lang === "zh" ? "人工核验：输入身份证号" : "By hand: key the ID number", [shown, pad, check, ok]);
}

function registerVisitor() {
  const form = document.createElement("div"); form.className = "grid";
  const field = (id, zh, en, type) => {
    const i = document.createElement("input"); i.id = id; i.type = type || "text";
    i.placeholder = lang === "zh" ? zh : en; i.className = "field"; return i;
  };
  const name = field("v-name", "访客姓名", "Visitor's name");
  const phone = field("v-phone", "手机号", "Phone", "tel");
  const host = field("v-host", "被访房号，如 7-302", "Host room, e.g. 7-302");
  const save = button(lang === "zh" ? "登记" : "Register", "primary", async () => {
    const r = await post("/api/visitor", {name: name.value, phone: phone.value, host: host.value});
    if (r.ok) closeOverlay(); else $("o-msg").textContent = r.reason || "";
  });
  save.id = "v-save";
  form.append(name, phone, host, save);
  overlay(lang === "zh" ? "访客登记" : "Register a visitor", [form]);
}

async function showCounts() {
  const c = await (await fetch("/api/counts")).json();
  const box = document.createElement("div"); box.className = "stats";
  for (const [k, zh, en] of [["in", "进", "In"], ["out", "出", "Out"], ["refer", "转人工", "Referred"],
                               ["refuse", "拒绝", "Refused"]]) {
    const d = document.createElement("div");
    d.innerHTML = "<b></b><span></span>";
    d.querySelector("b").textContent = c[k]; d.querySelector("span").textContent = lang === "zh" ? zh : en;
    box.append(d);
  }
  overlay(t("today"), [box]);
}

function courierKeys() {
  const pad = $("c-keys");
  let room = "";
  for (const k of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "-", "0", "⌫"]) {
    const b = button(k, "", async () => {
      room = k === "⌫" ? room.slice(0, -1) : (room + k).slice(0, 12);
      await post("/api/courier", {room});
    });
    b.dataset.key = k;
    pad.append(b);
  }
  $("c-fresh").onclick = () => post("/api/courier", {fresh: !state.courier.fresh});
  $("c-frozen").onclick = () => post("/api/courier", {frozen: !state.courier.frozen});
  $("c-undo").onclick = () => post("/api/courier", {undo: true});
  $("c-scanpass").onclick = () => post("/api/courier", {room_from_pass: !state.courier.room_from_pass});
  $("c-end").onclick = () => { room = ""; post("/api/courier", {end: true}); };
}

function setup() {
  $("o-close").onclick = closeOverlay;
  $("b-waybill").onclick = keyWaybill;
  $("b-signin").onclick = () => state && state.volunteer ? post("/api/signout") : openSignIn();
  $("b-direction").onclick = () => post("/api/direction",
    {direction: state.gate.direction === "in" ? "out" : "in"});
  $("b-counts").onclick = showCounts;
  $("b-manual").onclick = manualAdmit;
  $("b-visitor").onclick = registerVisitor;
  $("b-lang").onclick = () => { lang = lang === "zh" ? "en" : "zh"; localStorage.setItem("lang", lang);
    $("b-lang").textContent = lang === "zh" ? "EN" : "中文"; if (state) render(state); };
  $("b-lang").textContent = lang === "zh" ? "EN" : "中文";
  const showVoice = () => { $("b-voice").firstChild.textContent = voice ? t("voiceOn") : t("voiceOff"); };
  $("b-voice").onclick = () => { voice = !voice; localStorage.setItem("voice", voice ? "on" : "off"); showVoice(); };
  showVoice();
  courierKeys();
  pickupKeys();
  setInterval(() => {
    if (countdown > 0) { countdown -= 1; $("r-count").textContent = countdown > 0 ? countdown : ""; }
  }, 1000);
  setInterval(() => {  // the preview: the newest frame, a few times a second
    if (state && state.mode === "ready") $("preview").src = "/preview.jpg?t=" + Date.now();
    if (state && state.mode === "pickup" && !state.pickup.pickup) {
      $("pk-preview").src = "/preview.jpg?t=" + Date.now();
    }
  }, 250);
  const lost = () => pill("s-gate", "⚠ " + (lang === "zh" ? "门岗程序无响应" : "Gate not responding"), "bad");
  let polling = false;
  const poll = () => {  // when the screen has no stream to spare (204): ask every second
    if (polling) return;
    polling = true;
    setInterval(() => fetch("/api/state").then((r) => r.ok ? r.json() : Promise.reject())
      .then(render).catch(lost), 1000);
  };
  const es = new EventSource("/events");
  es.onmessage = (e) => render(JSON.parse(e.data));
  es.onerror = () => { if (es.readyState === EventSource.CLOSED) poll(); else lost(); };
}
setup();
