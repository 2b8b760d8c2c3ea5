// The dashboard's only assets, shipped as strings in the package (no CDN, no build step for
// users). The script is progressive: every page and single action works without it; it adds
// live refresh, confirmations, "select all" and filter-wide bulk actions with progress.

export const CSS = `
:root{--fg:#1d2330;--muted:#5c6472;--bg:#fff;--panel:#f5f6f8;--line:#d9dde3;--accent:#2458c6;--ok:#17803d;--bad:#b42318;--warn:#9a6700;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
body{margin:0}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible{outline:3px solid #7aa2ff;outline-offset:1px}
header.top{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;padding:.5rem 1rem;border-bottom:1px solid var(--line);background:var(--panel)}
header.top .brand{font-weight:700;margin-right:1rem;text-decoration:none;color:var(--fg)}
header.top nav ul{display:flex;gap:1rem;list-style:none;margin:0;padding:0}
header.top nav a[aria-current=page]{font-weight:700;text-decoration:none;color:var(--fg)}
.live{margin-left:auto;display:flex;gap:.5rem;align-items:center;color:var(--muted)}
main{padding:1rem;max-width:1400px}
h1{font-size:1.4rem;margin:.2rem 0 1rem}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--panel);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.muted,.note{color:var(--muted)}
.badge{display:inline-block;padding:0 .4rem;border-radius:.6rem;background:var(--panel);border:1px solid var(--line);font-size:.85em}
.s-failed{color:var(--bad)}.s-completed{color:var(--ok)}.s-retrying{color:var(--warn)}.s-running{color:var(--accent)}
pre{background:var(--panel);border:1px solid var(--line);padding:.5rem;overflow:auto;max-height:32rem;white-space:pre-wrap;overflow-wrap:anywhere}
td.payload{font-family:ui-monospace,monospace;font-size:.85em;max-width:32rem;overflow-wrap:anywhere}
form.inline{display:inline}
form.filters{display:flex;flex-wrap:wrap;gap:.75rem;align-items:end;margin-bottom:.5rem}
form.filters label{display:flex;flex-direction:column;font-size:.85em;color:var(--muted)}
button{font:inherit;padding:.2rem .7rem;border:1px solid var(--line);border-radius:.3rem;background:#fff;cursor:pointer}
button.danger{color:var(--bad);border-color:#e7b4ae}
input,select{font:inherit;padding:.2rem .3rem}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.5rem 0}
.timeline{list-style:none;padding:0;border-left:3px solid var(--line);margin-left:.5rem}
.timeline li{padding:.3rem 0 .6rem 1rem}
dl.fields{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dl.fields dt{color:var(--muted)}dl.fields dd{margin:0;overflow-wrap:anywhere}
.chart svg{max-width:100%;height:auto;border:1px solid var(--line);background:#fff}
.legend span{margin-right:1rem}.sw{display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:-.1em}
.sw.c{background:#2e9e5b}.sw.f{background:#d64545}
.flash{padding:.5rem;border:1px solid var(--line);background:#fffbe6}
.pager{display:flex;gap:1rem;margin:.5rem 0}
`;

export const JS = `"use strict";
(function () {
  var doc = document;
  var meta = function (n) { var m = doc.querySelector('meta[name="' + n + '"]'); return m ? m.getAttribute("content") : ""; };
  var base = meta("sidetrack-base");
  var csrf = meta("csrf-token");
  var main = doc.querySelector("main");
  var toggle = doc.getElementById("live-toggle");
  var stamp = doc.getElementById("live-stamp");
  var busy = false;
  var paused = false;
  try { paused = localStorage.getItem("sidetrack-live-paused") === "1"; } catch (e) {}
  var INTERVAL = 3000;
  var timer = null;

  function showState() {
    if (!toggle) return;
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");
    toggle.textContent = paused ? "Resume live refresh" : "Pause live refresh";
  }
  function quiet() {
    // Never replace the page under a user's hands: a selection, a field being typed in, a bulk run.
    if (busy) return false;
    if (main.querySelector("input[type=checkbox]:checked")) return false;
    var a = doc.activeElement;
    if (a && main.contains(a) && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName)) return false;
    return true;
  }
  function refresh() {
    if (paused || doc.visibilityState !== "visible" || !quiet()) return;
    fetch(location.href, { headers: { "x-sidetrack-partial": "1" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (text) {
        if (!quiet() || paused) return;
        main.innerHTML = text;
        if (stamp) stamp.textContent = "updated " + new Date().toLocaleTimeString();
        bind();
      })
      .catch(function () { if (stamp) stamp.textContent = "refresh failed"; });
  }
  function schedule() {
    if (timer) clearInterval(timer);
    timer = null;
    if (!paused && doc.visibilityState === "visible") timer = setInterval(refresh, INTERVAL);
  }
  if (toggle) {
    toggle.addEventListener("click", function () {
      paused = !paused;
      try { localStorage.setItem("sidetrack-live-paused", paused ? "1" : "0"); } catch (e) {}
      showState(); schedule();
      if (stamp) stamp.textContent = paused ? "paused" : "live";
    });
  }
  doc.addEventListener("visibilitychange", schedule);

  function post(path, body) {
    return fetch(base + path, {
      method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json", "x-sidetrack-csrf": csrf },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || String(r.status)); return j; }); });
  }

  function bind() {
    main.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (e) { if (!confirm(f.getAttribute("data-confirm"))) e.preventDefault(); });
    });
    main.querySelectorAll("button[data-confirm]").forEach(function (b) {
      b.addEventListener("click", function (e) { if (!confirm(b.getAttribute("data-confirm"))) e.preventDefault(); });
    });
    var all = main.querySelector("#select-all");
    if (all) all.addEventListener("change", function () {
      main.querySelectorAll("input[name=ids]").forEach(function (c) { c.checked = all.checked; });
    });
    main.querySelectorAll("[data-bulk-action]").forEach(function (b) {
      b.addEventListener("click", function () { runBulk(b); });
    });
  }

  function runBulk(button) {
    var box = button.closest("[data-filter]");
    var filter = JSON.parse(box.getAttribute("data-filter"));
    var action = button.getAttribute("data-bulk-action");
    var total = Number(box.getAttribute("data-total"));
    var label = box.getAttribute("data-total-label");
    if (!confirm(action + " all " + label + " jobs matching this filter?")) return;
    var bar = box.querySelector("progress");
    var text = box.querySelector("[data-progress]");
    busy = true;
    box.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
    bar.hidden = false; bar.max = Math.max(total, 1); bar.value = 0;
    var processed = 0, changed = 0;
    function step(after) {
      return post("/api/jobs/bulk", { action: action, filter: filter, after: after }).then(function (r) {
        processed += r.processed; changed += r.changed;
        bar.max = Math.max(bar.max, processed); bar.value = processed;
        text.textContent = action + ": " + changed + " changed of " + processed + " processed" + (r.done ? " – done" : "…");
        if (!r.done) return step(r.after);
      });
    }
    step("0").catch(function (e) { text.textContent = action + " stopped: " + e.message; })
      .then(function () { busy = false; box.querySelectorAll("button").forEach(function (x) { x.disabled = false; }); });
  }

  showState(); schedule(); bind();
})();
`;
