// Shared by the clerk console and the judge view: the API, the live connection, and how a
// transcript line is drawn.
"use strict";

const API = "/api/v1";

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(API + path, opts);
  if (r.status === 401) {
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    throw new Error("not logged in");
  }
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : null;
  if (!r.ok) {
    const d = data && data.detail;
    // 422: FastAPI lists each invalid field with its location and reason
    const why = Array.isArray(d) ? d.map(e => `${e.loc.slice(1).join(".")}: ${e.msg}`).join("；") : d;
    throw new Error(why || r.statusText);
  }
  return data;
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
function rowStart(cls, item, seats) {
  const seat = seats[item.seat] || { name: item.seat, cls: "" };
  const row = el("div", cls);
  row.dataset.t0 = item.t0;
  row.appendChild(el("span", "t", clock(item.t0)));
  row.appendChild(el("span", "seat " + seat.cls, seat.name));
  return row;
}

function lineRow(line, seats) {
  const row = rowStart("line", line, seats);
  row.dataset.utterance = line.utterance_id;
  const text = lineText(line);
  if (line.revision > 0) text.appendChild(el("span", "revised", `已更正 r${line.revision}`));
  row.appendChild(text);
  return row;
}

function partialRow(p, seats) {
  const row = rowStart("line partial", p, seats);
  row.dataset.partial = p.seat;
  const text = el("span", "text");
  text.appendChild(el("span", "stable", p.text.slice(0, p.stable)));
  text.appendChild(document.createTextNode(p.text.slice(p.stable) + " …"));
  row.appendChild(text);
  return row;
}

// Keeps lines in timeline order; final replaces the partial of its seat.
class TranscriptView {
  constructor(box, seats, { onLine } = {}) {
    this.box = box; this.seats = seats; this.onLine = onLine;
    this.rows = new Map(); this.partials = new Map(); this.marks = new Map();
  }
  insert(row, t0) {
    const after = [...this.box.children].find(c => parseFloat(c.dataset.t0) > t0);
    row.dataset.t0 = t0;
    this.box.insertBefore(row, after || null);
  }
  final(line) {
    this.dropPartial(line.seat, line.utterance_id);
    const row = lineRow(line, this.seats);
    const old = this.rows.get(line.utterance_id);
    if (old) old.replaceWith(row); else this.insert(row, line.t0);
    this.rows.set(line.utterance_id, row);
    row.line = line;
    this.onLine && this.onLine(row, line);
  }
  partial(p) {
    if (this.rows.has(p.utterance_id)) return;
    const row = partialRow(p, this.seats);
    const old = this.partials.get(p.seat);
    if (old) old.remove();
    this.insert(row, p.t0);
    this.partials.set(p.seat, row);
  }
  dropPartial(seat, utteranceId) {
    const old = this.partials.get(seat);
    if (old) { old.remove(); this.partials.delete(seat); }
  }
  mark(a) {
    if (this.marks.has(a.id)) return;
    const row = el("div", "mark", `【${a.label}】${a.text || ""}　${clock(a.t)} · ${a.author}`);
    row.dataset.annotation = a.id;
    this.insert(row, a.t);
    this.marks.set(a.id, row);
  }
  clear() { this.box.textContent = ""; this.rows.clear(); this.partials.clear(); this.marks.clear(); }
}

async function loadTranscript(view, hearingId) {
  view.clear();
  const [lines, marks] = await Promise.all([
    api("GET", `/hearings/${hearingId}/transcript`),
    api("GET", `/hearings/${hearingId}/annotations`)]);
  lines.forEach(l => view.final(l));
  marks.forEach(a => view.mark(a));
}

async function logout() {
  try { await api("DELETE", "/session"); } finally { location.href = "/login"; }
}
