// The operations dashboard: every box, the ones that need a technician first; filtered,
// sorted and paged by the server.
"use strict";
const view = { sort: "attention", order: null, offset: 0, limit: 50 };
const COUNT_NAMES = [["total", "设备"], ["recording", "录音中"], ["idle", "空闲"], ["unreachable", "失联"],
  ["needs_technician", "需处理"], ["quarantine", "隔离待查"], ["dead_mics", "麦克风无信号"],
  ["disk_low", "磁盘将满"], ["clock_unsynced", "时钟未同步"]];

function query() {
  const q = new URLSearchParams({ sort: view.sort, limit: view.limit, offset: view.offset });
  if (view.order) q.set("order", view.order);
  for (const [id, key] of [["court", "court"], ["state", "state"], ["text", "text"]]) {
    const v = document.getElementById(id).value.trim();
    if (v) q.set(key, v);
  }
  if (document.getElementById("needs").checked) q.set("needs_technician", "true");
  return q;
}

function cell(tr, text, cls) { const td = el("td", cls, text); tr.append(td); return td; }

function row(b) {
  const tr = el("tr");
  tr.dataset.box = b.box_id || b.url;
  cell(tr, b.priority < 9 ? b.priority : "—", "num");
  const where = cell(tr, b.court || "（未知法院）");
  where.append(el("br"), el("span", "muted", b.room || b.url));
  cell(tr).append(el("span", "st " + b.state, b.state_name));
  const issues = cell(tr);
  b.issues.forEach((code, i) => {
    const tag = el("span", "issue p" + ["unreachable", "quarantine"].indexOf(code), b.issue_names[i]);
    if (code === "quarantine" && b.blocked) tag.title = b.blocked;
    if (code === "pull_error" && b.last_error) tag.title = b.last_error;
    if (code === "alarm") tag.title = Object.values(b.alarms).join("；");
    issues.append(tag);
  });
  cell(tr, age(b.heartbeat_age_s), b.state === "unreachable" ? "bad" : "").title = localTime(b.heartbeat_at);
  cell(tr, b.disk_full ? "已满" : (b.disk_hours_left === null ? "—" : b.disk_hours_left + " 小时"),
       b.issues.includes("disk_low") ? "num bad" : "num");
  cell(tr, b.dead_mics.length ? "无信号：" + b.dead_mics.join("、") : "正常", b.dead_mics.length ? "bad" : "good");
  cell(tr, b.clock_synced === null ? "—" : (b.clock_synced ? "已同步" : "未同步"), b.clock_synced === false ? "bad" : "");
  cell(tr, b.box_unacked_records === null ? "—" : b.box_unacked_records + " 条", "num");
  cell(tr, bytes(b.box_unacked_bytes), "num");
  cell(tr, b.held_records + " 条 / " + bytes(b.held_bytes), "num");
  cell(tr, (b.box_id || "未连接") + (b.version ? " · " + b.version : ""), "muted");
  return tr;
}

async function load() {
  const error = document.getElementById("error");
  error.textContent = "";
  try {
    const page = await api("/api/v1/boxes?" + query());
    const tbody = document.querySelector("#boxes tbody");
    tbody.replaceChildren(...page.items.map(row));
    document.getElementById("counts").replaceChildren(...COUNT_NAMES.map(([k, name]) => {
      const s = el("span", k, name + " "); s.append(el("b", null, page.counts[k] || 0)); return s; }));
    document.getElementById("total").textContent = "共 " + page.total + " 台";
    const pages = Math.max(1, Math.ceil(page.total / view.limit));
    document.getElementById("pageinfo").textContent = "第 " + (Math.floor(view.offset / view.limit) + 1) + " / " + pages + " 页";
    document.getElementById("prev").disabled = view.offset === 0;
    document.getElementById("next").disabled = view.offset + view.limit >= page.total;
    document.querySelectorAll("th[data-sort]").forEach((th) => th.classList.toggle("sorted", th.dataset.sort === view.sort));
  } catch (err) { error.textContent = err.message; }
}

async function courts() {
  const select = document.getElementById("court");
  for (const c of await api("/api/v1/courts")) {
    if (c.boxes) { const o = el("option", null, c.court + "（" + c.boxes + " 台）"); o.value = c.court; select.append(o); }
  }
}

document.getElementById("filters").addEventListener("submit", (e) => { e.preventDefault(); view.offset = 0; load(); });
document.getElementById("prev").addEventListener("click", () => { view.offset = Math.max(0, view.offset - view.limit); load(); });
document.getElementById("next").addEventListener("click", () => { view.offset += view.limit; load(); });
document.querySelectorAll("th[data-sort]").forEach((th) => th.addEventListener("click", () => {
  view.order = view.sort === th.dataset.sort ? (view.order === "desc" ? "asc" : "desc") : null;
  view.sort = th.dataset.sort; view.offset = 0; load();
}));
startPage().then(() => Promise.all([courts(), load()])).then(() => setInterval(load, 15000));
