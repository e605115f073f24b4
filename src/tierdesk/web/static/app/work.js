// The SLA countdowns of the workspace's lists: each [data-due] (an ISO time) shows "due in ..." or "overdue by ..."
// and its class sla-ok / sla-warn / sla-breached, ticking every second. Rows added later (My work refreshed by
// live.js) are picked up on the next tick. The warning window is the table's data-warn (seconds).
(function () {
  "use strict";

  function span(seconds) {
    seconds = Math.floor(Math.abs(seconds));
    if (seconds < 60) return seconds + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min";
    if (seconds < 86400) {
      var m = Math.floor(seconds % 3600 / 60);
      return Math.floor(seconds / 3600) + " h " + (m < 10 ? "0" : "") + m + " min";
    }
    return Math.floor(seconds / 86400) + " d " + Math.floor(seconds % 86400 / 3600) + " h";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var due = Date.parse(el.dataset.due);
      if (isNaN(due)) return;
      var table = el.closest("[data-warn]");
      var warn = table ? parseInt(table.dataset.warn, 10) : 900;
      var left = (due - now) / 1000;
      var text = left >= 0 ? "due in " + span(left) : "overdue by " + span(left);
      if (el.textContent !== text) el.textContent = text;
      var state = left <= 0 ? "sla-breached" : left <= warn ? "sla-warn" : "sla-ok";
      ["sla-ok", "sla-warn", "sla-breached"].forEach(function (c) { el.classList.toggle(c, c === state); });
    });
  }

  tick();
  setInterval(tick, 1000);
})();
