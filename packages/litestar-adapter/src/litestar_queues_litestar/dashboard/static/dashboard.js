// litestar-queues dashboard: refreshes the live parts of a page and posts confirmed actions.
// Plain JavaScript, no build step; every page works without it (see the <noscript> note).
(function () {
  "use strict";
  var FETCH = { "X-Dashboard-Fetch": "1" };
  var poll = Number(document.body.getAttribute("data-poll")) || 2000;
  var last = new WeakMap();
  var busy = false;

  function refresh(section) {
    return fetch(section.getAttribute("data-live"), { headers: FETCH, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        section.classList.remove("stale");
        if (last.get(section) !== html) {
          last.set(section, html);
          section.innerHTML = html;
        }
      })
      .catch(function () { section.classList.add("stale"); });
  }

  function refreshAll() {
    if (busy) { return Promise.resolve(); }
    busy = true;
    var sections = Array.prototype.slice.call(document.querySelectorAll("[data-live]"));
    return Promise.all(sections.map(refresh)).then(function () { busy = false; }, function () { busy = false; });
  }

  function flash(html) {
    var box = document.getElementById("flash");
    if (box) { box.innerHTML = html; }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var target = form.getAttribute("data-post");
    if (!target) { return; }  // no data-post: the confirmation page does the asking
    event.preventDefault();
    if (!window.confirm(form.getAttribute("data-confirm"))) { return; }
    var body = new URLSearchParams(new FormData(form));
    fetch(target, {
      method: "POST",
      headers: { "X-Dashboard-Fetch": "1", "Content-Type": "application/x-www-form-urlencoded" },
      body: body,
      credentials: "same-origin"
    })
      .then(function (response) { return response.text(); })
      .then(flash, function () { flash('<p class="flash flash-error">the dashboard cannot be reached</p>'); })
      .then(refreshAll);
  });

  window.setInterval(function () {
    if (!document.hidden) { refreshAll(); }
  }, poll);
})();
