// tierdesk's web UI: the little JavaScript the pages need, no build step.
// - HTMX requests carry the page's CSRF token (kit/pages.py) and show refusals as a toast;
// - keyboard shortcuts: any element with data-key="r" (or a sequence, "g q") is clicked (or focused, for a field)
//   when the keys are typed outside a field; "?" lists every shortcut of the page from their data-key-label.
(function () {
  "use strict";

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function toast(text, kind) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var item = document.createElement("div");
    item.className = "toast" + (kind ? " " + kind : "");
    item.textContent = text;
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, kind === "error" ? 8000 : 5000);
  }
  window.tierdesk = window.tierdesk || {};
  window.tierdesk.toast = toast;

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrf();
  });
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    toast(xhr.responseText && xhr.responseText.length < 500 ? xhr.responseText : "That did not work (" + xhr.status + ")", "error");
  });
  document.addEventListener("htmx:sendError", function () {
    toast("tierdesk cannot be reached; check the connection", "error");
  });

  // -- keyboard shortcuts --
  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }
  function visible(el) { return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length); }
  function shortcuts() {
    return Array.prototype.filter.call(document.querySelectorAll("[data-key]"), visible);
  }
  function showShortcuts() {
    var dialog = document.getElementById("shortcuts");
    var list = document.getElementById("shortcut-list");
    if (!dialog || !list) return;
    list.textContent = "";
    var seen = {};
    shortcuts().concat([{ dataset: { key: "?", keyLabel: "Show this list" } }]).forEach(function (el) {
      var key = el.dataset.key;
      if (seen[key]) return;
      seen[key] = true;
      var row = document.createElement("tr");
      var keys = document.createElement("td");
      key.split(" ").forEach(function (k) {
        var kbd = document.createElement("kbd");
        kbd.textContent = k;
        keys.appendChild(kbd);
        keys.appendChild(document.createTextNode(" "));
      });
      var what = document.createElement("td");
      what.textContent = el.dataset.keyLabel || el.textContent.trim();
      row.appendChild(keys);
      row.appendChild(what);
      list.appendChild(row);
    });
    dialog.showModal();
  }
  var pending = "";
  var pendingTimer = null;
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (document.querySelector("dialog[open]")) return;
    if (event.key === "?") { event.preventDefault(); showShortcuts(); return; }
    var typed = pending ? pending + " " + event.key : event.key;
    var all = shortcuts();
    var exact = all.filter(function (el) { return el.dataset.key === typed; })[0];
    if (exact) {
      event.preventDefault();
      pending = "";
      if (typing(exact)) { exact.focus(); } else { exact.click(); }
      return;
    }
    var prefix = all.some(function (el) { return el.dataset.key.indexOf(typed + " ") === 0; });
    pending = prefix ? typed : "";
    clearTimeout(pendingTimer);
    if (prefix) pendingTimer = setTimeout(function () { pending = ""; }, 1500);
  });
})();
