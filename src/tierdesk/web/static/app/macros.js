// Canned responses and macros on the ticket page (tierdesk/tickets/macro_views.py). Loaded by the page (scripts in
// HTMX-swapped HTML do not run under the CSP), it works by event delegation on document, so it serves panels that
// arrive later and is harmless on pages without one:
// - a button with data-macro-insert="text" data-macro-into="reply-body" inserts the (already filled) text into
//   that textarea, at the cursor;
// - an input with data-macro-filter="<list id>" narrows that list to the items whose data-macro-search matches;
// - after a macro is applied (hx-post), the answer's [data-macro-applied] element carries the text to insert;
// - a form with data-macro-confirm="question" (the admin pages' deletes) is sent only when the agent confirms.
(function () {
  "use strict";

  function notify(text, kind) {
    if (window.tierdesk && window.tierdesk.toast) window.tierdesk.toast(text, kind);
  }

  function insert(text, targetId) {
    var field = document.getElementById(targetId);
    if (!field || field.tagName !== "TEXTAREA") {
      notify(targetId === "note-body" ? "Open the note box to insert this text" : "Open the reply box to insert this text", "error");
      return false;
    }
    var start = typeof field.selectionStart === "number" ? field.selectionStart : field.value.length;
    var end = typeof field.selectionEnd === "number" ? field.selectionEnd : field.value.length;
    var before = field.value.slice(0, start);
    var after = field.value.slice(end);
    // Keep paragraphs apart when text is already there.
    var glue = before && !/\n\s*$/.test(before) ? "\n\n" : "";
    field.value = before + glue + text + after;
    var caret = (before + glue + text).length;
    field.focus();
    field.setSelectionRange(caret, caret);
    // Other scripts (drafts, collision warnings) hear of the change as of a person's typing.
    field.dispatchEvent(new Event("input", { bubbles: true }));
    return true;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-macro-insert]");
    if (!button || button.tagName !== "BUTTON") return;
    event.preventDefault();
    if (insert(button.getAttribute("data-macro-insert"), button.getAttribute("data-macro-into"))) {
      notify("Text inserted");
    }
  });

  document.addEventListener("input", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("[data-macro-filter]")) return;
    var list = document.getElementById(box.getAttribute("data-macro-filter"));
    if (!list) return;
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    Array.prototype.forEach.call(list.querySelectorAll("li[data-macro-search]"), function (item) {
      var haystack = item.getAttribute("data-macro-search");
      var match = words.every(function (w) { return haystack.indexOf(w) !== -1; });
      item.hidden = !match;
      if (match) shown += 1;
    });
    var none = list.parentNode.querySelector("[data-macro-none]");
    if (none) none.hidden = shown !== 0;
  });

  // The filter's Enter inserts the first match into the reply: keyboard only, no mouse needed.
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (event.key !== "Enter" || !box.matches || !box.matches("[data-macro-filter]")) return;
    var list = document.getElementById(box.getAttribute("data-macro-filter"));
    var first = list && list.querySelector("li[data-macro-search]:not([hidden]) [data-macro-insert]");
    if (first) {
      event.preventDefault();
      first.click();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches && form.matches("form[data-macro-confirm]") && !window.confirm(form.getAttribute("data-macro-confirm"))) {
      event.preventDefault();
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || !target.querySelectorAll) return;
    Array.prototype.forEach.call(target.querySelectorAll("[data-macro-applied]"), function (found) {
      insert(found.getAttribute("data-macro-insert"), found.getAttribute("data-macro-into"));
      found.remove();
    });
  });
})();
