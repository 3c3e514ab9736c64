// Shared by the clerk console, the judge view, the technician's page and the live view:
// the API (its refusals in Chinese), the court's local time, the live connection, and how
// a transcript line, a mark and a pause are drawn.
"use strict";

const API = "/api/v1";
const ROLE_NAMES = { clerk: "书记员", judge: "审判员", technician: "技术员", admin: "管理员" };
const STATE_NAMES = { open: "未开庭", recording: "庭审录音中", paused: "休庭", closed: "已闭庭" };
const PAGE_NAMES = { clerk: "书记员控制台", judge: "审判席", technician: "设备状态" };

// The API's refusals are English for the logs and the machines (``detail``); a person
// reads them in Chinese. Each pattern names one refusal of the box.
const REFUSALS = [
  [/signed off at (\S+) and is frozen/, m => `笔录已于 ${localTime(m[1], true)} 签署并冻结，不能再更正。`],
  [/已签署|签署所覆盖/, m => "笔录已签署并冻结，不能再更正。"],
  [/was revised meanwhile/, () => "该行已被他人修改，请刷新后重试。"],
  [/cannot be empty/, () => "更正后的内容不能为空。"],
  [/split must leave text on both sides/, () => "请把光标放在要拆分的位置（两侧都须有文字）。"],
  [/is not the line after/, () => "只能与紧接着的下一行合并。"],
  [/no seat (\S+)/, () => "该庭审没有这个席位。"],
  [/no line/, () => "该行不存在（可能已被合并），请刷新。"],
  [/wrong user name or password/, () => "用户名或密码错误。"],
  [/too many failed logins; try again in (\d+)/, m => `登录失败次数过多，请 ${m[1]} 秒后再试。`],
  [/too many logins at once/, () => "登录请求过多，请稍后再试。"],
  [/a (\w+) may not do this/, m => `${ROLE_NAMES[m[1]] || m[1]}无权执行此操作。`],
  [/log in first/, () => "请先登录。"],
  [/close it before signing off/, () => "请先闭庭，再签署笔录。"],
  [/has already signed/, () => "您已签署过该笔录。"],
  [/does not sign transcripts/, () => "该角色不签署笔录。"],
  [/needs a text saying why/, () => "选择“其他”原因休庭时，须填写说明。"],
  [/cannot (start|pause|resume|close) hearing .*: it is (\w+)/,
   m => `庭审${STATE_NAMES[m[2]] || m[2]}，不能${{ start: "开庭", pause: "休庭", resume: "继续", close: "闭庭" }[m[1]]}。`],
  [/is recording in this room/, () => "本法庭另有庭审正在录音，请先休庭或闭庭。"],
  [/not recording: give the time/, () => "庭审未在录音，不能在当前时间添加标记。"],
  [/does not record/, () => "本服务不录音。"],
  [/no hearing/, () => "庭审不存在。"],
];
const FIELD_NAMES = { case_number: "案号", text: "内容", label: "标记", reason: "休庭原因",
                      name: "用户名", password: "密码", seat: "席位", at: "拆分位置" };

function refusal(detail, status) {
  if (Array.isArray(detail))  // 422: each invalid field, by its place in the request
    return "输入有误：" + detail.map(e => FIELD_NAMES[(e.loc || []).slice(-1)[0]] ||
                                   (e.loc || []).slice(1).join(".")).join("、");
  if (typeof detail === "string") {
    if (/[\u4e00-\u9fff]/.test(detail)) return detail;  // the record's own Chinese
    for (const [re, zh] of REFUSALS) { const m = detail.match(re); if (m) return zh(m); }
  }
  return status >= 500 ? `服务暂时不可用（${status}）` : `请求被拒绝（${status}）`;
}

class ApiError extends Error {
  constructor(status, detail) { super(refusal(detail, status)); this.status = status; this.detail = detail; }
}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(API + path, opts);
  if (r.status === 401) {
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    throw new ApiError(401, "log in first");
  }
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : null;
  if (!r.ok) throw new ApiError(r.status, data && data.detail);
  return data;
}

// -- the court's local time (court.timezone: each hearing keeps the zone it was opened in)

let COURT_TZ = "Asia/Shanghai";
function localTime(when, withDate) {
  if (!when) return "—";
  const d = when instanceof Date ? when : new Date(when);
  if (isNaN(d)) return String(when);
  const opts = { timeZone: COURT_TZ, hour12: false, hour: "2-digit", minute: "2-digit", second: "2-digit" };
  if (withDate) Object.assign(opts, { year: "numeric", month: "2-digit", day: "2-digit" });
  return new Intl.DateTimeFormat("zh-CN", opts).format(d).replace(/\//g, "-");
}
// The wall-clock time of second t of a hearing's timeline, where its start is known.
function wallTime(hearing, t, withSeconds = true) {
  if (!hearing || !hearing.wall_start) return clock(t);
  const s = localTime(new Date(Date.parse(hearing.wall_start) + t * 1000));
  return withSeconds ? s : s.slice(0, 5);
}
// 书记员 张三: the label the record gives an account (hearing.people), else role and name.
function personName(hearing, user, role) {
  const known = hearing && hearing.people && hearing.people[user];
  return known || (role ? `${ROLE_NAMES[role] || role} ${user}` : user);
}
function humanBytes(b) {
  if (b == null || isNaN(b)) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (Math.abs(b) >= 1000 && i < units.length - 1) { b /= 1000; i++; }
  return (i === 0 ? b.toFixed(0) : b.toFixed(b >= 100 ? 0 : 1)) + " " + units[i];
}
// A page opened by a role it is not for lands on the role's own (?refused=clerk): say so.
function noteRefused(box) {
  const refused = new URLSearchParams(location.search).get("refused");
  if (refused && box) box.textContent = `您的角色不能使用${PAGE_NAMES[refused] || refused}，已转到本角色的页面。`;
}

function clock(t) {
  const s = Math.max(0, Math.floor(t)), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
  return [h, m, s % 60].map(v => String(v).padStart(2, "0")).join(":");
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// The live WebSocket: reconnects with the last seq seen and receives what it missed.
function connectLive(hearingId, onEvent, onStatus) {
  let last = null, ws = null, closed = false, delay = 500;
  function open() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const q = last === null ? "" : `?after=${last}`;
    ws = new WebSocket(`${proto}://${location.host}${API}/hearings/${hearingId}/live${q}`);
    ws.onopen = () => { delay = 500; onStatus && onStatus(true); };
    ws.onmessage = (m) => {
      const ev = JSON.parse(m.data);
      if (last !== null && ev.seq <= last && ev.type !== "reload") return;
      if (ev.type !== "levels") last = Math.max(last || 0, ev.seq);
      onEvent(ev);
    };
    ws.onclose = (e) => {
      onStatus && onStatus(false);
      if (e.code === 4401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); return; }
      if (!closed) setTimeout(open, delay = Math.min(delay * 2, 5000));
    };
  }
  open();
  return { close() { closed = true; ws && ws.close(); }, kick() { ws && ws.close(); } };
}

// Seats of a hearing: name and colour class by seat id.
function seatMap(hearing) {
  const seats = {};
  hearing.seats.forEach((s, i) => seats[s.seat_id] = { name: s.name, cls: "s" + (i % 8) });
  return seats;
}

// The text of a final line, its words marked where the model was unsure of them.
const UNSURE_P = 0.5;
function lineText(line) {
  const span = el("span", "text");
  const words = line.words || [];
  if (line.revision > 0 || !words.length) {  // a person's correction: no machine doubts
    span.textContent = line.text;
    return span;
  }
  // Words carry the model's own spelling; the line's text is normalised (numbers,
  // punctuation). Mark unsure words only when they can be found in the text in order.
  let rest = line.text, out = [];
  for (const w of words) {
    const word = w.w.trim();
    const at = word ? rest.indexOf(word) : -1;
    if (at < 0) continue;
    if (at > 0) out.push([rest.slice(0, at), false]);
    out.push([word, w.p < UNSURE_P, w.p]);
    rest = rest.slice(at + word.length);
  }
  if (rest) out.push([rest, false]);
  for (const [text, unsure, p] of out) {
    if (!unsure) { span.appendChild(document.createTextNode(text)); continue; }
    const u = el("span", "unsure", text);
    u.title = `识别把握较低（p=${p.toFixed(2)}）`;
    span.appendChild(u);
  }
  return span;
}

// A transcript row so far: its time and its seat's name in the seat's colour.
function rowStart(cls, item, seats, time) {
  const seat = seats[item.seat] || { name: item.seat, cls: "" };
  const row = el("div", cls);
  row.dataset.t0 = item.t0;
  const t = el("span", "t", time(item.t0));
  t.title = `庭审时间轴 ${clock(item.t0)}`;
  row.appendChild(t);
  row.appendChild(el("span", "seat " + seat.cls, seat.name));
  return row;
}

function lineRow(line, seats, time) {
  const row = rowStart("line", line, seats, time);
  row.dataset.utterance = line.utterance_id;
  const text = lineText(line);
  if (line.revision > 0) text.appendChild(el("span", "revised", `已更正 r${line.revision}`));
  row.appendChild(text);
  return row;
}

function partialRow(p, seats, time) {
  const row = rowStart("line partial", p, seats, time);
  row.dataset.partial = p.seat;
  const text = el("span", "text");
  text.appendChild(el("span", "stable", p.text.slice(0, p.stable)));
  text.appendChild(document.createTextNode(p.text.slice(p.stable) + " …"));
  row.appendChild(text);
  return row;
}

// Keeps lines, marks and pauses in timeline order; a final replaces the partial of its
// seat. ``hearing``: for the wall-clock times, the stages and the people's names.
class TranscriptView {
  constructor(box, seats, { onLine, hearing } = {}) {
    this.box = box; this.seats = seats; this.onLine = onLine; this.hearing = hearing || null;
    this.rows = new Map(); this.partials = new Map(); this.marks = new Map(); this.pauses = new Map();
    this.time = (t) => wallTime(this.hearing, t);
  }
  insert(row, t0) {
    const after = [...this.box.children].find(c => parseFloat(c.dataset.t0) > t0);
    row.dataset.t0 = t0;
    this.box.insertBefore(row, after || null);
  }
  final(line) {
    this.dropPartial(line.seat, line.utterance_id);
    const row = lineRow(line, this.seats, this.time);
    const old = this.rows.get(line.utterance_id);
    if (old && old.line && old.line.revision > line.revision) return;  // a newer one shown
    if (old && parseFloat(old.dataset.t0) === line.t0) old.replaceWith(row);
    else { if (old) old.remove(); this.insert(row, line.t0); }
    this.rows.set(line.utterance_id, row);
    row.line = line;
    this.onLine && this.onLine(row, line);
  }
  remove(utteranceId) {  // merged into the line before
    const old = this.rows.get(utteranceId);
    if (old) { old.remove(); this.rows.delete(utteranceId); }
  }
  partial(p) {
    if (this.rows.has(p.utterance_id)) return;
    const row = partialRow(p, this.seats, this.time);
    const old = this.partials.get(p.seat);
    if (old) old.remove();
    this.insert(row, p.t0);
    this.partials.set(p.seat, row);
  }
  dropPartial(seat, utteranceId) {
    const old = this.partials.get(seat);
    if (old) { old.remove(); this.partials.delete(seat); }
  }
  isStage(label) { return ((this.hearing && this.hearing.stages) || []).includes(label); }
  mark(a) {
    if (this.marks.has(a.id)) return;
    const who = personName(this.hearing, a.author);
    const row = this.isStage(a.label)
      ? el("div", "mark stage", `${a.label}　${this.time(a.t)}${a.text ? " · " + a.text : ""}`)
      : el("div", "mark", `【${a.label}】${a.text || ""}　${this.time(a.t)} · ${who}`);
    row.dataset.annotation = a.id;
    row.mark = a;
    this.insert(row, a.t);
    this.marks.set(a.id, row);
  }
  // 休庭 10:32–10:47 · 调解: where it happened, its reason and text (t1 null: going on).
  pause(p) {
    const why = [p.reason !== "recess" ? p.reason_name : "", p.text].filter(Boolean).join("：");
    const span = `${wallTime(this.hearing, p.t0, false)}–${p.t1 == null ? "" : wallTime(this.hearing, p.t1, false)}`;
    const row = el("div", "pause", `休庭 ${span}${why ? " · " + why : ""}${p.t1 == null ? "（休庭中）" : ""}`);
    row.dataset.pause = p.at0;
    const old = this.pauses.get(p.at0);
    if (old) old.remove();
    this.insert(row, p.t0);
    this.pauses.set(p.at0, row);
  }
  clear() {
    this.box.textContent = "";
    for (const m of [this.rows, this.partials, this.marks, this.pauses]) m.clear();
  }
}

// The hearing's transcript, marks and pauses; the page's live socket is open first, so
// that nothing said while this loads is missed (a line seen twice is shown once).
async function loadTranscript(view, hearingId) {
  view.clear();
  const [lines, marks, pauses] = await Promise.all([
    api("GET", `/hearings/${hearingId}/transcript`),
    api("GET", `/hearings/${hearingId}/annotations`),
    api("GET", `/hearings/${hearingId}/pauses`)]);
  lines.forEach(l => view.final(l));
  marks.forEach(a => view.mark(a));
  pauses.forEach(p => view.pause(p));
}

async function loadPauses(view, hearingId) {
  (await api("GET", `/hearings/${hearingId}/pauses`)).forEach(p => view.pause(p));
}

// The audio bar stays hidden until something plays.
function playAt(player, src, t0, onError) {
  player.hidden = false;
  if (!player.src.endsWith(src)) player.src = src;
  const start = Math.max(0, t0 - 0.3);
  const go = () => { player.currentTime = start; player.play().catch(e => onError && onError("无法播放：" + e.message)); };
  if (player.readyState >= 1) go(); else { player.addEventListener("loadedmetadata", go, { once: true }); player.load(); }
}

async function logout() {
  try { await api("DELETE", "/session"); } finally { location.href = "/login"; }
}

// Buttons marked data-logout log out (no inline handlers: the CSP allows none).
document.querySelectorAll("[data-logout]").forEach(b => b.addEventListener("click", logout));

// Where the login page may send the browser: a path on the box itself, as the server's
// courtbox.web.pages.local_path decides — one "/", then neither "/" nor "\"; no backslash,
// control character or space anywhere (browsers read "\" as "/" and drop tabs).
function safeNext(next) {
  if (typeof next !== "string" || next.length > 2000) return null;
  return /^\/(?![\/\\])[^\\\x00-\x20\x7f-\x9f]*$/.test(next) ? next : null;
}
