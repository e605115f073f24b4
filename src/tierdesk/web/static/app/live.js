// Live updates on every agent page, from GET /live (Server-Sent Events, workspace/live.py):
// - "offer": a ticket was assigned to me: a toast, My work refreshed in place, a browser notification if allowed;
// - "message": a customer wrote on one of my tickets (or on the ticket this page shows): a toast;
// - "sla": an SLA warning or breach on one of my tickets: a toast, My work refreshed;
// - "resync": notifications may have been lost: My work refreshed.
// Every event is also dispatched on document as CustomEvent("tierdesk:live", {detail: {type, ticket_id, ...}}) so
// other pages (the ticket page) react in their own way; a page names its ticket with <body data-ticket="ID"> or
// any element [data-live-ticket="ID"]. New work is announced in the aria-live region #live-announce.
// Notifications: never asked on load; the header's button asks, once the agent clicks it.
(function () {
  "use strict";

  var announceBox = document.getElementById("live-announce");
  var notifyButton = document.getElementById("live-notify");

  function toast(text, kind) {
    if (window.tierdesk && window.tierdesk.toast) window.tierdesk.toast(text, kind);
  }

  function announce(text) {
    if (!announceBox) return;
    announceBox.textContent = "";
    setTimeout(function () { announceBox.textContent = text; }, 50);
  }

  function notify(text, ticketId) {
    if (!("Notification" in window) || Notification.permission !== "granted" || !document.hidden) return;
    var note = new Notification("tierdesk", { body: text, tag: "tierdesk-" + ticketId });
    note.onclick = function () { window.focus(); window.location.href = "/tickets/" + ticketId; };
  }

  function refreshMyWork() {
    var list = document.getElementById("my-work-list");
    if (!list || !window.htmx) return;
    window.htmx.ajax("GET", list.dataset.refresh || "/work/list", { target: "#my-work-list", swap: "outerHTML" });
    if (document.getElementById("presence-panel")) {
      window.htmx.ajax("GET", "/work/presence", { target: "#presence-panel", swap: "outerHTML" });
    }
  }

  function pageTicket() {
    var holder = document.querySelector("[data-live-ticket]");
    if (holder) return holder.getAttribute("data-live-ticket");
    return document.body.dataset.ticket || null;
  }

  function describe(type, detail) {
    var id = "#" + detail.ticket_id;
    if (type === "offer") return "New work: ticket " + id + " is assigned to you";
    if (type === "message") return "The customer wrote on ticket " + id;
    if (type === "sla") {
      return (detail.level === "breach" ? "SLA breached" : "SLA due soon") + " on ticket " + id
        + (detail.metric ? " (" + String(detail.metric).replace(/_/g, " ") + ")" : "");
    }
    return "";
  }

  function handle(type, data) {
    var detail = {};
    try { detail = JSON.parse(data || "{}"); } catch (e) { detail = {}; }
    detail.type = type;
    document.dispatchEvent(new CustomEvent("tierdesk:live", { detail: detail }));
    if (type === "resync") { refreshMyWork(); return; }
    var text = describe(type, detail);
    if (!text) return;
    if (type === "offer") {
      toast(text);
      announce(text);
      notify(text, detail.ticket_id);
      refreshMyWork();
    } else if (type === "sla") {
      toast(text, detail.level === "breach" ? "error" : undefined);
      notify(text, detail.ticket_id);
      refreshMyWork();
    } else if (type === "message") {
      toast(text);
      notify(text, detail.ticket_id);
    }
  }

  function connect() {
    if (!("EventSource" in window)) return;
    var url = "/live";
    var ticket = pageTicket();
    if (ticket && /^[0-9]+$/.test(ticket)) url += "?ticket=" + ticket;
    var source = new EventSource(url);
    ["offer", "message", "sla", "resync"].forEach(function (type) {
      source.addEventListener(type, function (event) { handle(type, event.data); });
    });
    source.addEventListener("open", function () { document.documentElement.dataset.live = "connected"; });
    source.addEventListener("error", function () {
      document.documentElement.dataset.live = "reconnecting";  // EventSource reconnects by itself
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  function offerNotifications() {
    if (!notifyButton || !("Notification" in window) || Notification.permission !== "default") return;
    notifyButton.hidden = false;
    notifyButton.addEventListener("click", function () {
      Notification.requestPermission().then(function (answer) {
        notifyButton.hidden = true;
        toast(answer === "granted" ? "Notifications are on for new work and SLA alarms"
                                   : "Notifications stay off (your browser's site settings can change that)");
      });
    });
  }

  offerNotifications();
  connect();
})();
