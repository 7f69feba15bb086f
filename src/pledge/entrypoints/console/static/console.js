// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // A money-moving button is pressed once: the second click of a double click does nothing.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var button = form.querySelector("button[data-once]");
    if (!button) return;
    if (form.dataset.sent === "1") { event.preventDefault(); return; }
    form.dataset.sent = "1";
    window.setTimeout(function () { button.disabled = true; button.setAttribute("aria-busy", "true"); }, 0);
  });
  // A running job: follow its progress in place and reload the page when it ends.
  var job = document.getElementById("job");
  if (job && (job.dataset.status === "queued" || job.dataset.status === "running")) {
    var grouped = function (n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); };
    var show = function (body) {
      var status = document.getElementById("job-status");
      if (status && body.status === "running" && job.dataset.status !== "running") {
        job.dataset.status = "running";
        status.textContent = job.dataset.running;
        status.className = "job-running";
      }
      var bar = document.getElementById("job-bar");
      if (bar && bar.hasAttribute("max")) { bar.value = Math.min(body.progress, Number(bar.max)); }
      var done = document.getElementById("job-done");
      if (done) { done.textContent = grouped(body.progress); }
    };
    var poll = function () {
      fetch("/console/jobs/" + encodeURIComponent(job.dataset.job) + ".json", {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          if (body && body.status !== "queued" && body.status !== "running") { window.location.reload(); return; }
          if (body) { show(body); }
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    };
    window.setTimeout(poll, 500);
  }
})();
