// The stock view's item search: choosing an item opens its stock page.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var select = event.target.closest("#stock-item");
    if (!select || !select.value) { return; }
    var base = select.closest("form").dataset.stockUrl;
    window.location.assign(base + "/" + encodeURIComponent(select.value));
  });
})();
