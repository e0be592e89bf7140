// The credential reveal page (templates/orders/credentials.html): count down, then remove
// the passwords from the page. Also removed when the page is left, so a back/forward cache
// snapshot holds none, and when such a snapshot is shown again (docs/security.md,
// "Credential reveals"). A static file: the CSP forbids inline scripts.
"use strict";

(function () {
  var box = document.getElementById("credentials");
  if (!box) return;
  var seconds = parseInt(box.dataset.expiresIn, 10);
  if (!(seconds >= 0)) seconds = 0;
  var deadline = Date.now() + seconds * 1000;
  var remaining = document.getElementById("credentials-remaining");
  var countdown = document.getElementById("credentials-countdown");
  var expired = document.getElementById("credentials-expired");
  var timer = null;

  function words(left) {
    var minutes = Math.floor(left / 60);
    var rest = left % 60;
    if (minutes === 0) return rest + (rest === 1 ? " second" : " seconds");
    return minutes + ":" + (rest < 10 ? "0" : "") + rest + " minutes";
  }

  function wipe() {
    document.querySelectorAll("[data-secret]").forEach(function (secret) {
      var gone = document.createElement("span");
      gone.className = "muted";
      gone.textContent = "removed";
      secret.replaceWith(gone);
    });
    if (timer !== null) window.clearInterval(timer);
    timer = null;
    if (countdown) countdown.hidden = true;
    if (expired) expired.hidden = false;
  }

  function tick() {
    var left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= 0) {
      wipe();
      return;
    }
    if (remaining) remaining.textContent = words(left);
  }

  tick();
  if (seconds > 0) timer = window.setInterval(tick, 1000);
  window.addEventListener("pagehide", wipe);
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) wipe();
  });
})();
