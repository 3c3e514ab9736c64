"use strict";
document.getElementById("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const error = document.getElementById("error");
  error.textContent = "";
  try {
    const me = await api("/api/v1/session", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: document.getElementById("name").value,
                             password: document.getElementById("password").value }) });
    location.href = { operations: "/ops", archivist: "/ecase" }[me.role] || "/";
  } catch (err) { error.textContent = err.message; }
});
