/* Record-payment page: picking a customer reloads its currencies and open invoices in place
   (the same page, ?part=account), keeping what was typed; the currency shows only that
   currency's invoices. The server checks everything again when the form is sent. */
(function () {
  var form = document.getElementById("payment-form");
  if (!form) return;
  form.querySelectorAll(".js-hide").forEach(function (el) { el.hidden = true; });
  var account = form.querySelector("input[name=account]");
  var part = document.getElementById("account-part");
  var shown = account.value;

  function showCurrency() {
    var select = part.querySelector("select[name=currency]");
    if (!select) return;
    part.querySelectorAll("tr[data-currency]").forEach(function (row) {
      var same = row.dataset.currency === select.value;
      row.hidden = !same;
      if (!same) row.querySelector("input[type=checkbox]").checked = false;
    });
  }

  function load() {
    var key = account.value.trim();
    if (key === shown) return;
    shown = key;
    var url = form.dataset.partUrl + "&account=" + encodeURIComponent(key);
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        if (shown !== key) return;
        part.innerHTML = html;
        showCurrency();
        form.dataset.loaded = key;
      })
      .catch(function () { shown = null; });
  }

  account.addEventListener("change", load);
  account.addEventListener("input", function () {
    var list = document.getElementById("accounts");
    var key = account.value.trim();
    for (var i = 0; i < list.options.length; i++) {
      if (list.options[i].value === key) { load(); return; }
    }
  });
  part.addEventListener("change", function (e) {
    if (e.target.name === "currency") showCurrency();
  });
  showCurrency();
})();
