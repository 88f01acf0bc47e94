// Swaps in fresh charts every few seconds without reloading the page: the server renders
// them (?fragment=1), so this only fetches and replaces. Without scripts, the page's
// <noscript> meta refresh reloads it instead.
(() => {
  "use strict";
  const charts = document.getElementById("dashboard-charts");
  const status = document.getElementById("dashboard-status");
  if (!charts || !status) return;
  const everyMs = (Number(charts.dataset.refreshSeconds) || 10) * 1000;
  let refreshes = 0;

  function report(text, state) {
    status.textContent = text;
    status.dataset.state = state;
  }

  async function refresh() {
    const url = new URL(window.location.href);
    url.searchParams.set("fragment", "1");
    try {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (response.redirected) {
        // Signed out meanwhile: reload, so that the sign-in page shows rather than inside a panel.
        window.location.reload();
        return;
      }
      if (!response.ok || response.headers.get("X-Dashboard-Fragment") !== "1") {
        throw new Error(`the server answered ${response.status}`);
      }
      charts.innerHTML = await response.text();
      refreshes += 1;
      charts.dataset.refreshes = String(refreshes);
      delete charts.dataset.stale;
      report(`Updated ${new Date().toLocaleTimeString()}; refreshes every ${everyMs / 1000} s.`, "ok");
    } catch (error) {
      charts.dataset.stale = "true";
      report(`Could not refresh (${error.message}); trying again in ${everyMs / 1000} s.`, "error");
    }
  }

  async function loop() {
    // A hidden tab has no one to show charts to; it catches up on its first turn once shown.
    if (!document.hidden) await refresh();
    window.setTimeout(loop, everyMs);
  }

  window.setTimeout(loop, everyMs);
})();
