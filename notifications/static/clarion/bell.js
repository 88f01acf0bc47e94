/*
 * Clarion bell: the in-app inbox as one custom element, with no dependencies.
 *
 *   <script src="https://clarion.example.com/static/clarion/bell.js" defer></script>
 *   <clarion-bell data-token="TOKEN"></clarion-bell>
 *
 * Attributes:
 *   data-token       an inbox token minted by the app's backend (POST /api/v1/users/{id}/inbox-token);
 *                    without one the bell uses the Clarion session (Clarion's own pages)
 *   data-token-url   optional: a URL of the app that answers {"token": "..."}; fetched when the
 *                    token is missing or expired
 *   data-server      Clarion's base URL; defaults to where this script came from
 *   data-csrf-token  session mode: Django's CSRF token (else the csrftoken cookie is read)
 *   data-no-css      do not load bell.css next to this script
 *   data-align       "left" opens the panel rightwards, for a bell near the left edge
 *
 * The element sets data-status ("connecting", "live", "offline") and data-unread, and
 * dispatches "clarion-bell:notification" (detail: {item, silent}) and "clarion-bell:counts".
 * It is a classic script, not an ES module, so that it loads cross-origin without CORS and
 * can find its own URL.
 */
(function () {
  "use strict";

  if (!window.customElements || window.customElements.get("clarion-bell")) return;

  const SCRIPT_URL = document.currentScript ? new URL(document.currentScript.src, location.href) : null;
  const PAGE_SIZE = 20;
  const RETRY_BASE_MS = 1000;
  const RETRY_MAX_MS = 30000;
  const BELL_ICON =
    '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">' +
    '<path fill="currentColor" d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5' +
    'a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"/></svg>';

  function loadStylesheet() {
    if (!SCRIPT_URL || document.querySelector("link[data-clarion-bell]")) return;
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("bell.css", SCRIPT_URL).href;
    link.dataset.clarionBell = "";
    document.head.appendChild(link);
  }

  function cookie(name) {
    const prefix = name + "=";
    const found = document.cookie.split("; ").find((part) => part.startsWith(prefix));
    return found ? decodeURIComponent(found.slice(prefix.length)) : "";
  }

  function safeLink(url) {
    // Only http(s) links: an action URL comes from app data and must not run script.
    if (!url) return null;
    try {
      const parsed = new URL(url, location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (error) {
      return null;
    }
  }

  function relativeTime(iso) {
    const seconds = Math.round((Date.parse(iso) - Date.now()) / 1000);
    const format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
    const units = [["day", 86400], ["hour", 3600], ["minute", 60]];
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
    }
    return format.format(0, "second");
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  class ClarionBell extends HTMLElement {
    static get observedAttributes() {
      return ["data-token"];
    }

    connectedCallback() {
      if (this._started) return;
      this._started = true;
      this._stopped = false;
      this._token = this.dataset.token || "";
      this._server = (this.dataset.server || (SCRIPT_URL ? SCRIPT_URL.origin : location.origin)).replace(/\/$/, "");
      this._counts = { unseen: 0, unread: 0, total: 0 };
      this._items = []; // newest first, as the feed orders them
      this._loaded = false;
      this._nextCursor = null;
      this._lastId = null; // the newest item id this bell knows of: `after` on reconnect
      this._attempt = 0;
      if (this.dataset.noCss === undefined) loadStylesheet();
      this._render();
      this._start();
    }

    disconnectedCallback() {
      this._started = false;
      this._stopped = true;
      clearTimeout(this._retryTimer);
      document.removeEventListener("click", this._onDocumentClick);
      if (this._socket) {
        const socket = this._socket;
        this._socket = null;
        socket.close();
      }
    }

    attributeChangedCallback(name, oldValue, newValue) {
      if (name === "data-token" && this._started) this._token = newValue || "";
    }

    async _start() {
      if (!this._token && this.dataset.tokenUrl) await this._refreshToken();
      this._connect();
    }

    // --- rendering ---------------------------------------------------------------------

    _render() {
      this.classList.add("clarion-bell");
      this.textContent = "";
      this._button = element("button", "clarion-bell__button");
      this._button.type = "button";
      this._button.setAttribute("aria-haspopup", "true");
      this._button.setAttribute("aria-expanded", "false");
      this._button.innerHTML = BELL_ICON; // a constant, never data
      this._badge = element("span", "clarion-bell__badge");
      this._badge.hidden = true;
      this._button.appendChild(this._badge);

      this._panel = element("div", "clarion-bell__panel");
      this._panel.setAttribute("role", "dialog");
      this._panel.setAttribute("aria-label", "Notifications");
      this._panel.hidden = true;
      const header = element("div", "clarion-bell__header");
      header.appendChild(element("strong", "clarion-bell__heading", "Notifications"));
      this._markAll = element("button", "clarion-bell__mark-all", "Mark all read");
      this._markAll.type = "button";
      header.appendChild(this._markAll);
      this._list = element("ul", "clarion-bell__list");
      this._empty = element("p", "clarion-bell__empty", "Nothing yet.");
      this._more = element("button", "clarion-bell__more", "Load more");
      this._more.type = "button";
      this._more.hidden = true;
      this._status = element("p", "clarion-bell__status");
      this._status.setAttribute("role", "status");
      this._panel.append(header, this._list, this._empty, this._more, this._status);
      this.append(this._button, this._panel);

      this._button.addEventListener("click", () => this._toggle());
      this._markAll.addEventListener("click", () => this._markAllRead());
      this._more.addEventListener("click", () => this._loadPage(this._nextCursor));
      this._list.addEventListener("click", (event) => this._onListClick(event));
      this.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && !this._panel.hidden) {
          this._close();
          this._button.focus();
        }
      });
      this._onDocumentClick = (event) => {
        if (!this.contains(event.target)) this._close();
      };
      document.addEventListener("click", this._onDocumentClick);
      this._setStatus("connecting");
      this._showCounts();
    }

    _showCounts() {
      const unread = this._counts.unread;
      this._badge.textContent = unread > 99 ? "99+" : String(unread);
      this._badge.hidden = unread === 0;
      this.dataset.unread = String(unread);
      this._button.setAttribute("aria-label", unread ? `Notifications, ${unread} unread` : "Notifications");
      this._markAll.disabled = unread === 0;
    }

    _renderList() {
      this._list.textContent = "";
      for (const item of this._items) {
        const row = element("li", "clarion-bell__item" + (item.read ? "" : " clarion-bell__item--unread"));
        row.dataset.id = String(item.id);
        const open = element("button", "clarion-bell__open");
        open.type = "button";
        open.dataset.action = "open";
        open.append(element("span", "clarion-bell__title", item.title));
        if (item.body) open.append(element("span", "clarion-bell__body", item.body));
        const time = element("time", "clarion-bell__time", relativeTime(item.created_at));
        time.dateTime = item.created_at;
        open.append(time);
        const archive = element("button", "clarion-bell__archive", "\u00d7");
        archive.type = "button";
        archive.dataset.action = "archive";
        archive.setAttribute("aria-label", "Archive: " + item.title);
        archive.title = "Archive";
        row.append(open, archive);
        this._list.appendChild(row);
      }
      this._empty.hidden = !this._loaded || this._items.length > 0;
      this._more.hidden = !this._nextCursor;
    }

    _setStatus(status, message) {
      this.dataset.status = status;
      this._status.textContent = message || (status === "offline" ? "Offline; reconnecting\u2026" : "");
    }

    _ring() {
      this._button.classList.remove("clarion-bell__button--ring");
      void this._button.offsetWidth; // restart the animation
      this._button.classList.add("clarion-bell__button--ring");
    }

    // --- state -------------------------------------------------------------------------

    _setCounts(counts) {
      if (!counts) return;
      this._counts = counts;
      this._showCounts();
      this.dispatchEvent(new CustomEvent("clarion-bell:counts", { detail: counts }));
    }

    _remember(id) {
      if (typeof id === "number" && (this._lastId === null || id > this._lastId)) this._lastId = id;
    }

    _addItem(item) {
      this._remember(item.id);
      if (!this._loaded || item.archived || this._items.some((known) => known.id === item.id)) return;
      this._items.unshift(item);
      this._items.sort((a, b) => (a.created_at === b.created_at ? b.id - a.id : a.created_at < b.created_at ? 1 : -1));
      this._renderList();
    }

    _replaceItem(item) {
      const index = this._items.findIndex((known) => known.id === item.id);
      if (index === -1) return;
      if (item.archived) this._items.splice(index, 1);
      else this._items[index] = item;
      this._renderList();
    }

    _applyChange(change) {
      if (!change || !this._loaded) return;
      if (change.mark === "unarchived") {
        this._loadPage(null); // they come back into the feed: fetch it afresh
        return;
      }
      const ids = new Set(change.ids);
      const touched = (item) => change.all || ids.has(item.id);
      if (change.mark === "archived") {
        this._items = this._items.filter((item) => !touched(item));
      } else {
        for (const item of this._items.filter(touched)) {
          if (change.mark === "read") item.read = item.seen = true;
          if (change.mark === "unread") item.read = false;
          if (change.mark === "seen") item.seen = true;
        }
      }
      this._renderList();
    }

    // --- the API -------------------------------------------------------------------------

    async _refreshToken() {
      if (!this.dataset.tokenUrl) return false;
      try {
        const response = await fetch(this.dataset.tokenUrl, { credentials: "same-origin" });
        const body = response.ok ? await response.json() : null;
        if (body && body.token) {
          this._token = body.token;
          return true;
        }
      } catch (error) {
        // Offline or the app is down: the caller retries with back-off.
      }
      return false;
    }

    async _api(method, path, body, retried) {
      const headers = { Accept: "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (this._token) {
        headers.Authorization = "Inbox-Token " + this._token;
      } else if (method !== "GET") {
        headers["X-CSRFToken"] = this.dataset.csrfToken || cookie("csrftoken");
      }
      const response = await fetch(this._server + "/api/v1/inbox/" + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: this._token ? "omit" : "same-origin",
      });
      if (response.status === 401 && !retried && (await this._refreshToken())) {
        return this._api(method, path, body, true);
      }
      const answer = await response.json().catch(() => null);
      if (!response.ok) {
        throw new Error((answer && answer.error && answer.error.message) || "HTTP " + response.status);
      }
      return answer;
    }

    async _loadPage(cursor) {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (cursor) query.set("cursor", cursor);
      try {
        const page = await this._api("GET", "items?" + query);
        this._items = cursor ? this._items.concat(page.items) : page.items;
        this._nextCursor = page.next_cursor;
        this._loaded = true;
        page.items.forEach((item) => this._remember(item.id));
        this._setCounts(page.counts);
        this._renderList();
      } catch (error) {
        this._status.textContent = "Could not load notifications: " + error.message;
      }
    }

    async _toggle() {
      if (!this._panel.hidden) {
        this._close();
        return;
      }
      this._panel.hidden = false;
      this._button.setAttribute("aria-expanded", "true");
      if (!this._loaded) await this._loadPage(null);
      if (this._counts.unseen > 0) this._mark("seen", { all: true });
    }

    _close() {
      this._panel.hidden = true;
      this._button.setAttribute("aria-expanded", "false");
    }

    async _mark(mark, body) {
      try {
        const answer = await this._api("POST", mark, body);
        this._setCounts(answer.counts);
        this._applyChange({ mark, all: Boolean(body.all), ids: body.ids || [] });
      } catch (error) {
        this._status.textContent = "Could not update: " + error.message;
      }
    }

    _markAllRead() {
      return this._mark("read", { all: true });
    }

    async _onListClick(event) {
      const control = event.target.closest("[data-action]");
      if (!control) return;
      const id = Number(control.closest("li").dataset.id);
      const item = this._items.find((known) => known.id === id);
      if (!item) return;
      try {
        if (control.dataset.action === "archive") {
          const answer = await this._api("POST", `items/${id}/archived`);
          this._setCounts(answer.counts);
          this._replaceItem(answer.item);
          return;
        }
        if (!item.read) {
          const answer = await this._api("POST", `items/${id}/read`);
          this._setCounts(answer.counts);
          this._replaceItem(answer.item);
        }
      } catch (error) {
        this._status.textContent = "Could not update: " + error.message;
        return;
      }
      const link = safeLink(item.action_url);
      if (link) location.assign(link);
    }

    // --- the websocket -------------------------------------------------------------------

    _connect() {
      if (this._stopped) return;
      const url = new URL("/ws/notifications/", this._server);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      if (this._token) url.searchParams.set("token", this._token);
      if (this._lastId !== null) url.searchParams.set("after", String(this._lastId));
      const socket = new WebSocket(url.href);
      this._socket = socket;
      this._greeted = false;
      socket.addEventListener("message", (event) => {
        if (this._socket === socket) this._onMessage(JSON.parse(event.data));
      });
      socket.addEventListener("close", () => {
        if (this._socket === socket) this._reconnect();
      });
    }

    _reconnect() {
      this._socket = null;
      if (this._stopped) return;
      this._setStatus("offline");
      // Exponential back-off with jitter, so a restarted server is not stormed by every tab.
      const ceiling = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** this._attempt);
      const delay = ceiling / 2 + Math.random() * (ceiling / 2);
      this._attempt += 1;
      const refused = !this._greeted;
      this._retryTimer = setTimeout(async () => {
        // Refused before hello: most likely an expired token.
        if (refused && this.dataset.tokenUrl) await this._refreshToken();
        this._connect();
      }, delay);
    }

    _onMessage(message) {
      if (message.type === "hello") {
        this._greeted = true;
        this._attempt = 0;
        this._setStatus("live");
        if (this._lastId === null) this._lastId = message.last_id === null ? 0 : message.last_id;
        this._setCounts(message.counts);
        // After a reconnect the shown items may have been marked elsewhere meanwhile (and
        // the catch-up may be truncated): refetch them. Caught-up items are deduplicated.
        if ((this._greetedBefore || message.truncated) && this._loaded) this._loadPage(null);
        this._greetedBefore = true;
      } else if (message.type === "notification.created") {
        // More new items than pushes: one was dropped on the way (a channel layer sheds
        // messages when a server falls behind), so fetch the feed rather than show a gap.
        const gap = !message.catch_up && message.counts.total > this._counts.total + 1;
        this._addItem(message.item);
        this._setCounts(message.counts);
        if (gap && this._loaded) this._loadPage(null);
        if (!message.silent && !message.catch_up) this._ring();
        this.dispatchEvent(
          new CustomEvent("clarion-bell:notification", {
            detail: { item: message.item, silent: Boolean(message.silent || message.catch_up) },
          })
        );
      } else if (message.type === "counts.updated") {
        this._setCounts(message.counts);
        this._applyChange(message.change);
      }
    }
  }

  window.customElements.define("clarion-bell", ClarionBell);
})();
