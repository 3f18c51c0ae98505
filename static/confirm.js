// Forms (or their submit buttons) with data-confirm="question" ask before submitting (instead of inline onsubmit
// handlers, which the Content-Security-Policy forbids).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var button = event.submitter;  // a button may ask its own question (Release / Write off)
  var question = button && button.dataset && button.dataset.confirm ? button.dataset.confirm
    : (form && form.dataset ? form.dataset.confirm : null);
  if (question && !window.confirm(question)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
