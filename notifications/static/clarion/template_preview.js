/*
 * The template admin's live preview: shows only the fields the chosen channel uses, and
 * re-renders the preview (server-side, with the category's sample data) as the form changes.
 * Without this script the form shows every field and the preview of the saved template.
 */
(function () {
  "use strict";

  const DELAY_MS = 300;

  function start() {
    const panel = document.getElementById("clarion-preview");
    const fieldsData = document.getElementById("clarion-channel-fields");
    if (!panel || !fieldsData) return;
    const form = panel.closest("form");
    const status = document.getElementById("clarion-preview-status");
    const channelFields = JSON.parse(fieldsData.textContent);
    const allFields = [...new Set(Object.values(channelFields).flat())];
    let timer = null;
    let latest = 0; // only the newest request's answer is shown

    function showChannelFields() {
      const channel = form.elements.channel ? form.elements.channel.value : "";
      const used = channelFields[channel] || allFields;
      for (const name of allFields) {
        const row = form.querySelector(".form-row.field-" + name);
        if (row) row.hidden = !used.includes(name);
      }
    }

    async function refresh() {
      const request = ++latest;
      status.textContent = "updating…";
      try {
        const response = await fetch(panel.dataset.previewUrl, {
          method: "POST",
          body: new FormData(form), // carries the CSRF token
          credentials: "same-origin",
          headers: { "X-Requested-With": "XMLHttpRequest" },
        });
        if (!response.ok) throw new Error("HTTP " + response.status);
        const html = await response.text();
        if (request !== latest) return;
        panel.innerHTML = html;
        status.textContent = "";
      } catch (error) {
        if (request === latest) status.textContent = "preview unavailable (" + error.message + ")";
      }
    }

    function schedule(event) {
      if (event.target && event.target.name === "channel") showChannelFields();
      clearTimeout(timer);
      timer = setTimeout(refresh, DELAY_MS);
    }

    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    showChannelFields();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
