// The one script our web UI pages need: the "Report" tab's panel (served as /loadtest/webui.js).
//
// Locust's extended tabs can only show a table (its React UI renders an extended tab as the table
// named by extended_tables; issue locust#2194 says new charts need your own JavaScript). The
// "Report" tab therefore has no table, and this script fills the empty tab with the live plots:
// while the tab is selected it asks /loadtest/report.json every few seconds and swaps an image
// only when a new drawing exists. The DOM is built with textContent and attributes, never
// innerHTML, so nothing the server sends can become markup.
(function () {
  "use strict";
  var PANEL_ID = "loadtest-report";
  var POLL_MS = 5000;
  var lastFetch = 0;
  var fetching = false;
  var wasSelected = false;
  var shown = {};

  function reportTabSelected() {
    if (!document.querySelector('[role="tablist"]')) return false;
    var tab = new URLSearchParams(window.location.search).get("tab");
    if (tab) return tab === "report";
    var sel = document.querySelector('[role="tab"][aria-selected="true"]');
    return !!sel && sel.textContent.trim().toLowerCase() === "report";
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function panel() {
    var node = document.getElementById(PANEL_ID);
    var host = document.querySelector("main .MuiContainer-root") || document.querySelector("main");
    if (!host) return null;
    if (!node) {
      node = el("div", { id: PANEL_ID, "data-testid": "loadtest-report" });
      node.style.cssText = "padding:16px 0;font-family:Roboto,Helvetica,Arial,sans-serif;";
      node.appendChild(el("div", { "class": "lt-status" }, "Loading the live report…"));
      node.appendChild(el("div", { "class": "lt-links" }));
      var grid = el("div", { "class": "lt-figures" });
      grid.style.cssText =
        "display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px;align-items:start;";
      node.appendChild(grid);
      node.appendChild(el("ul", { "class": "lt-notes" }));
      shown = {};
    }
    if (node.parentNode !== host) host.appendChild(node);
    return node;
  }

  function link(href, text, download) {
    var a = el("a", { href: href }, text);
    if (download) a.setAttribute("download", download);
    a.style.marginRight = "16px";
    return a;
  }

  function render(node, data) {
    var status = node.querySelector(".lt-status");
    var links = node.querySelector(".lt-links");
    var grid = node.querySelector(".lt-figures");
    var notes = node.querySelector(".lt-notes");
    if (!data.run) {
      status.textContent = "No run yet: start one from the form.";
      return;
    }
    var age = data.generated_at ? Math.max(0, Math.round(Date.now() / 1000 - data.generated_at)) : null;
    status.textContent = "Run " + data.run + " (" + data.state + ", folder " + data.folder + "): " +
      data.seconds + " s of timeline" +
      (age === null ? ", drawing the plots…" : ", plots drawn " + age + " s ago") +
      (data.rendering ? " (redrawing)" : "");
    links.textContent = "";
    links.appendChild(link("/loadtest/summary", "summary.json (live)"));
    if (data.report_html) {
      links.appendChild(link(data.report_html, "Download report.html", "report.html"));
    } else {
      links.appendChild(el("span", { "class": "lt-pending" }, data.report_note || ""));
    }
    links.style.margin = "8px 0 16px 0";
    (data.figures || []).forEach(function (f) {
      var fig = grid.querySelector('figure[data-name="' + f.name + '"]');
      if (!fig) {
        fig = el("figure", { "data-name": f.name });
        fig.style.cssText = "margin:0;background:#fff;border:1px solid #ddd;border-radius:4px;padding:8px;";
        var img = el("img", { alt: f.caption });
        img.style.cssText = "width:100%;height:auto;display:block;";
        fig.appendChild(img);
        var cap = el("figcaption", {}, f.caption);
        cap.style.cssText = "color:#333;font-size:14px;padding-top:4px;";
        fig.appendChild(cap);
        grid.appendChild(fig);
      }
      if (shown[f.name] !== f.url) {
        fig.querySelector("img").setAttribute("src", f.url);
        shown[f.name] = f.url;
      }
    });
    notes.textContent = "";
    (data.notes || []).forEach(function (n) { notes.appendChild(el("li", {}, n)); });
  }

  function refresh(node) {
    if (fetching) return;
    fetching = true;
    lastFetch = Date.now();
    fetch("/loadtest/report.json", { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (data) { render(node, data); })
      .catch(function (err) {
        node.querySelector(".lt-status").textContent = "The live report is not available: " + err;
      })
      .then(function () { fetching = false; });
  }

  function tick() {
    var selected = reportTabSelected();
    var node = selected ? panel() : document.getElementById(PANEL_ID);
    if (!node) return;
    node.style.display = selected ? "block" : "none";
    if (selected && (!wasSelected || Date.now() - lastFetch >= POLL_MS)) refresh(node);
    wasSelected = selected;
  }

  window.setInterval(tick, 500);
})();
