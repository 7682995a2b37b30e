// Upload a recording: the raw file is the request body (no multipart, nothing
// spooled to disk on the server); the CSRF token travels in a header.
(function () {
  "use strict";
  var form = document.getElementById("upload");
  if (!form) { return; }
  var out = document.getElementById("upload-result");
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var file = form.querySelector("input[type=file]").files[0];
    if (!file) { return; }
    out.textContent = "…";
    fetch("/api/calls?filename=" + encodeURIComponent(file.name), {
      method: "POST",
      body: file,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": form.dataset.csrf, "Content-Type": "application/octet-stream" }
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      if (!res.ok) { out.textContent = res.body.error || "error"; return; }
      if (res.body.status === "duplicate") {
        out.innerHTML = "";
        var a = document.createElement("a");
        a.href = "/calls/" + res.body.duplicate_of;
        a.textContent = "duplicate: " + res.body.duplicate_of;
        out.appendChild(a);
        return;
      }
      window.location.href = "/calls/" + res.body.call_id;
    }).catch(function (err) { out.textContent = String(err); });
  });
})();
