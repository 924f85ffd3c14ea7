// Countersign web interface: the only script. It polls a draft's progress
// and highlights the quoted passage of a citation. Pages work without it:
// the progress page also refreshes itself (noscript), and citations are
// links to their passage (:target).
(function () {
  "use strict";

  // Progress: poll the draft's status and reload when it changes.
  var box = document.getElementById("draft-progress");
  if (box) {
    var url = box.getAttribute("data-status-url");
    var initial = box.getAttribute("data-status");
    var tries = 0;
    var poll = function () {
      tries++;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) {
          if (d && d.status && d.status !== initial) {
            window.location.reload();
            return;
          }
          window.setTimeout(poll, tries < 30 ? 1000 : 5000);
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    };
    window.setTimeout(poll, 700);
  }

  // Citations: hovering or focusing a source highlights its passage.
  var active = [];
  var clear = function () {
    active.forEach(function (el) { el.classList.remove("active"); });
    active = [];
  };
  var show = function (link) {
    clear();
    var mark = document.getElementById(link.getAttribute("data-mark"));
    if (!mark) { return; }
    mark.classList.add("active");
    link.classList.add("active");
    active.push(mark, link);
    var note = mark.closest(".note");
    if (note) { note.classList.add("active"); active.push(note); }
    var r = mark.getBoundingClientRect();
    if (r.top < 0 || r.bottom > window.innerHeight) {
      mark.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
  };
  document.querySelectorAll("a.cite[data-mark]").forEach(function (link) {
    link.addEventListener("mouseenter", function () { show(link); });
    link.addEventListener("focus", function () { show(link); });
    link.addEventListener("mouseleave", clear);
    link.addEventListener("blur", clear);
  });
})();
