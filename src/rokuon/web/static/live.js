// The live board: one EventSource, the whole snapshot re-rendered on each event.
// Text is inserted with textContent only (never as HTML).
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root) { return; }
  var d = root.dataset;
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function clock(s) {
    s = Math.floor(s || 0);
    var m = Math.floor(s / 60), r = s % 60;
    return m + ":" + (r < 10 ? "0" : "") + r;
  }
  function speaker(s) { return d["speaker" + (s === "agent" ? "Agent" : "Customer")] || s; }
  function render(calls) {
    root.textContent = "";
    if (!calls.length) { root.appendChild(el("p", "muted", d.empty)); return; }
    calls.forEach(function (c) {
      var card = el("section", "live-call" + (c.alerts.length ? " alerting" : ""));
      card.id = "live-" + c.call_id;
      var head = el("h2", null, (c.agent || "—") + " · " + clock(c.seconds));
      if (c.paused) { head.appendChild(el("span", "badge", d.paused)); }
      if (c.ended) {
        head.appendChild(el("span", "badge", d.ended));
        var a = el("a", null, d.open); a.href = "/calls/" + c.call_id; head.appendChild(a);
      }
      card.appendChild(head);
      if (c.alerts.length) {
        var ul = el("ul", "alerts");
        c.alerts.forEach(function (al) {
          var li = el("li", "alert kind-" + al.kind,
                      (d["kind" + al.kind.charAt(0).toUpperCase() + al.kind.slice(1)] || al.kind) +
                      " " + clock(al.start) + (al.text ? " — " + al.text : ""));
          li.dataset.rule = al.rule;
          ul.appendChild(li);
        });
        card.appendChild(ul);
      }
      if (c.suggestions && c.suggestions.length) {
        // FAQ answers for the customer's latest utterance that had some (docs/assist.md)
        var box = el("section", "faq");
        box.appendChild(el("h3", null, d.faq));
        box.appendChild(el("p", "trigger", d.faqTrigger + " " + clock(c.suggestions[0].start) +
                                           " 「" + c.suggestions[0].trigger + "」"));
        var ol = el("ol", "faq-suggestions");
        c.suggestions.forEach(function (f) {
          var li = el("li");
          li.dataset.entry = f.entry_id;
          li.appendChild(el("strong", null, f.question));
          li.appendChild(el("div", "answer", f.answer));
          ol.appendChild(li);
        });
        box.appendChild(ol);
        card.appendChild(box);
      }
      var tr = el("ol", "live-transcript");
      c.segments.forEach(function (sg) {
        var li = el("li", "seg " + sg.speaker);
        li.appendChild(el("span", "t", clock(sg.start)));
        li.appendChild(el("span", "who", speaker(sg.speaker)));
        li.appendChild(el("span", "text", sg.text));
        tr.appendChild(li);
      });
      c.partials.forEach(function (p) {
        var li = el("li", "seg partial " + p.speaker);
        li.appendChild(el("span", "t", clock(p.start)));
        li.appendChild(el("span", "who", speaker(p.speaker)));
        li.appendChild(el("span", "text", p.text + " …"));
        tr.appendChild(li);
      });
      card.appendChild(tr);
      root.appendChild(card);
    });
  }
  var es = new EventSource("/api/live/events");
  es.onmessage = function (ev) { render(JSON.parse(ev.data).calls); };
})();
