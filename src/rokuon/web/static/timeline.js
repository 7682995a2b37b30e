// Call page timeline (templates/_timeline.html): a click anywhere on it plays from that
// moment (a marker: from its own time), the playing position is a moving cursor, and
// while the call is still being analysed the fragment is fetched again every 3 s
// (GET /calls/{id}/timeline) and swapped in, without reloading the page. Everything is
// delegated to the document, so a swapped-in fragment needs no new listeners.
(function () {
  "use strict";
  var FINAL = ["analyzed", "indexed", "failed"];
  var POLL_MS = 3000;
  var W = 1000; // the SVG's viewBox width
  var player = document.getElementById("player");
  if (!player || !document.getElementById("timeline")) { return; }

  function box() { return document.getElementById("timeline"); }

  function duration() {
    var d = parseFloat(box() ? box().dataset.duration : "");
    if (!(d > 0)) { d = player.duration; }
    return d > 0 && isFinite(d) ? d : 0;
  }

  // as player.js: set the position and play (a refused autoplay is no error)
  function seek(t) {
    if (isNaN(t)) { return; }
    player.currentTime = Math.max(0, t);
    var p = player.play();
    if (p && p.catch) { p.catch(function () {}); }
    moveCursor();
  }

  function fromMarker(target) {
    return target && target.closest ? target.closest(".tl-marker[data-start]") : null;
  }

  document.addEventListener("click", function (e) {
    var svg = e.target && e.target.closest ? e.target.closest("#timeline-svg") : null;
    if (!svg) { return; }
    e.preventDefault();
    var m = fromMarker(e.target);
    if (m) { seek(parseFloat(m.dataset.start)); return; }
    var r = svg.getBoundingClientRect();
    var d = duration();
    if (!(r.width > 0) || !d) { return; }
    var f = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    seek(f * d);
  });

  document.addEventListener("keydown", function (e) {
    var m = fromMarker(e.target);
    if (m && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();
      seek(parseFloat(m.dataset.start));
    }
  });

  function moveCursor() {
    var c = document.getElementById("timeline-cursor");
    var d = duration();
    if (!c || !d) { return; }
    var x = (Math.min(d, Math.max(0, player.currentTime || 0)) / d * W).toFixed(2);
    c.setAttribute("x1", x);
    c.setAttribute("x2", x);
    c.classList.add("on");
  }
  ["timeupdate", "seeked", "loadedmetadata"].forEach(function (ev) {
    player.addEventListener(ev, moveCursor);
  });

  // live update while the analysis runs
  var statusEl = document.getElementById("call-status");
  var first = statusEl ? statusEl.dataset.status : box().dataset.status;
  if (FINAL.indexOf(first) >= 0) { return; }
  var timer = null;

  function stop() { if (timer !== null) { window.clearInterval(timer); timer = null; } }

  function showStatus(fresh) {
    var st = fresh.dataset.status;
    if (statusEl && st) {
      statusEl.dataset.status = st;
      statusEl.className = "status " + st;
      if (fresh.dataset.statusLabel) { statusEl.textContent = fresh.dataset.statusLabel; }
    }
    if (FINAL.indexOf(st) >= 0) {
      stop();
      var done = document.getElementById("timeline-done");
      if (done) { done.hidden = false; }
    }
  }

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("timeline");
    var old = box();
    if (!fresh || !old) { stop(); return; } // signed out, or not a fragment
    fresh = document.importNode(fresh, true);
    old.parentNode.replaceChild(fresh, old);
    moveCursor();
    showStatus(fresh);
  }

  function poll() {
    var src = box() && box().dataset.src;
    if (!src) { stop(); return; }
    window.fetch(src, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        if (!r.ok || r.redirected) { stop(); return null; }
        return r.text();
      })
      .then(function (html) { if (html) { swap(html); } })
      .catch(function () {}); // a network hiccup: the next poll tries again
  }
  timer = window.setInterval(poll, POLL_MS);
})();
