/* Enhancements only: every page works without this file. */
(function () {
  "use strict";
  // "/" focuses the search box, as on most search sites (not while typing in a field).
  document.addEventListener("keydown", function (e) {
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
    var box = document.getElementById("q") || document.getElementById("hq");
    if (box) { e.preventDefault(); box.focus(); box.select(); }
  });
  // Sorting applies on change; the button stays for keyboard and no-JS users.
  var sort = document.getElementById("sort");
  if (sort && sort.form) {
    sort.addEventListener("change", function () { sort.form.submit(); });
  }
  // Citation boxes: select all on focus so one copy takes the whole citation.
  Array.prototype.forEach.call(document.querySelectorAll(".citebox textarea"), function (ta) {
    ta.addEventListener("focus", function () { ta.select(); });
  });
  // Bring the targeted passage into view and mark it, also after in-page navigation.
  function mark() {
    var old = document.querySelector(".passage.target");
    if (old) old.classList.remove("target");
    if (!location.hash || location.hash.indexOf("#p-") !== 0) return;
    var el = document.getElementById(location.hash.slice(1));
    if (el) { el.classList.add("target"); }
  }
  window.addEventListener("hashchange", mark);
  mark();
})();
