/* Inside the web form's page (also when it is shown in an iframe by form.js): tells the embedding page how tall the
   form is, checks the chosen files against the brand's limits before they are sent (the server checks again), and
   keeps a double click from sending twice. Plain JavaScript, no build step. */
(function () {
  "use strict";

  function reportHeight() {
    if (window.parent === window) return;
    var height = Math.ceil(document.body.getBoundingClientRect().height);
    window.parent.postMessage({ type: "tierdesk:form-height", height: height }, "*");
  }

  function showFileProblem(input, message) {
    var id = "error-attachments";
    var error = document.getElementById(id);
    if (!error) {
      error = document.createElement("p");
      error.className = "error";
      error.id = id;
      input.parentNode.appendChild(error);
    }
    error.textContent = message;
    input.setAttribute("aria-invalid", "true");
    var described = (input.getAttribute("aria-describedby") || "").split(" ");
    if (described.indexOf(id) < 0) described.push(id);
    input.setAttribute("aria-describedby", described.join(" ").trim());
    input.focus();
    reportHeight();
  }

  function fileProblem(form, input) {
    if (!input || !input.files) return null;
    var maxFiles = parseInt(form.getAttribute("data-max-files"), 10);
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10);
    if (input.files.length > maxFiles) {
      return input.files.length + " files were chosen; this form takes at most " + maxFiles + ".";
    }
    for (var i = 0; i < input.files.length; i++) {
      if (input.files[i].size > maxBytes) {
        return input.files[i].name + " is larger than " + Math.round(maxBytes / 1048576 * 10) / 10 + " MB, the largest file this form takes.";
      }
    }
    return null;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var problem = document.getElementById("problem");
    if (problem) {
      problem.setAttribute("tabindex", "-1");
      problem.focus();
    }
    var form = document.querySelector("form[data-max-bytes]");
    if (form) {
      var sending = false;
      form.addEventListener("submit", function (event) {
        var input = form.querySelector("input[type=file]");
        var why = fileProblem(form, input);
        if (why) {
          event.preventDefault();
          showFileProblem(input, why);
          return;
        }
        if (sending) {
          event.preventDefault();
          return;
        }
        sending = true;
        var button = form.querySelector("button[type=submit]");
        if (button) {
          button.setAttribute("aria-disabled", "true");
          button.textContent = "Sending…";
        }
      });
    }
    reportHeight();
    if ("ResizeObserver" in window) new ResizeObserver(reportHeight).observe(document.body);
  });
  window.addEventListener("load", reportHeight);
})();
