/* Bulk selection for list pages: a form with data-bulk="<checkbox name>" may hold
   .select-page (tick every row on this page), .select-all-matching (select every row matching the
   filters, on all pages: enables the hidden filter inputs and all=1, the server recounts), and
   .clear-all-matching. Nothing is sent from here: the server shows a confirmation first. */
(function () {
  document.querySelectorAll("form[data-bulk]").forEach(function (form) {
    var name = form.dataset.bulk;
    var boxes = function () { return form.querySelectorAll("input[name='" + name + "']"); };
    var page = form.querySelector(".select-page");
    var note = form.querySelector(".select-all-note");
    var allNote = form.querySelector(".all-matching-note");
    var flag = form.querySelector(".all-flag");
    function setAll(on) {
      form.querySelectorAll("[data-filter]").forEach(function (i) { i.disabled = !on; });
      if (flag) flag.disabled = !on;
      boxes().forEach(function (b) { b.disabled = on; if (on) b.checked = true; });
      if (allNote) allNote.hidden = !on;
      if (note) note.hidden = true;
      if (page) { page.checked = on; page.disabled = on; }
    }
    if (page) page.addEventListener("change", function () {
      boxes().forEach(function (b) { b.checked = page.checked; });
      if (note) note.hidden = !page.checked;
    });
    var more = form.querySelector(".select-all-matching");
    if (more) more.addEventListener("click", function () { setAll(true); });
    var clear = form.querySelector(".clear-all-matching");
    if (clear) clear.addEventListener("click", function () {
      setAll(false);
      boxes().forEach(function (b) { b.checked = false; });
    });
  });
})();
