// The party's review on a tablet: code → transcript (play any line, ask for a correction)
// → sign (name + signature drawn on the canvas) or refuse with a reason.
"use strict";
const PARTY_API = "/api/v1";
const $ = id => document.getElementById(id);
let review = null, inked = false;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

async function call(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  const r = await fetch(PARTY_API + path, opts);
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : null;
  if (!r.ok) {
    const d = data && data.detail;
    const msg = Array.isArray(d) ? d.map(x => x.msg).join("；") : (d || `请求失败（${r.status}）`);
    const e = new Error(msg); e.status = r.status; throw e;
  }
  return data;
}

function localTime(when) {
  if (!when) return "—";
  const zone = (review && review.hearing.timezone) || "Asia/Shanghai";
  return new Intl.DateTimeFormat("zh-CN", { timeZone: zone, hour12: false, year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(new Date(when)).replace(/\//g, "-");
}
function clock(t) {
  const s = Math.max(0, Math.floor(t)), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
  return [h, m, s % 60].map(v => String(v).padStart(2, "0")).join(":");
}

function play(t0) {
  const player = $("player");
  const src = `${PARTY_API}/hearings/${review.hearing.id}/audio?seat=mix`;
  player.hidden = false;
  if (!player.src.endsWith(src)) player.src = src;
  const go = () => { player.currentTime = Math.max(0, t0 - 0.3); player.play().catch(e => { $("error").textContent = "无法播放：" + e.message; }); };
  if (player.readyState >= 1) go(); else { player.addEventListener("loadedmetadata", go, { once: true }); player.load(); }
}

function askForm(row, line) {
  if (row.querySelector(".ask-form")) return;
  const form = el("div", "ask-form");
  const proposed = el("textarea"); proposed.rows = 2; proposed.value = line.text; proposed.className = "proposed";
  const reason = el("input"); reason.placeholder = "理由（可选）"; reason.className = "ask-reason";
  const send = el("button", "primary", "提交更正申请"); send.className = "primary send-ask";
  const note = el("span", "muted");
  send.addEventListener("click", async () => {
    try {
      await call("POST", "/party/requests", { utterance_id: line.utterance_id, proposed: proposed.value.trim(), reason: reason.value.trim() });
      form.replaceChildren(el("span", "muted", "已提交更正申请，书记员将处理。"));
      await load();
    } catch (e) { note.textContent = e.message; }
  });
  form.append(el("label", "", "应更正为："), proposed, reason, send, note);
  row.append(form);
}

function showLines() {
  const box = $("lines"); box.replaceChildren();
  for (const line of review.lines) {
    const row = el("div", "line final"); row.dataset.utterance = line.utterance_id;
    const play_ = el("button", "play", "播放"); play_.addEventListener("click", () => play(line.t0));
    const ask = el("button", "ask", "申请更正"); ask.addEventListener("click", () => askForm(row, line));
    const tools = el("span"); tools.append(play_, ask);
    row.append(el("span", "t", clock(line.t0)), el("span", "seat", line.name + "："), el("span", "text", line.text), tools);
    box.append(row);
  }
}

function showActs() {
  const acts = review.acts;
  $("acts-panel").hidden = !acts.length;
  $("acts").replaceChildren(...acts.map(a => el("div", "act",
    a.kind === "request" ? `更正申请（${a.utterance_id}）：${a.proposed} · ${localTime(a.created_at)}`
      : a.kind === "sign" ? `已签名：${a.name} · ${localTime(a.created_at)}` : `拒绝签名：${a.reason} · ${localTime(a.created_at)}`)));
  const final = acts.find(a => a.kind === "sign" || a.kind === "refuse");
  if (final) finish(final);
}

function finish(act) {
  $("sign-panel").hidden = true;
  $("done").hidden = false;
  $("done").textContent = act.kind === "sign"
    ? `${act.name}，您已于 ${localTime(act.created_at)} 签名确认笔录（校验值 ${act.transcript_sha256.slice(0, 16)}…）。谢谢。`
    : `已记录您拒绝签名及理由：${act.reason}（${localTime(act.created_at)}）。`;
}

async function load() {
  review = await call("GET", "/party/review");
  const h = review.hearing;
  $("enter").hidden = true; $("review").hidden = false; $("leave").hidden = false;
  $("who").textContent = review.seat.name;
  $("case").textContent = `${h.court} ${h.room} · 案号 ${h.case_number}`;
  $("meta").textContent = `${h.title || h.case_type || ""} · 开庭 ${localTime(h.wall_start)} · 闭庭 ${localTime(h.closed_at)}`;
  $("transcript-sha").textContent = review.integrity.transcript_sha256;
  $("audio-sha").textContent = review.integrity.audio_chain_head || "（无录音）";
  showLines(); showActs();
}

// The signature pad: pointer strokes on the canvas.
function setupPad() {
  const pad = $("pad"), ctx = pad.getContext("2d");
  ctx.lineWidth = 3; ctx.lineCap = "round"; ctx.strokeStyle = "#111";
  let drawing = false;
  const at = e => { const r = pad.getBoundingClientRect(); return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height]; };
  pad.addEventListener("pointerdown", e => { drawing = true; pad.setPointerCapture(e.pointerId); ctx.beginPath(); ctx.moveTo(...at(e)); });
  pad.addEventListener("pointermove", e => { if (!drawing) return; ctx.lineTo(...at(e)); ctx.stroke(); inked = true; });
  pad.addEventListener("pointerup", () => { drawing = false; });
  $("clear").addEventListener("click", () => { ctx.clearRect(0, 0, pad.width, pad.height); inked = false; });
}

$("code-form").addEventListener("submit", async e => {
  e.preventDefault();
  try { await call("POST", "/party/session", { code: $("code").value.trim() }); await load(); $("code-error").textContent = ""; }
  catch (err) { $("code-error").textContent = err.message; }
});
$("sign").addEventListener("click", async () => {
  const name = $("name").value.trim();
  if (!name) { $("error").textContent = "请填写姓名"; return; }
  if (!inked) { $("error").textContent = "请在框内手写签名"; return; }
  try { finish(await call("POST", "/party/sign", { name, signature: $("pad").toDataURL("image/png") })); }
  catch (e) { $("error").textContent = e.message; }
});
$("refuse").addEventListener("click", async () => {
  const name = $("name").value.trim(), reason = $("refuse-reason").value.trim();
  if (!name || !reason) { $("error").textContent = "拒绝签名请填写姓名和理由"; return; }
  try { finish(await call("POST", "/party/refuse", { name, reason })); }
  catch (e) { $("error").textContent = e.message; }
});
$("leave").addEventListener("click", async () => { try { await call("DELETE", "/party/session"); } catch (e) { /* gone already */ } location.reload(); });
setupPad();
load().catch(() => {});  // a party session still open (a reload): straight to the review
