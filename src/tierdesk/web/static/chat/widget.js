/*
 * tierdesk chat widget. Embed with one tag:
 *   <script src="https://SUPPORT-HOST/static/chat/widget.js" data-brand="SLUG" async></script>
 * A page whose visitor is signed in on the brand's site adds data-customer-id="<its id of them>" and
 * data-customer-signature="<hex HMAC-SHA256 of that id with the brand's chat identity secret>", computed by its server.
 * Plain JavaScript, no build step. Speaks the protocol of tierdesk/channels/chat/sockets.py over a WebSocket,
 * keeps the conversation, its token and the last seq seen in localStorage, and resumes after any drop.
 * Everything the customer and the agent write is shown with textContent: never rendered as HTML.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.getAttribute("data-brand")) { return; }
  var brand = script.getAttribute("data-brand");
  var base = new URL(script.src, location.href);
  var wsBase = (base.protocol === "https:" ? "wss://" : "ws://") + base.host;
  var key = "tierdesk-chat:" + brand;
  var state = load();
  var ws = null, retry = 0, preChat = false, shown = {}, typingTimer = null, sentTyping = false, ended = false;
  var retryTimer = null, refused = false, lastShown = 0;  // lastShown: the highest seq this page shows

  function load() {
    try { return JSON.parse(localStorage.getItem(key)) || {}; } catch (e) { return {}; }
  }
  function save() { try { localStorage.setItem(key, JSON.stringify(state)); } catch (e) { /* private mode */ } }
  if (!state.visitor) {
    state.visitor = "v-" + Math.random().toString(36).slice(2) + Date.now().toString(36);
    save();
  }

  // -- the window ---------------------------------------------------------------------------------------------
  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = new URL("widget.css", base).href;
  document.head.appendChild(css);

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  var launcher = el("button", "tdc-launcher", "Chat with us");
  var panel = el("div", "tdc-panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Chat");
  var head = el("div", "tdc-head", "");
  head.appendChild(el("span", "", "Chat"));
  var close = el("button", "", "×");
  close.setAttribute("aria-label", "Close");
  head.appendChild(close);
  var status = el("div", "tdc-status", "");
  var log = el("div", "tdc-log");
  log.setAttribute("aria-live", "polite");
  var form = el("form", "tdc-form");
  var nameIn = el("input"); nameIn.placeholder = "Your name"; nameIn.required = true;
  var emailIn = el("input"); emailIn.type = "email"; emailIn.placeholder = "Your email"; emailIn.required = true;
  nameIn.setAttribute("aria-label", "Your name"); emailIn.setAttribute("aria-label", "Your email");  // a placeholder is no label
  nameIn.autocomplete = "name"; emailIn.autocomplete = "email";
  var formError = el("p", "tdc-form-error");
  formError.setAttribute("role", "alert");
  form.appendChild(nameIn); form.appendChild(emailIn); form.appendChild(formError);
  form.appendChild(el("button", "", "Start chat"));
  var compose = el("form", "tdc-compose");
  var text = el("textarea"); text.placeholder = "Type a message"; text.setAttribute("aria-label", "Message");
  var endBtn = el("button", "tdc-end", "End");
  endBtn.type = "button";
  compose.appendChild(text); compose.appendChild(el("button", "", "Send")); compose.appendChild(endBtn);
  panel.appendChild(head); panel.appendChild(status); panel.appendChild(log);
  panel.appendChild(form); panel.appendChild(compose);
  form.style.display = "none";

  function mount() { document.body.appendChild(launcher); document.body.appendChild(panel); }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }

  launcher.onclick = function () {
    panel.classList.add("tdc-open");
    if (!ws && !retryTimer && !refused) { connect(); }
    markRead();
    text.focus();
  };
  close.onclick = function () { panel.classList.remove("tdc-open"); };

  function note(message) { log.appendChild(el("div", "tdc-note", message)); log.scrollTop = log.scrollHeight; }
  function setStatus(message) { status.textContent = message || ""; }

  // -- the socket -----------------------------------------------------------------------------------------------
  function send(frame) { if (ws && ws.readyState === 1) { ws.send(JSON.stringify(frame)); return true; } return false; }

  function connect() {
    retryTimer = null;
    ws = new WebSocket(wsBase + "/channels/chat/ws/customer?brand=" + encodeURIComponent(brand));
    ws.onopen = function () { retry = 0; setStatus(""); };
    ws.onmessage = function (e) { receive(JSON.parse(e.data)); };
    ws.onclose = function (e) {
      ws = null;
      if (e.code === 4403 || e.code === 4404) {  // this page's origin (or brand) may not chat: for good, no retries
        refused = true;
        form.style.display = "none"; compose.style.display = "none";
        setStatus("Chat is not available on this site.");
        return;
      }
      if (ended) { setStatus(""); return; }
      setStatus("Reconnecting…");
      retry = Math.min(retry + 1, 6);
      retryTimer = setTimeout(connect, 500 * Math.pow(2, retry - 1));  // 0.5 s, 1 s, 2 s ... 16 s
    };
  }

  function begin() {
    if (state.conversation && state.token) {
      // After what this page shows: a new page of the shop (lastShown 0) gets the conversation from its start.
      send({ type: "resume", conversation: state.conversation, token: state.token, after: lastShown });
    } else if (preChat && !(state.name && state.email)) {
      showForm("", null);
    } else {
      var frame = { type: "start", visitor: state.visitor, name: state.name || null, email: state.email || null };
      var signedId = script.getAttribute("data-customer-id");  // signed in on the brand's site: signed by it
      if (signedId) { frame.customer = { id: signedId, signature: script.getAttribute("data-customer-signature") || "" }; }
      send(frame);
    }
  }

  function showForm(problem, field) {
    nameIn.value = nameIn.value || state.name || ""; emailIn.value = emailIn.value || state.email || "";
    formError.textContent = problem;
    nameIn.removeAttribute("aria-invalid"); emailIn.removeAttribute("aria-invalid");
    var bad = field === "name" ? nameIn : field === "email" ? emailIn : null;
    if (bad) { bad.setAttribute("aria-invalid", "true"); bad.focus(); }
    form.style.display = "flex";
    compose.style.display = "none";
  }

  form.onsubmit = function (e) {
    e.preventDefault();
    state.name = nameIn.value.trim(); state.email = emailIn.value.trim(); save();
    form.style.display = "none"; compose.style.display = "flex";
    begin();
  };

  var pending = [];  // messages not acknowledged yet: resent (same client_id) after a reconnect
  compose.onsubmit = function (e) {
    e.preventDefault();
    var body = text.value.trim();
    if (!body) { return; }
    var frame = { type: "message", text: body, client_id: "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 6) };
    pending.push(frame);
    send(frame);
    text.value = "";
    stopTyping();
  };
  text.onkeydown = function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); compose.requestSubmit(); return; }
    if (!sentTyping) { sentTyping = send({ type: "typing", active: true }); }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 3000);
  };
  function stopTyping() { if (sentTyping) { send({ type: "typing", active: false }); sentTyping = false; } }
  endBtn.onclick = function () { send({ type: "end" }); };

  function receive(frame) {
    switch (frame.type) {
      case "hello": preChat = !!frame.pre_chat_form; begin(); break;
      case "started":
        state.conversation = frame.conversation; state.token = frame.token; state.seq = 0; shown = {}; lastShown = 0;
        save();
        pending.forEach(send);
        break;
      case "resumed": pending.forEach(send); break;
      case "ack":
        pending = pending.filter(function (p) { return p.client_id !== frame.client_id; });
        break;
      case "event": event(frame); break;
      case "typing": setStatus(frame.active ? "The agent is typing…" : ""); break;
      case "waiting":
        setStatus("You are number " + frame.position + " in the queue (about " +
          Math.max(1, Math.round(frame.expected_wait_seconds / 60)) + " min).");
        break;
      case "error":
        if (frame.field === "token" || frame.code === "forbidden") {  // the chat is gone: start afresh
          delete state.conversation; delete state.token; state.seq = 0; save(); begin();
        } else if (!state.conversation && (frame.field === "name" || frame.field === "email")) {
          // The start was refused (an address the browser let through, say): ask again, saying why.
          delete state[frame.field]; save();
          showForm(frame.message, frame.field);
        } else { note(frame.message); }
        break;
    }
  }

  function event(e) {
    if (shown[e.seq]) { return; }
    shown[e.seq] = true;
    lastShown = Math.max(lastShown, e.seq);
    state.seq = Math.max(state.seq || 0, e.seq); save();
    if (e.kind === "message") {
      var mine = e.from === "customer";
      var bubble = el("div", "tdc-msg " + (mine ? "tdc-customer" : "tdc-agent"), e.text);  // textContent: shown as text
      if (!mine) { bubble.title = e.name || "Agent"; }
      log.appendChild(bubble);
      log.scrollTop = log.scrollHeight;
      if (!mine) { send({ type: "delivered", seq: e.seq }); markRead(); setStatus(""); }
    } else if (e.kind === "agent_joined") { note((e.name || "An agent") + " joined the chat"); setStatus(""); }
    else if (e.kind === "agent_left") { note((e.name || "The agent") + " left the chat"); }
    else if (e.kind === "email_offered") { offerEmail(e); }
    else if (e.kind === "ended") {
      ended = true;
      note(e.continues_by_email ? "The chat has ended. We continue by email; the transcript is on its way."
        : "The chat has ended. Thank you!");
      compose.style.display = "none";
      delete state.conversation; delete state.token; state.seq = 0; save();
    }
  }

  function markRead() {
    if (panel.classList.contains("tdc-open") && state.seq) { send({ type: "read", seq: state.seq }); }
  }

  function offerEmail(e) {
    note(e.reason ? "Nobody can answer right now (" + e.reason + ")." : "Nobody can answer right now.");
    var box = el("form", "tdc-form");
    var address = el("input"); address.type = "email"; address.placeholder = "Your email"; address.required = true;
    if (!e.needs_email) { address.style.display = "none"; address.required = false; }
    box.appendChild(address);
    box.appendChild(el("button", "", "Continue by email"));
    box.onsubmit = function (ev) {
      ev.preventDefault();
      send({ type: "email", email: address.value.trim() || null });
      box.remove();
    };
    log.appendChild(box);
    log.scrollTop = log.scrollHeight;
  }
})();
