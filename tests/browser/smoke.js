// Injected by tests/browser_smoke.rs into a copy of a generated report page
// (the page itself runs no scripts). On load it checks what a reader would
// see and appends the findings as JSON in <pre id="agentsim-smoke-result">,
// which `chromium --dump-dom` prints.
(function () {
  var problems = [];
  // Script errors and failed loads (images, styles) anywhere on the page.
  window.addEventListener("error", function (e) {
    var t = e.target && e.target !== window ? (e.target.tagName || "?") + " failed to load" : String(e.message);
    problems.push("error event: " + t);
  }, true);
  ["error", "warn"].forEach(function (level) {
    var orig = console[level];
    console[level] = function () {
      problems.push("console." + level + ": " + Array.prototype.join.call(arguments, " "));
      return orig.apply(console, arguments);
    };
  });
  window.addEventListener("load", function () {
    var figures = document.querySelectorAll("figure");
    var charts = [];
    figures.forEach(function (f) {
      var svg = f.querySelector("svg");
      if (!svg) {
        problems.push("figure #" + f.id + " has no svg");
        return;
      }
      var box = svg.getBoundingClientRect();
      var content = svg.getBBox();
      var marks = svg.querySelectorAll("path,line,polyline,polygon,rect,circle,text").length;
      charts.push({ id: f.id, width: box.width, height: box.height, content_width: content.width, content_height: content.height, marks: marks });
      if (!(box.width > 0 && box.height > 0)) problems.push("figure #" + f.id + ": empty svg box " + box.width + "x" + box.height);
      if (!(content.width > 0 && content.height > 0) || marks === 0) problems.push("figure #" + f.id + ": nothing drawn");
    });
    var seen = {};
    document.querySelectorAll("[id]").forEach(function (el) {
      if (el.id === "agentsim-smoke-result") return;
      if (seen[el.id]) problems.push("duplicate id " + JSON.stringify(el.id));
      seen[el.id] = true;
    });
    document.querySelectorAll("a[href^='#']").forEach(function (a) {
      if (!document.getElementById(a.getAttribute("href").slice(1))) problems.push("dangling link " + a.getAttribute("href"));
    });
    if (!document.querySelector("meta[name=viewport]")) problems.push("no viewport meta");
    var out = document.createElement("pre");
    out.id = "agentsim-smoke-result";
    out.textContent = JSON.stringify({
      figures: figures.length,
      charts: charts,
      failure_pre: document.querySelectorAll("pre.failure").length,
      page_width: document.documentElement.scrollWidth,
      problems: problems,
    });
    document.body.appendChild(out);
  });
})();
