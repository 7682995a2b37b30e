// Call page: click a transcript line or an analysis evidence time to hear it; ?t=
// seeks on load; the line being played is highlighted.
(function () {
  "use strict";
  var player = document.getElementById("player");
  var purpose = document.getElementById("purpose");
  if (purpose && player) {
    purpose.addEventListener("change", function () {
      var t = player.currentTime;
      player.src = purpose.dataset.base + "?purpose=" + encodeURIComponent(purpose.value);
      player.addEventListener("loadedmetadata", function () { player.currentTime = t; },
                              { once: true });
    });
  }
  var lines = Array.prototype.slice.call(document.querySelectorAll("#transcript .line"));
  if (!player) { return; }

  function seek(t) {
    player.currentTime = t;
    var p = player.play();
    if (p && p.catch) { p.catch(function () {}); }
  }

  lines.forEach(function (li) {
    function go() { seek(parseFloat(li.dataset.start)); }
    li.addEventListener("click", go);
    li.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); }
    });
  });

  // Evidence links in the analysis (<a class="seek" data-start>) seek like lines do;
  // their href (?t=) still works without JavaScript.
  document.addEventListener("click", function (e) {
    var a = e.target && e.target.closest ? e.target.closest("a.seek[data-start]") : null;
    if (!a) { return; }
    var t = parseFloat(a.dataset.start);
    if (isNaN(t)) { return; }
    e.preventDefault();
    seek(t);
  });

  // Coaching: "use the playing position" fills the comment's time (m:ss)
  var nowBtn = document.getElementById("comment-now");
  var atField = document.getElementById("comment-at");
  if (nowBtn && atField) {
    nowBtn.addEventListener("click", function () {
      var t = Math.floor(player.currentTime || 0);
      atField.value = Math.floor(t / 60) + ":" + ("0" + (t % 60)).slice(-2);
    });
  }

  player.addEventListener("timeupdate", function () {
    var t = player.currentTime;
    lines.forEach(function (li) {
      var on = t >= parseFloat(li.dataset.start) && t < parseFloat(li.dataset.end);
      li.classList.toggle("playing", on);
    });
  });

  var params = new URLSearchParams(window.location.search);
  var start = parseFloat(params.get("t"));
  if (!isNaN(start)) {
    var apply = function () { player.currentTime = start; };
    if (player.readyState >= 1) { apply(); } else {
      player.addEventListener("loadedmetadata", apply, { once: true });
    }
    lines.forEach(function (li) {
      if (Math.abs(parseFloat(li.dataset.start) - start) < 0.01) {
        li.classList.add("hit");
        li.scrollIntoView({ block: "center" });
      }
    });
  }
})();

// While the call is still in the pipeline, refresh the page every few seconds — unless
// the page has the timeline, which updates itself in place (timeline.js).
(function () {
  "use strict";
  var status = document.getElementById("call-status");
  if (document.getElementById("timeline")) { return; }
  if (status && ["indexed", "failed"].indexOf(status.dataset.status) < 0) {
    window.setTimeout(function () { window.location.reload(); }, 5000);
  }
})();
