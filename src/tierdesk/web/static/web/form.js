/* tierdesk's embeddable web form: one script tag puts the brand's form on any page, in an iframe that grows with it.

     <script src="https://desk.example.com/static/web/form.js" data-brand="acme" async></script>

   Optional: data-target="id-of-an-element" (where the form goes; default: right after the script tag),
   data-title="Contact us" (the iframe's accessible name). Plain JavaScript, no build step. The page the iframe shows
   is allowed to be framed only by the origins in the brand's settings (Content-Security-Policy frame-ancestors). */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var brand = script.getAttribute("data-brand");
  if (!brand) {
    if (window.console) console.error("tierdesk form: the script tag needs data-brand=\"your-brand\"");
    return;
  }
  var base = new URL(script.src, document.baseURI).origin;
  var frame = document.createElement("iframe");
  frame.src = base + "/channels/web/" + encodeURIComponent(brand) + "/form";
  frame.title = script.getAttribute("data-title") || "Contact form";
  frame.setAttribute("data-tierdesk-form", brand);
  frame.style.cssText = "display:block;width:100%;max-width:100%;border:0;height:640px;overflow:hidden";
  var target = script.getAttribute("data-target") && document.getElementById(script.getAttribute("data-target"));
  if (target) {
    target.appendChild(frame);
  } else {
    script.parentNode.insertBefore(frame, script.nextSibling);
  }
  window.addEventListener("message", function (event) {
    if (event.origin !== base || event.source !== frame.contentWindow) return;
    var data = event.data;
    if (data && data.type === "tierdesk:form-height" && typeof data.height === "number" && data.height > 0) {
      frame.style.height = Math.ceil(data.height) + "px";
    }
  });
})();
