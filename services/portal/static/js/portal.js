// Countdowns to a grant's expiry, updated every second (the server renders the start value).
(function () {
  "use strict";
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    document.querySelectorAll("time.countdown").forEach(function (el) {
      var left = parseInt(el.dataset.seconds, 10);
      if (isNaN(left)) { return; }
      left = Math.max(0, left - 1);
      el.dataset.seconds = String(left);
      if (left === 0) { el.textContent = el.dataset.labelExpired; return; }
      var days = Math.floor(left / 86400);
      var rest = left % 86400;
      el.textContent = days + " " + el.dataset.labelDays + " " +
        pad(Math.floor(rest / 3600)) + ":" + pad(Math.floor((rest % 3600) / 60)) + ":" + pad(rest % 60);
    });
  }
  setInterval(tick, 1000);
})();
