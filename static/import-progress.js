/* The progress bar of a background import (templates/imports/job.html): polls the job's JSON
   status every second, moves the bar, and reloads the page when the job has finished (the server
   then shows the counts or every problem). Without script the page refreshes itself. */
(function () {
  var box = document.querySelector(".import-job[data-status-url]");
  if (!box || box.dataset.finished === "1") return;
  var bar = box.querySelector(".import-progress");
  function show(state) {
    if (bar) { bar.value = state.percent; bar.textContent = state.percent + "%"; }
    ["percent", "phase", "rows_done", "rows_total"].forEach(function (name) {
      var field = box.querySelector("[data-field='" + name + "']");
      if (field) field.textContent = state[name] || (name === "phase" ? "queued" : 0);
    });
  }
  function poll() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (state) {
        show(state);
        if (state.finished) { window.location.reload(); } else { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
