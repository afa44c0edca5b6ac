// 医保码 page: refresh the code every refresh_seconds and on tab focus, poll what became of
// the codes shown here (paid / expired / used) — every 2 s after a new code, backing off to
// 10 s while nothing happens, stopping once the shown code has expired and no new one comes —
// and stop when no longer allowed. Offline (refresh or poll cannot reach the server) the code
// stays shown until it expires, with its countdown and a 重试 button; then it is hidden.
// Data comes from data-* attributes of [data-code-page] (the CSP forbids inline JS).
(function () {
  "use strict";
  var root = document.querySelector("[data-code-page]");
  if (!root) return;

  var $ = function (sel) { return root.querySelector(sel); };
  var refreshUrl = root.dataset.refreshUrl;
  var statusUrl = root.dataset.statusUrl;
  var refreshSeconds = parseInt(root.dataset.refreshSeconds, 10);
  var validSeconds = parseInt(root.dataset.validSeconds, 10);
  var keepCodes = parseInt(root.dataset.keepCodes, 10);  // what the status endpoint looks at
  var csrf = root.dataset.csrf || "";
  var pollToken = root.dataset.pollToken || "";  // the poll's own credential (no session)
  var POLL_MIN_MS = 2000;            // right after a new code is shown
  var POLL_MAX_MS = 10000;           // after a while of nothing happening
  var POLL_BACKOFF = 1.5;

  var qrBox = $("[data-qr-box]");
  var qr = $("[data-qr]");
  var display = $("[data-display]");
  var seconds = $("[data-seconds]");
  var note = $("[data-note]");
  var offline = $("[data-offline]");
  var offlineTitle = $("[data-offline-title]");
  var offlineText = $("[data-offline-text]");
  var secondsLabel = $("[data-seconds-label]");
  var ended = $("[data-ended]");
  var result = $("[data-result]");

  var codes = [root.dataset.code];   // codes shown on this page, newest last
  var issuedAt = Date.now();
  var lastRefresh = 0;
  var busy = false;
  var stopped = false;
  var seen = {};                     // settlements already announced
  var noteTimer = null;
  var cut = false;                   // the network is down (a refresh or poll could not get through)
  var pollDelay = POLL_MIN_MS;
  var pollTimer = null;

  function say(text) {
    note.textContent = text;
    note.hidden = false;
    clearTimeout(noteTimer);
    noteTimer = setTimeout(function () { note.hidden = true; }, 6000);
  }

  function secondsLeft() {             // of the shown code's validity
    return Math.max(0, Math.ceil(validSeconds - (Date.now() - issuedAt) / 1000));
  }

  // Offline: the shown code stays usable until it expires (a cashier's scanner may be online);
  // the countdown then counts its validity, and 重试 asks again.
  function goOffline() {
    if (stopped) return;
    cut = true;
    offline.hidden = false;
    showOffline();
  }

  function showOffline() {
    var left = secondsLeft();
    qrBox.hidden = left <= 0;
    secondsLabel.textContent = "秒后失效";
    seconds.textContent = left;
    offlineTitle.textContent = left > 0 ? "网络已断开" : "网络已断开，当前码已失效。";
    offlineText.textContent = left > 0 ? "当前码仍可出示，失效后请联网重试。"
                                       : "可向收银员出示身份证或社保卡办理。";
  }

  function backOnline() {
    cut = false;
    offline.hidden = true;
    secondsLabel.textContent = "秒后自动刷新";
  }

  function stop(message) {
    stopped = true;
    qrBox.hidden = true;
    offline.hidden = true;
    note.hidden = true;
    $("[data-ended-text]").textContent = message || "绑定已解除，无法继续出示";
    ended.hidden = false;
  }

  function show(data) {
    qr.innerHTML = data.svg;          // server-made SVG of an opaque code, no user text
    display.textContent = data.display;
    codes.push(data.code);
    codes = codes.slice(-keepCodes);   // a code can be settled until its token expires
    issuedAt = Date.now();
    refreshSeconds = data.refresh_in || refreshSeconds;
    validSeconds = data.expires_in || validSeconds;
    pollToken = data.poll_token || pollToken;
    seconds.textContent = refreshSeconds;
    backOnline();
    qrBox.hidden = false;
    quicken();
  }

  function refusal(response) {
    return response.json().catch(function () { return {}; }).then(function (body) {
      stop(body && body.error && body.error.message);
    });
  }

  // POST with the page's CSRF token; refusals stop the page, other failures mean offline.
  function post(url, body, done) {
    var headers = { "X-CSRFToken": csrf, "Accept": "application/json" };
    if (url === statusUrl && pollToken) headers["X-Poll-Token"] = pollToken;
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      cache: "no-store",
      headers: headers
    }).then(function (response) {
      if (response.status === 403 || response.status === 404) return refusal(response);
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json().then(done);
    });
  }

  function refresh(why) {
    if (stopped || busy) return Promise.resolve();
    if (!navigator.onLine) { goOffline(); return Promise.resolve(); }
    busy = true;
    lastRefresh = Date.now();
    return post(refreshUrl, undefined, function (data) {
      show(data);
      if (why === "stale") say("该码已失效，已为您刷新");
    }).catch(goOffline).then(function () { busy = false; });
  }

  function tick() {
    if (stopped) return;
    var elapsed = (Date.now() - issuedAt) / 1000;
    if (cut) showOffline();
    else seconds.textContent = Math.max(0, Math.ceil(refreshSeconds - elapsed));
    // After a failed attempt, retry every few seconds rather than every tick.
    if (elapsed >= refreshSeconds && Date.now() - lastRefresh > 3000) {
      refresh(elapsed >= validSeconds ? "stale" : "timer");
    }
  }

  var watched = [];                  // announced settlements: a later cancel is shown too

  function tell(text, where, undone) {
    $("[data-result-text]").textContent = text;
    $("[data-result-where]").textContent = where || "";
    $("[data-result-icon]").textContent = undone ? "↺" : "✓";
    result.classList.toggle("code-result_undone", !!undone);
    result.hidden = false;
  }

  function undone(list) {
    (list || []).forEach(function (c) {
      if (seen[c.settlement] === "cancelled") return;
      seen[c.settlement] = "cancelled";
      tell(c.message, c.pharmacy, true);
    });
  }

  function announce(data) {
    if (seen[data.settlement]) return;
    seen[data.settlement] = true;
    watched.push(data.settlement);
    watched = watched.slice(-keepCodes);
    tell(data.message, data.pharmacy);
    codes = [];                       // the paid code is done; show() adds the fresh one
    refresh("paid");
  }

  // The poll reschedules itself: back to POLL_MIN_MS whenever something happens (a new code,
  // the page coming back), slower while nothing does; none once the shown code has expired
  // (nothing can happen to it; the next code restarts it) or while offline.
  function schedulePoll(delay) {
    clearTimeout(pollTimer);
    pollTimer = stopped ? null : setTimeout(poll, delay);
  }

  function quicken() {
    pollDelay = POLL_MIN_MS;
    schedulePoll(pollDelay);
  }

  function slowDown() {
    pollDelay = Math.min(POLL_MAX_MS, pollDelay * POLL_BACKOFF);
    schedulePoll(pollDelay);
  }

  function poll() {
    pollTimer = null;
    if (stopped || cut || secondsLeft() <= 0) return;
    if (document.hidden || busy || !navigator.onLine) { slowDown(); return; }
    var body = new URLSearchParams();
    codes.forEach(function (c) { body.append("c", c); });
    watched.forEach(function (s) { body.append("w", s); });
    post(statusUrl, body, function (data) {
      undone(data.cancelled);
      if (data.state === "paid") announce(data);
      else if (data.state === "expired" || data.state === "used" || data.state === "unknown") {
        refresh("stale");
      }
      if (!pollTimer) slowDown();
    }).catch(goOffline);
  }

  function wake() {
    if (document.hidden) return;
    quicken();
    if (Date.now() - lastRefresh < 2000) return;
    refresh((Date.now() - issuedAt) / 1000 >= validSeconds ? "stale" : "focus");
  }

  $("[data-refresh]").addEventListener("click", function () { refresh("click"); });
  $("[data-retry]").addEventListener("click", function () { refresh("retry"); });
  document.addEventListener("visibilitychange", wake);
  window.addEventListener("focus", wake);
  window.addEventListener("pageshow", function (event) { if (event.persisted) wake(); });
  window.addEventListener("offline", goOffline);
  window.addEventListener("online", function () { refresh("online"); });
  if (!navigator.onLine) goOffline();
  setInterval(tick, 1000);
  quicken();
})();
