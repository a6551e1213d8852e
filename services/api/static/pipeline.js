// The pipeline page refreshes its figures in place every few seconds (server-rendered HTML,
// fetched from /pipeline?part=body). It can be paused, and it waits while the keyboard
// focus is inside the figures, so nobody loses their place.
(function () {
  "use strict";
  var body = document.getElementById("pipeline-body");
  var toggle = document.getElementById("refresh-toggle");
  var updated = document.getElementById("updated-at");
  if (!body) { return; }
  var seconds = parseInt(body.getAttribute("data-refresh"), 10) || 5;
  var paused = false;
  toggle.hidden = false;
  toggle.addEventListener("click", function () {
    paused = !paused;
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");
    toggle.textContent = paused ? "Resume updates" : "Pause updates";
  });

  function stamp(text) {
    updated.textContent = text;
  }

  function refresh() {
    if (paused || body.contains(document.activeElement)) { return; }
    fetch("/pipeline?part=body", { headers: { "Accept": "text/html" }, cache: "no-store" })
      .then(function (response) {
        // 503 still carries the page that says what is down.
        return response.text();
      })
      .then(function (html) {
        body.innerHTML = html;
        stamp("; updated " + new Date().toLocaleTimeString());
      })
      .catch(function () {
        stamp("; the API does not answer, retrying");
      });
  }

  window.setInterval(refresh, seconds * 1000);
})();
