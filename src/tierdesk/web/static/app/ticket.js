// The ticket page (workspace/ticket.html): tell the collision heartbeat whether this agent is replying, append new
// timeline events (on the live bus's `tierdesk:live` event, or when the agent asks), and let a missing macro panel
// stay quiet.
(function () {
  "use strict";

  function page() { return document.getElementById("ticket-page"); }

  function ticketId() { var p = page(); return p ? p.dataset.ticketId : null; }

  function lastEventId() {
    var list = document.getElementById("timeline-items");
    var items = list ? list.querySelectorAll("[data-event-id]") : [];
    return items.length ? items[items.length - 1].dataset.eventId : (list ? list.dataset.lastEventId : "0");
  }

  function seenUpTo() {
    // The newest message on the page: what the agent has seen, so a reply is not held back for it.
    var newest = 0;
    document.querySelectorAll("#timeline-items [data-message-id]").forEach(function (el) {
      newest = Math.max(newest, parseInt(el.dataset.messageId, 10) || 0);
    });
    if (!newest) return;
    document.querySelectorAll(".seen-message-id, #viewer-seen").forEach(function (input) {
      if ((parseInt(input.value, 10) || 0) < newest) input.value = String(newest);
    });
  }

  var loading = false;
  function loadNewer() {
    var id = ticketId();
    if (!id || loading || !window.htmx) return;
    loading = true;
    window.htmx.ajax("GET", "/tickets/" + id + "/timeline?after=" + encodeURIComponent(lastEventId()),
      { target: "#timeline-items", swap: "beforeend" }).then(function () {
      loading = false;
      seenUpTo();
      window.htmx.trigger(document.body, "tierdesk:heartbeat");
    }, function () { loading = false; });
  }

  function replying() {
    var state = document.getElementById("viewer-state");
    if (!state) return;
    var typed = ["reply-body", "note-body"].some(function (name) {
      var field = document.getElementById(name);
      return field && field.value.trim() !== "";
    });
    var wanted = typed ? "replying" : "viewing";
    if (state.value !== wanted) {
      state.value = wanted;
      if (window.htmx) window.htmx.trigger(document.body, "tierdesk:heartbeat");
    }
  }

  document.addEventListener("input", function (event) {
    if (event.target && (event.target.id === "reply-body" || event.target.id === "note-body")) replying();
  });

  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest ? event.target.closest(".load-newer") : null;
    if (button) { event.preventDefault(); loadNewer(); }
  });

  // live.js (every agent page) dispatches this for new messages; the page also works without it (polling).
  document.addEventListener("tierdesk:live", function (event) {
    var detail = event.detail || {};
    if (detail.type === "message" && String(detail.ticket_id) === String(ticketId())) loadNewer();
  });

  // A macro applied from the panel (HX-Trigger "ticket-changed"): its changes join the timeline at once; the
  // properties show them on the next load (a reload now would lose the text the macro inserted).
  document.body.addEventListener("ticket-changed", function (event) {
    var detail = event.detail || {};
    if (String(detail.ticket_id) === String(ticketId())) {
      loadNewer();
      if (window.tierdesk && window.tierdesk.toast) window.tierdesk.toast("Macro applied: its changes are in the timeline");
    }
  });

  // If the macro panel cannot be loaded (404), the page carries on quietly (no error toast, nothing swapped in).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail || {};
    if (detail.elt && detail.elt.id === "macro-panel" && detail.xhr && detail.xhr.status === 404) {
      detail.isError = false;
      detail.shouldSwap = false;
      detail.elt.hidden = true;
    }
  });

  // The collision bar is polled every few seconds and is a live region: swap it only when it says something new, so
  // a screen reader does not repeat "nobody else has this ticket open" every five seconds.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail || {};
    if (detail.elt && detail.elt.id === "collision" && detail.xhr && detail.xhr.status === 200 &&
        detail.elt.dataset.shown === detail.serverResponse) {
      detail.shouldSwap = false;
    } else if (detail.elt && detail.elt.id === "collision") {
      detail.elt.dataset.shown = detail.serverResponse;
    }
  });

  // Leaving the page: the others stop seeing this agent now (keepalive: the request outlives the page).
  window.addEventListener("pagehide", function () {
    var id = ticketId();
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (!id || !window.fetch) return;
    window.fetch("/tickets/" + id + "/viewers/leave", {
      method: "POST", keepalive: true, credentials: "same-origin",
      headers: { "X-CSRF-Token": meta ? meta.content : "" }
    }).catch(function () { /* the heartbeat ages out anyway */ });
  });

  document.addEventListener("DOMContentLoaded", replying);
})();
