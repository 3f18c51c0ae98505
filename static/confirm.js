// Forms with data-confirm="question" ask before submitting (instead of inline onsubmit
// handlers, which the Content-Security-Policy forbids).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form && form.dataset ? form.dataset.confirm : null;
  if (question && !window.confirm(question)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
