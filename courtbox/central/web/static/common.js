// What the centre's pages share: the API with the session cookie, times in the court's
// zone, text only through textContent.
"use strict";
const Centre = { tz: "Asia/Shanghai", user: null };

async function api(path, options = {}) {
  const r = await fetch(path, { credentials: "same-origin", ...options });
  const data = (r.headers.get("content-type") || "").includes("json") ? await r.json() : {};
  if (r.status === 401 && !path.endsWith("/session")) { location.href = "/login"; }
  if (!r.ok) { const e = new Error(data.message || ("请求失败 " + r.status)); e.data = data; throw e; }
  return data;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function localTime(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat("zh-CN", { timeZone: Centre.tz, year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }).format(new Date(iso));
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "从未";
  if (seconds < 90) return Math.round(seconds) + " 秒前";
  if (seconds < 5400) return Math.round(seconds / 60) + " 分钟前";
  if (seconds < 172800) return Math.round(seconds / 3600) + " 小时前";
  return Math.round(seconds / 86400) + " 天前";
}

function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}

function clock(t) {
  if (t === null || t === undefined) return "—";
  const s = Math.floor(t), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
  return (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
}

async function startPage() {
  const me = await api("/api/v1/session");
  Centre.tz = me.timezone; Centre.user = me;
  document.getElementById("who").textContent = (me.display_name || me.user) + "（" + me.role_name + "）";
  document.getElementById("logout").addEventListener("click", async () => {
    await api("/api/v1/session", { method: "DELETE" });
    location.href = "/login";
  });
  return me;
}
