// The clerk's side of the parties' review: a one-time code per party seat of the closed
// hearing selected in #hearing, and the parties' acts with their requests to handle.
"use strict";
(() => {
  const PARTY_ROLES = ["plaintiff", "defendant", "defense", "witness", "other"];
  const panel = document.getElementById("party-panel");
  const select = document.getElementById("hearing");
  if (!panel || !select) return;
  const KIND = { sign: "已签名", refuse: "拒绝签名", request: "更正申请" };

  let shown = null, seen = null;
  async function show() {
    const id = select.value;
    if (!id) { panel.hidden = true; return; }
    const h = await api("GET", `/hearings/${id}`);
    panel.hidden = h.state !== "closed";
    if (panel.hidden) return;
    if (h.timezone) COURT_TZ = h.timezone;
    const acts = await api("GET", `/hearings/${id}/party-acts`);
    const now = JSON.stringify(acts);
    if (shown === id) {  // only the acts change: the code shown and a reason typed stay
      if (now !== seen) { seen = now; document.getElementById("party-acts").replaceChildren(...acts.map(a => actRow(id, a))); }
      return;
    }
    shown = id; seen = now;
    panel.replaceChildren(el("h3", "", "当事人阅看与签名"));
    const row = el("div", "row");
    const seats = el("select"); seats.id = "party-seat";
    for (const s of h.seats.filter(s => PARTY_ROLES.includes(s.role))) {
      const o = el("option", "", s.name); o.value = s.seat_id; seats.append(o);
    }
    const issue = el("button", "primary", "发放阅看码"); issue.id = "issue-code";
    const out = el("span", ""); out.id = "party-code";
    issue.addEventListener("click", async () => {
      try {
        const c = await api("POST", `/hearings/${id}/party-codes`, { seat: seats.value });
        out.textContent = `${c.seat_name} 的阅看码：${c.code}（${localTime(c.expires_at)} 前有效，仅可使用一次）`;
      } catch (e) { out.textContent = e.message; }
    });
    row.append(seats, issue, out);
    panel.append(row);
    const list = el("div", ""); list.id = "party-acts";
    for (const a of acts) list.append(actRow(id, a));
    panel.append(list);
  }

  function actRow(id, a) {
    const row = el("div", "act row"); row.dataset.act = a.id;
    const when = localTime(a.created_at, true) + (a.after_signoff ? "（签署后添加）" : "");
    const what = a.kind === "request" ? `${a.utterance_id}：${a.proposed}${a.reason ? `（理由：${a.reason}）` : ""}`
      : a.kind === "refuse" ? `理由：${a.reason}` : a.name;
    row.append(el("span", "", `${a.seat_name} · ${KIND[a.kind]} · ${what} · ${when}`));
    if (a.kind !== "request") return row;
    if (a.handling) {
      row.append(el("span", "muted", a.handling.outcome === "accepted"
        ? `已采纳（第 ${a.handling.revision} 版）` : `未采纳：${a.handling.reason}`));
      return row;
    }
    const reason = el("input"); reason.placeholder = "不予采纳的理由"; reason.className = "decline-reason";
    const accept = el("button", "primary accept", "采纳");
    const decline = el("button", "decline", "不予采纳");
    const note = el("span", "error");
    const handle = async body => {
      try { await api("POST", `/hearings/${id}/party-acts/${a.id}/handling`, body); seen = null; await show(); }
      catch (e) { note.textContent = e.message; }
    };
    accept.addEventListener("click", () => handle({ accept: true }));
    decline.addEventListener("click", () => handle({ accept: false, reason: reason.value.trim() }));
    row.append(accept, reason, decline, note);
    return row;
  }

  select.addEventListener("change", () => show().catch(() => {}));
  setInterval(() => { if (!document.hidden) show().catch(() => {}); }, 5000);
  setTimeout(() => show().catch(() => {}), 500);
})();
