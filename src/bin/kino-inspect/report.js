// Clicking a finding's marker shows the finding (and the other way round).
(function () {
  "use strict";
  function flash(el) {
    el.classList.add("hit");
    setTimeout(function () { el.classList.remove("hit"); }, 1500);
  }
  var markers = document.querySelectorAll("svg.lane .marker.finding");
  markers.forEach(function (m) {
    m.addEventListener("click", function () {
      var f = document.getElementById(m.getAttribute("data-finding"));
      if (f) { f.scrollIntoView({ block: "center" }); flash(f); }
    });
  });
  document.querySelectorAll("ol.findings li.finding").forEach(function (li) {
    li.addEventListener("mouseenter", function () {
      var m = document.querySelector('.marker.finding[data-finding="' + li.id + '"]');
      if (m) { flash(m); }
    });
  });
  document.body.setAttribute("data-lanes", String(document.querySelectorAll("svg.lane").length));
  document.body.setAttribute("data-ready", "1");
})();
