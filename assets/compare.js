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
  function diff(i, j, c) {
    var a = val(i, c), b = val(j, c), sa = se(i, c), sb = se(j, c);
    if (a === null || b === null || sa === null || sb === null) return '<td class="num">—</td>';
    var d = b - a, sig = U.beats(a, sa, b, sb) || U.beats(b, sb, a, sa);
    return '<td class="num ' + (sig ? "sig" : "tie") + '" data-sig="' + (sig ? 1 : 0) + '">' + (d >= 0 ? "+" : "−") + pct(Math.abs(d)) +
      "<br><small>" + (sig ? "significant" : "tied") + "</small></td>";
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
      "<figure>" + chart(rows) + "</figure>" +
      '<h2>Metadata</h2><div class="scroll"><table class="scores cmp"><tbody>' + metaRows + "</tbody></table></div>";
  }
  window.addEventListener("hashchange", render);
  render();
  window.__cmpReady = true;
})();
