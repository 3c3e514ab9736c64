// The e-case file: find hearings, open one, read its final transcript with the earlier
// revisions, its sign-offs, marks and pauses, and hear it from any line.
"use strict";
const STATES = { open: "未开庭", recording: "录音中", paused: "休庭", closed: "已闭庭" };
const ROLES = { presiding_judge: "审判长", judge: "审判员", clerk: "书记员", admin: "管理员" };
let current = null;

function item(list, text) { list.append(el("li", null, text)); }

async function search() {
  const q = new URLSearchParams({ limit: 50 });
  for (const [id, key] of [["case", "case_number"], ["court", "court"], ["from", "date_from"], ["to", "date_to"], ["text", "text"]]) {
    const v = document.getElementById(id).value.trim();
    if (v) q.set(key, v);
  }
  document.getElementById("error").textContent = "";
  try {
    const page = await api("/api/v1/hearings?" + q);
    document.getElementById("found").textContent = "找到 " + page.total + " 次庭审";
    document.querySelector("#results tbody").replaceChildren(...page.items.map((h) => {
      const tr = el("tr", "pick");
      tr.dataset.hearing = h.hearing_id;
      for (const t of [h.case_number, [h.case_type, h.title].filter(Boolean).join(" · "),
                       h.court + " " + h.room, localTime(h.created_at), STATES[h.state] || h.state || "", h.match || ""]) {
        tr.append(el("td", null, t));
      }
      tr.addEventListener("click", () => open(h.hearing_id, h.box_id));
      return tr;
    }));
  } catch (err) { document.getElementById("error").textContent = err.message; }
}

function meta(h) {
  const dl = document.getElementById("h-meta");
  dl.replaceChildren();
  for (const [k, v] of [["案号", h.case_number], ["案由", h.case_type], ["法院", h.court], ["法庭", h.room],
                        ["合议庭", h.panel.join("、")], ["当事人", h.parties.join("、")], ["书记员", h.clerk],
                        ["开庭", localTime(h.wall_start || h.created_at)], ["闭庭", localTime(h.closed_at)],
                        ["状态", STATES[h.state] || h.state], ["笔录", h.lines + " 句"], ["设备", h.box_id]]) {
    dl.append(el("dt", null, k), el("dd", null, v || "—"));
  }
}

function play(t) {
  const segs = current.segments;
  if (!segs.length) return;
  const seg = segs.find((s) => s.t0 <= t && t < s.t0 + s.duration_s) || segs[0];
  const player = document.getElementById("player");
  const offset = Math.max(0, t - seg.t0);
  if (player.dataset.sha !== seg.sha256) {
    player.dataset.sha = seg.sha256;
    player.src = seg.url;
    player.addEventListener("loadedmetadata", () => { player.currentTime = offset; }, { once: true });
  } else {
    player.currentTime = offset;
  }
  player.play();
}

async function open(hearingId, boxId) {
  const q = "?box_id=" + encodeURIComponent(boxId);
  const [h, t] = await Promise.all([api("/api/v1/hearings/" + hearingId + q),
                                    api("/api/v1/hearings/" + hearingId + "/transcript" + q)]);
  current = h;
  document.getElementById("hearing").classList.remove("hidden");
  document.getElementById("h-title").textContent = h.case_number + " " + (h.title || "");
  meta(h);
  const segList = document.getElementById("segments");
  segList.replaceChildren(...h.segments.map((s, n) => {
    const li = el("li", null, "第 " + (n + 1) + " 段（第 " + s.part + " 次录音）：" + clock(s.t0) + " 起，" + Math.round(s.duration_s) + " 秒，" + bytes(s.size) + " ");
    const b = el("button", "seg-play", "播放"); b.type = "button";
    b.addEventListener("click", () => play(s.t0));
    li.append(b); return li;
  }));
  const signoffs = document.getElementById("signoffs"); signoffs.replaceChildren();
  h.signoffs.forEach((s) => item(signoffs, s.name + "（" + (ROLES[s.role] || s.role) + "）" + localTime(s.created_at)));
  if (!h.signoffs.length) item(signoffs, "尚未签署");
  const marks = document.getElementById("marks"); marks.replaceChildren();
  h.marks.forEach((m) => item(marks, clock(m.t) + " 【" + m.label + "】" + m.text));
  if (!h.marks.length) item(marks, "无");
  const pauses = document.getElementById("pauses"); pauses.replaceChildren();
  h.pauses.forEach((p) => item(pauses, clock(p.t0) + "–" + (p.t1 === null ? "闭庭" : clock(p.t1)) + " " + (p.reason_name || p.reason) + (p.text ? "：" + p.text : "")));
  if (!h.pauses.length) item(pauses, "无");
  document.getElementById("lines").replaceChildren(...t.lines.map((line) => {
    const div = el("div", "line");
    div.dataset.utterance = line.utterance_id;
    div.append(el("span", "t", clock(line.t0)), el("span", "seat", line.seat_name));
    const text = el("span", "text", line.text);
    if (line.revision > 0) text.append(el("span", "revised", "已更正 r" + line.revision));
    div.append(text);
    if (line.earlier.length) {
      const earlier = el("div", "earlier", "更正前：");
      line.earlier.forEach((r) => earlier.append(el("s", null, "r" + r.revision + " " + r.text)));
      div.append(earlier);
    }
    div.addEventListener("click", () => {
      document.querySelectorAll(".line.playing").forEach((x) => x.classList.remove("playing"));
      div.classList.add("playing"); play(line.t0 || 0);
    });
    return div;
  }));
}

async function courts() {
  const select = document.getElementById("court");
  for (const c of await api("/api/v1/courts")) {
    if (c.hearings) { const o = el("option", null, c.court); o.value = c.court; select.append(o); }
  }
}

document.getElementById("search").addEventListener("submit", (e) => { e.preventDefault(); search(); });
startPage().then(courts);
