// Upload a version with a progress bar; without JavaScript the form posts normally.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var bar = document.getElementById("upload-progress");
  var result = document.getElementById("upload-result");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("X-Upload", "1");
    bar.hidden = false;
    bar.value = 0;
    form.setAttribute("aria-busy", "true");
    request.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { bar.value = Math.round((e.loaded / e.total) * 100); }
    });
    request.addEventListener("load", function () {
      form.removeAttribute("aria-busy");
      bar.value = 100;
      // The server's own escaped HTML fragment: the result or the error with its line.
      result.innerHTML = request.responseText;
    });
    request.addEventListener("error", function () {
      form.removeAttribute("aria-busy");
      result.textContent = form.dataset.networkError || "Network error";
    });
    request.send(new FormData(form));
  });
})();
