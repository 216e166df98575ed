// The compare page: up to 4 runs named in the address (#r=<key>,<key>…, keys
// from LB_UTIL.runKey) side by side: scores with standard errors and 95%
// intervals, each difference to the first run marked significant or tied, an
// SVG chart with the intervals, and metadata. Data: window.LB_DATA (data.js).
// Everything from the data is escaped before it reaches innerHTML.
(function () {
  "use strict";
  var D = window.LB_DATA, C = D.c, U = window.LB_UTIL, esc = U.esc, pct = U.pct;
  var LABELS = ["Average", "ARC", "HellaSwag", "MMLU", "TruthfulQA", "Winogrande", "GSM8K"];
  var COLOURS = ["#2563eb", "#ea580c", "#16a34a", "#9333ea"];
  function val(i, c) { return c === 0 ? C.avg[i] : C["b" + (c - 1)][i]; }
  function se(i, c) { return c === 0 ? C.se[i] : C["s" + (c - 1)][i]; }
  var $ = function (id) { return document.getElementById(id); };

  function keys() {
    var p = new URLSearchParams(location.hash.replace(/^#/, ""));
    var r = p.get("r");
    return r ? r.split(",").filter(function (k) { return k !== ""; }).slice(0, 4) : [];
  }

  function cell(i, c) {
    var v = val(i, c), s = se(i, c);
    if (v === null) return '<td class="num">—</td>';
    var lo = Math.max(0, v - 1.96 * s), hi = Math.min(10000, v + 1.96 * s);
    return '<td class="num">' + pct(v) + (s === null ? "" : ' <span class="muted">± ' + pct(s) + "</span><br><small class=\"muted\">" + pct(lo) + "–" + pct(hi) + "</small>") + "</td>";
  }
  // Per-sample details of a row (window.LB_DETAILS entries, loaded on demand).
  function detailsOf(i) {
    var list = window.LB_DETAILS || [], rev = (C.sha[i] || "").slice(0, 12);
    for (var k = 0; k < list.length; k++) {
      var d = list[k];
      if (d.m === D.models[C.m[i]] && d.p === D.precs[C.p[i]] && d.r === rev) return d.t;
    }
    return null;
  }
  var BENCH_OF = function (task) {
    if (task.indexOf("mmlu_") === 0) return 3;
    return { arc_challenge: 1, hellaswag: 2, truthfulqa_mc: 4, winogrande: 5, gsm8k: 6 }[task] || 0;
  };
  // The documents two runs' details both hold for benchmark column c:
  // {n, aOnly (A right, B wrong), bOnly, docs: [[task, doc, rowA, rowB]] disagreeing}.
  function paired(i, j, c) {
    var da = detailsOf(i), db = detailsOf(j);
    if (!da || !db) return null;
    var out = { n: 0, aOnly: 0, bOnly: 0, docs: [] };
    Object.keys(da).sort().forEach(function (task) {
      if (BENCH_OF(task) !== c || !db[task]) return;
      var byDoc = {};
      db[task].forEach(function (r) { byDoc[r[0]] = r; });
      da[task].forEach(function (ra) {
        var rb = byDoc[ra[0]];
        if (!rb) return;
        out.n++;
        if (ra[1] && !rb[1]) out.aOnly++;
        if (rb[1] && !ra[1]) out.bOnly++;
        if (ra[1] !== rb[1] || ra[2] !== rb[2]) out.docs.push([task, ra[0], ra, rb]);
      });
    });
    return out.n ? out : null;
  }
  // McNemar's test: z = (bOnly − aOnly)/√(aOnly + bOnly), significant when |z| > 1.96.
  function mcnemar(p) {
    var m = p.aOnly + p.bOnly;
    return m === 0 ? 0 : (p.bOnly - p.aOnly) / Math.sqrt(m);
  }
  function diff(i, j, c) {
    var a = val(i, c), b = val(j, c), sa = se(i, c), sb = se(j, c);
    if (a === null || b === null || sa === null || sb === null) return '<td class="num">—</td>';
    var p = c > 0 ? paired(i, j, c) : null, sig, how;
    if (p) { sig = Math.abs(mcnemar(p)) > 1.96; how = "paired, " + p.n + " docs"; }
    else { sig = U.beats(a, sa, b, sb) || U.beats(b, sb, a, sa); how = "intervals"; }
    var d = b - a;
    return '<td class="num ' + (sig ? "sig" : "tie") + '" data-sig="' + (sig ? 1 : 0) + '" data-how="' + (p ? "paired" : "unpaired") + '" title="' + esc(how) + '">' + (d >= 0 ? "+" : "−") + pct(Math.abs(d)) +
      "<br><small>" + (sig ? "significant" : "tied") + (p ? " (paired)" : "") + "</small></td>";
  }

  // ---- per-sample diff ---------------------------------------------------
  var PAGE = 50, diffState = { other: 1, bench: 0, dir: "all", page: 0 };
  function choiceText(task, doc, v) {
    var t = (window.LB_TEXT || {})[task], rec = t && t[doc];
    var k = /^[0-9]+$/.test(v) ? +v : -1;
    return rec && k >= 0 && rec[1][k] !== undefined ? v + ": " + rec[1][k] : v;
  }
  function renderDiff(rows) {
    var el = $("cmp-diff");
    if (!el) return;
    var withD = rows.filter(function (i) { return detailsOf(i); });
    if (withD.length < 2 || withD[0] !== rows[0]) {
      el.innerHTML = rows.some(function (i) { return D.dx[i] !== undefined; }) ? "" :
        '<p class="muted">Per-sample diff: none of these runs has per-sample details (runs made by the evaluator have them; the v1 archive does not).</p>';
      return;
    }
    var others = withD.slice(1), j = others[Math.min(diffState.other - 1, others.length - 1)], i = rows[0];
    var all = [], counts = "";
    for (var c = 1; c <= 6; c++) {
      var p = paired(i, j, c);
      if (!p) continue;
      counts += "<tr><th>" + LABELS[c] + '</th><td class="num">' + p.n + '</td><td class="num">' + p.aOnly + '</td><td class="num">' + p.bOnly +
        '</td><td class="num">' + mcnemar(p).toFixed(2) + "</td><td>" + (Math.abs(mcnemar(p)) > 1.96 ? "significant" : "tied") + "</td></tr>";
      if (diffState.bench === 0 || diffState.bench === c) all = all.concat(p.docs);
    }
    var shown = all.filter(function (x) {
      return diffState.dir === "all" || (diffState.dir === "a" ? x[2][1] && !x[3][1] : x[3][1] && !x[2][1]);
    });
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    diffState.page = Math.min(diffState.page, pages - 1);
    var slice = shown.slice(diffState.page * PAGE, diffState.page * PAGE + PAGE);
    var opts = function (vals, cur) { return vals.map(function (v) { return '<option value="' + esc(v[0]) + '"' + (String(v[0]) === String(cur) ? " selected" : "") + ">" + esc(v[1]) + "</option>"; }).join(""); };
    var h = "<h2>Per-sample diff</h2>" +
      '<p>A = <strong>' + esc(D.models[C.m[i]]) + "</strong> (" + esc(D.precs[C.p[i]]) + ") against " +
      '<select id="d-other">' + opts(others.map(function (o, k) { return [k + 1, D.models[C.m[o]] + " (" + D.precs[C.p[o]] + ")"]; }), diffState.other) + "</select></p>" +
      '<table class="scores small"><thead><tr><th>Benchmark</th><th>docs in both</th><th>A right, B wrong</th><th>B right, A wrong</th><th>McNemar z</th><th>paired test</th></tr></thead><tbody>' + counts + "</tbody></table>" +
      '<p><label>Benchmark <select id="d-bench">' + opts([[0, "all"]].concat([1, 2, 3, 4, 5, 6].map(function (c) { return [c, LABELS[c]]; })), diffState.bench) + "</select></label> " +
      '<label>Show <select id="d-dir">' + opts([["all", "every disagreement"], ["a", "A right, B wrong"], ["b", "B right, A wrong"]], diffState.dir) + "</select></label> " +
      '<span id="d-count">' + shown.length + " documents</span>" +
      (pages > 1 ? ' <button type="button" id="d-prev"' + (diffState.page ? "" : " disabled") + '>←</button> page ' + (diffState.page + 1) + " of " + pages + ' <button type="button" id="d-next"' + (diffState.page < pages - 1 ? "" : " disabled") + ">→</button>" : "") + "</p>" +
      '<div class="scroll"><table class="scores small diff" id="d-rows"><thead><tr><th>task</th><th>doc</th><th>question</th><th>A answered</th><th>B answered</th><th>gold</th></tr></thead><tbody>' +
      slice.map(function (x) {
        var task = x[0], doc = x[1], a = x[2], b = x[3], t = (window.LB_TEXT || {})[task], rec = t && t[doc];
        return '<tr data-task="' + esc(task) + '" data-doc="' + doc + '"><td>' + esc(task) + '</td><td class="num">' + doc + "</td><td>" + (rec ? esc(rec[0]) : '<span class="muted">(text not in this build)</span>') +
          '</td><td class="' + (a[1] ? "ok" : "bad") + '">' + esc(choiceText(task, doc, a[2])) + '</td><td class="' + (b[1] ? "ok" : "bad") + '">' + esc(choiceText(task, doc, b[2])) + "</td><td>" + esc(choiceText(task, doc, a[3])) + "</td></tr>";
      }).join("") + "</tbody></table></div>";
    el.innerHTML = h;
    var on = function (id, ev, f) { var e = $(id); if (e) e.addEventListener(ev, f); };
    on("d-other", "change", function (e) { diffState.other = +e.target.value; diffState.page = 0; renderDiff(rows); });
    on("d-bench", "change", function (e) { diffState.bench = +e.target.value; diffState.page = 0; renderDiff(rows); });
    on("d-dir", "change", function (e) { diffState.dir = e.target.value; diffState.page = 0; renderDiff(rows); });
    on("d-prev", "click", function () { diffState.page--; renderDiff(rows); });
    on("d-next", "click", function () { diffState.page++; renderDiff(rows); });
  }
  // Loads the scripts `paths` (details, then texts), then calls `done`.
  function load(paths, done) {
    var left = paths.length;
    if (!left) return done();
    paths.forEach(function (p) {
      var s = document.createElement("script");
      s.src = p;
      s.onload = s.onerror = function () { if (--left === 0) done(); };
      document.body.appendChild(s);
    });
  }

  function chart(rows) {
    var W = 760, H = 300, ML = 40, MB = 28, MT = 10, group = (W - ML - 10) / 7, bw = Math.min(18, (group - 12) / rows.length);
    var y = function (h) { return MT + (H - MT - MB) * (1 - h / 10000); };
    var s = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ' + W + " " + H + '" class="plot" role="img" aria-label="Scores with 95% intervals">';
    for (var t = 0; t <= 100; t += 20) {
      s += '<line x1="' + ML + '" x2="' + (W - 10) + '" y1="' + y(t * 100) + '" y2="' + y(t * 100) + '" class="grid"/><text x="' + (ML - 6) + '" y="' + (y(t * 100) + 4) + '" class="tick" text-anchor="end">' + t + "</text>";
    }
    for (var c = 0; c < 7; c++) {
      var x0 = ML + c * group + (group - bw * rows.length) / 2;
      s += '<text x="' + (ML + c * group + group / 2) + '" y="' + (H - 8) + '" class="tick" text-anchor="middle">' + LABELS[c] + "</text>";
      rows.forEach(function (i, k) {
        var v = val(i, c), e = se(i, c);
        if (v === null) return;
        var x = x0 + k * bw;
        s += '<rect x="' + x.toFixed(1) + '" y="' + y(v).toFixed(1) + '" width="' + (bw - 2).toFixed(1) + '" height="' + (y(0) - y(v)).toFixed(1) + '" fill="' + COLOURS[k] + '" opacity=".8"><title>' + esc(D.models[C.m[i]]) + " " + LABELS[c] + ": " + pct(v) + "</title></rect>";
        if (e !== null) {
          var cx = (x + (bw - 2) / 2).toFixed(1);
          s += '<line x1="' + cx + '" x2="' + cx + '" y1="' + y(Math.min(10000, v + 1.96 * e)).toFixed(1) + '" y2="' + y(Math.max(0, v - 1.96 * e)).toFixed(1) + '" stroke="#111827" stroke-width="1.2"/>';
        }
      });
    }
    return s + "</svg>";
  }

  function render() {
    var ks = keys(), rows = [], missing = [];
    ks.forEach(function (k) { var i = U.rowOfKey(D, k); if (i >= 0) rows.push(i); else missing.push(k); });
    var status = rows.length + " run" + (rows.length === 1 ? "" : "s") + " compared";
    if (missing.length) status += "; " + missing.length + " in the address not found in this leaderboard";
    if (rows.length < 2) status += ". Tick 2 to 4 runs in the table, then follow its Compare link.";
    $("cmp-status").textContent = status;
    if (!rows.length) { $("cmp").innerHTML = ""; return; }
    var head = "<tr><th></th>" + rows.map(function (i, k) {
      return '<th><span class="swatch" style="background:' + COLOURS[k] + '"></span><a href="' + esc(U.pageOf(D, C.m[i])) + '">' + esc(D.models[C.m[i]]) + "</a><br><small>" +
        esc(D.precs[C.p[i]]) + (C.sha[i] ? " · <code>" + esc(C.sha[i].slice(0, 10)) + "</code>" : "") + "</small></th>";
    }).join("") + rows.slice(1).map(function (j, k) { return "<th>" + String.fromCharCode(66 + k) + " − A</th>"; }).join("") + "</tr>";
    var body = "";
    for (var c = 0; c < 7; c++) {
      body += "<tr" + (c === 0 ? ' class="avg"' : "") + "><th>" + LABELS[c] + "</th>" +
        rows.map(function (i) { return cell(i, c); }).join("") +
        rows.slice(1).map(function (j) { return diff(rows[0], j, c); }).join("") + "</tr>";
    }
    var meta = [
      ["Model type", function (i) { return esc(D.typeSym[C.t[i]] + " " + D.types[C.t[i]]); }],
      ["Precision", function (i) { return esc(D.precs[C.p[i]]); }],
      ["Weight type", function (i) { return esc(D.wts[C.w[i]]); }],
      ["Architecture", function (i) { return esc(D.archs[C.a[i]] || "unknown"); }],
      ["#Params (B)", function (i) { return C.pb[i] === null ? "unknown" : String(C.pb[i] / 100); }],
      ["Hub licence", function (i) { return esc(D.lics[C.l[i]] || "unknown"); }],
      ["Revision", function (i) { return C.sha[i] === null ? "unknown" : "<code>" + esc(C.sha[i]) + "</code>"; }],
      ["On the Hub", function (i) { return C.hub[i] === "1" ? "yes" : C.hub[i] === "0" ? "no" : "unknown"; }],
      ["Merge / MoE", function (i) { return (C.mg[i] === "1" ? "merge" : "not a merge") + " / " + (C.moe[i] === "1" ? "MoE" : "dense"); }],
      ["Comparable", function (i) { return C.nc[i] === "1" ? "no (deviations: see its page)" : "yes"; }],
      ["Flagged", function (i) { var f = D.mf[C.m[i]]; return f === undefined ? "no" : "yes: " + esc(D.flags[f].reason); }]
    ];
    var metaRows = meta.map(function (m) {
      return "<tr><th>" + m[0] + "</th>" + rows.map(function (i) { return "<td>" + m[1](i) + "</td>"; }).join("") + "</tr>";
    }).join("");
    $("cmp").innerHTML = '<div class="scroll"><table class="scores cmp" id="cmp-scores"><thead>' + head + "</thead><tbody>" + body + "</tbody></table></div>" +
      "<figure>" + chart(rows) + "</figure>" + '<div id="cmp-diff"></div>' +
      '<h2>Metadata</h2><div class="scroll"><table class="scores cmp"><tbody>' + metaRows + "</tbody></table></div>";
    renderDiff(rows);
  }
  // Loads the chosen runs' details and the texts of their tasks, then renders.
  function start() {
    var rows = keys().map(function (k) { return U.rowOfKey(D, k); }).filter(function (i) { return i >= 0; });
    var scripts = rows.filter(function (i) { return D.dx[i] !== undefined; }).map(function (i) { return D.dx[i]; });
    window.__cmpReady = false;
    load(scripts, function () {
      var tasks = {};
      rows.forEach(function (i) { var d = detailsOf(i); if (d) Object.keys(d).forEach(function (t) { tasks[t] = 1; }); });
      load(scripts.length ? Object.keys(tasks).sort().map(function (t) { return "details/text/" + encodeURIComponent(t) + ".js"; }) : [], function () {
        render();
        window.__cmpReady = true;
      });
    });
  }
  window.addEventListener("hashchange", start);
  start();
})();
