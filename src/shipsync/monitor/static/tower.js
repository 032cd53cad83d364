// The control tower's live refresh: poll /api/indicators and update every [data-indicator].
"use strict";
(function () {
  const body = document.body;
  const every = Number(body.dataset.refreshMs || "5000");
  const stamp = document.getElementById("updated");
  if (!document.querySelector("[data-live]") || !(every > 0)) {
    return;
  }
  async function refresh() {
    try {
      const answer = await fetch("/api/indicators", { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!answer.ok) {
        throw new Error("HTTP " + answer.status);
      }
      const data = await answer.json();
      for (const node of document.querySelectorAll("[data-indicator]")) {
        const value = data.values[node.dataset.indicator];
        node.textContent = value === undefined ? "0" : String(value);
      }
      if (stamp) {
        stamp.textContent = "updated " + new Date(data.at).toISOString().slice(0, 19).replace("T", " ") + " UTC";
      }
    } catch (error) {
      if (stamp) {
        stamp.textContent = "refresh failed: " + error.message;
      }
    }
  }
  refresh();
  setInterval(refresh, every);
})();
