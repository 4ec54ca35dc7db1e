// vnx serve: the page's one script. It asks before a deciding button acts, fills the pairing
// code from the address's fragment (never sent to the server), opens a transcript at its end
// (redrawn, it stays where the person scrolled it), and redraws the page when the server says
// the ledger changed, unless the person is typing.
"use strict";
(function () {
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var ask = form.getAttribute("data-confirm");
    if (ask && !window.confirm(ask)) { e.preventDefault(); }
  });
  // A tap on a line of the diff opens the comment form under it.
  document.addEventListener("click", function (e) {
    var row = e.target.closest && e.target.closest("tr[data-line]");
    var form = document.getElementById("comment-form");
    if (!row || !form) { return; }
    form.elements.file.value = row.getAttribute("data-file");
    form.elements.line.value = row.getAttribute("data-line");
    form.querySelector(".at").textContent = row.getAttribute("data-file") + ":" + row.getAttribute("data-line");
    var cell = document.createElement("td");
    cell.colSpan = 2;
    var holder = document.createElement("tr");
    holder.className = "comment-row";
    holder.appendChild(cell);
    var old = document.querySelector("tr.comment-row");
    if (old) { old.remove(); }
    row.after(holder);
    cell.appendChild(form);
    form.hidden = false;
    form.elements.message.focus();
  });
  // A transcript opens at its end: the worker's latest words, not its first prompt. Redrawn,
  // it stays where the person scrolled it (its start stays in reach) and follows its end
  // only when they left it there.
  function logs() { return document.querySelectorAll("pre.log"); }
  function atEnd(log) { return log.scrollTop + log.clientHeight >= log.scrollHeight - 2; }
  Array.prototype.forEach.call(logs(), function (log) { log.scrollTop = log.scrollHeight; });
  var code = document.getElementById("code");
  if (code && location.hash.indexOf("#code=") === 0) {
    code.value = decodeURIComponent(location.hash.slice(6));
    history.replaceState(null, "", location.pathname);
  }
  var csrf = document.querySelector('meta[name="csrf"]');
  if (!csrf || !csrf.content || !window.EventSource) { return; }
  var busy = false;
  function typing() {
    var a = document.activeElement;
    if (a && (a.tagName === "TEXTAREA" || a.tagName === "INPUT") && a.value) { return true; }
    return Array.prototype.some.call(document.querySelectorAll("textarea"), function (t) { return t.value; });
  }
  function redraw() {
    if (busy || typing()) { return; }
    busy = true;
    fetch(location.href, { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (text) {
      busy = false;
      // Typing may have begun while the page was fetched: then it is kept as it is.
      if (!text || typing()) { return; }
      var doc = new DOMParser().parseFromString(text, "text/html");
      var fresh = doc.querySelector("main");
      var open = Array.prototype.map.call(document.querySelectorAll("details.file"), function (d) { return d.open; });
      var read = Array.prototype.map.call(logs(), function (l) { return atEnd(l) ? null : l.scrollTop; });
      if (fresh) { document.querySelector("main").replaceWith(fresh); }
      Array.prototype.forEach.call(document.querySelectorAll("details.file"), function (d, i) {
        if (i < open.length) { d.open = open[i]; }
      });
      Array.prototype.forEach.call(logs(), function (l, i) {
        var at = i < read.length ? read[i] : null;
        l.scrollTop = at === null ? l.scrollHeight : at;
      });
      document.dispatchEvent(new Event("vnx:redrawn"));
    }).catch(function () { busy = false; });
  }
  var events = new EventSource("/events");
  events.addEventListener("change", redraw);
})();
