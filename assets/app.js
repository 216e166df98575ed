// The leaderboard table: search, sort, filters, column picker, view state in
// the URL hash, incremental rendering. Data: window.LB_DATA from data.js
// (format documented in src/site/table_data.rs). Everything from the data is
// escaped before it reaches innerHTML.
(function () {
  "use strict";
  var t0 = performance.now();
  var D = window.LB_DATA;
  var C = D.c;
  var N = D.n;
  var BATCH = 200;
  window.__lbTimings = { firstRender: null, lastFilter: null, sinceNavigation: null };

  var U = window.LB_UTIL;
  var esc = U.esc, pct = U.pct, isHttps = U.isHttps, beats = U.beats;
  function pageOf(mi) { return U.pageOf(D, mi); }
  function grouped(n) { return n.toLocaleString("en-US"); }

  var modelLower = D.models.map(function (m) { return m.toLowerCase(); });
  var licLower = D.lics.map(function (l) { return l === null ? "" : l.toLowerCase(); });
  function flagOf(row) { var f = D.mf[C.m[row]]; return f === undefined ? null : D.flags[f]; }

  function yesNo(ch) { return ch === "1" ? "yes" : ch === "0" ? "no" : "?"; }
  // Columns: key, header, default visible, numeric sort value, cell HTML.
  var COLS = [
    { k: "t", h: "T", on: true, title: "Model type", sv: function (i) { return C.t[i]; },
      td: function (i) {
        var name = esc(D.types[C.t[i]]);
        return '<span title="' + name + '" aria-hidden="true">' + esc(D.typeSym[C.t[i]]) + '</span><span class="sr">' + name + "</span>";
      } },
    { k: "model", h: "Model", on: true, str: true, sv: function (i) { return modelLower[C.m[i]]; },
      td: function (i) {
        var h = '<input type="checkbox" class="pick" aria-label="compare this run"' + (picked.indexOf(i) >= 0 ? " checked" : "") + "> " +
          '<a href="' + esc(pageOf(C.m[i])) + '">' + esc(D.models[C.m[i]]) + "</a>";
        var f = flagOf(i);
        if (f) {
          var mark = '<span class="flagmark" title="Flagged: ' + esc(f.reason) + '">🚩</span>';
          h += " " + (isHttps(f.link) ? '<a class="flaglink" href="' + esc(f.link) + '" rel="nofollow noopener">' + mark + "</a>" : mark);
        }
        if (C.nc[i] === "1") h += ' <span class="badge nc" title="Departs from the suite (see the model page)">not comparable</span>';
        if (D.srcs[C.src[i]].k !== "v1") h += ' <span class="badge src" title="' + esc(D.srcs[C.src[i]].d + ": " + D.srcLabels[C.sl[i]]) + '">' + esc(D.srcs[C.src[i]].k) + "</span>";
        return h;
      } },
    { k: "rank", h: "Rank range", on: false, num: true, asc: true, title: "Rank range of the Average among the comparable, unflagged runs shown: every rank the 95% intervals allow",
      sv: function (i) { return RANGE.best[i] === 0 ? null : RANGE.best[i] * 1e6 + RANGE.worst[i]; },
      td: function (i) {
        var b = RANGE.best[i], w = RANGE.worst[i];
        if (b === 0) return "";
        return '<span title="' + (b === w ? "rank " + b : "any rank from " + b + " to " + w) + '">' + (b === w ? b : b + "–" + w) + "</span>";
      } },
    { k: "avg", h: "Average", on: true, num: true, title: "Average (mean of the six, percent)", sv: function (i) { return C.avg[i]; }, td: function (i) { return pct(C.avg[i]); } }
  ];
  var METRIC = ["arc_challenge, 25-shot, acc_norm", "hellaswag, 10-shot, acc_norm",
    "57 mmlu subjects, 5-shot, mean of their acc", "truthfulqa_mc, 0-shot, mc2",
    "winogrande, 5-shot, acc", "gsm8k, 5-shot, acc (exact match of the final number)"];
  ["ARC", "HellaSwag", "MMLU", "TruthfulQA", "Winogrande", "GSM8K"].forEach(function (h, b) {
    var a = C["b" + b];
    COLS.push({ k: ["arc", "hs", "mmlu", "tqa", "wg", "gsm"][b], h: h, on: true, num: true, title: h + " (" + METRIC[b] + ")",
      sv: function (i) { return a[i]; }, td: function (i) { return pct(a[i]); } });
  });
  COLS.push(
    { k: "type", h: "Type", str: true, sv: function (i) { return D.types[C.t[i]]; }, td: function (i) { return esc(D.types[C.t[i]]); } },
    { k: "arch", h: "Architecture", str: true, sv: function (i) { return D.archs[C.a[i]] || ""; }, td: function (i) { return esc(D.archs[C.a[i]] || "?"); } },
    { k: "prec", h: "Precision", str: true, sv: function (i) { return D.precs[C.p[i]]; }, td: function (i) { return esc(D.precs[C.p[i]]); } },
    { k: "wt", h: "Weight type", str: true, sv: function (i) { return D.wts[C.w[i]]; }, td: function (i) { return esc(D.wts[C.w[i]]); } },
    { k: "merge", h: "Merged", str: true, sv: function (i) { return C.mg[i]; }, td: function (i) { return yesNo(C.mg[i]); } },
    { k: "lic", h: "Hub License", str: true, sv: function (i) { return licLower[C.l[i]]; }, td: function (i) { return esc(D.lics[C.l[i]] || "?"); } },
    { k: "params", h: "#Params (B)", num: true, sv: function (i) { return C.pb[i]; }, td: function (i) { return C.pb[i] === null ? "?" : String(C.pb[i] / 100); } },
    { k: "likes", h: "Hub ❤️", num: true, sv: function (i) { return C.lk[i]; }, td: function (i) { return C.lk[i] === null ? "?" : String(C.lk[i]); } },
    { k: "hub", h: "Available on the Hub", str: true, sv: function (i) { return C.hub[i]; }, td: function (i) { return yesNo(C.hub[i]); } },
    { k: "sha", h: "Model sha", str: true, sv: function (i) { return C.sha[i] || ""; }, td: function (i) { return C.sha[i] === null ? "?" : '<code title="' + esc(C.sha[i]) + '">' + esc(C.sha[i].slice(0, 10)) + "</code>"; } },
    { k: "flag", h: "Flagged", str: true, sv: function (i) { return flagOf(i) ? "1" : "0"; }, td: function (i) { return flagOf(i) ? "yes" : "no"; } },
    { k: "moe", h: "MoE", str: true, sv: function (i) { return C.moe[i]; }, td: function (i) { return yesNo(C.moe[i]); } },
    { k: "re", h: "Re-evaluable", str: true, title: "This project's evaluator runs the model's architecture: its numbers can be measured again here",
      sv: function (i) { return C.re[i]; }, td: function (i) { return yesNo(C.re[i]); } },
    { k: "vf", h: "Verified", str: true, title: "evaluator verify re-evaluated a sample of the run's documents: yes (all agree), no (some disagree), ? (not verified)",
      sv: function (i) { return C.vf[i]; }, td: function (i) { return C.vf[i] === "1" ? "yes" : C.vf[i] === "0" ? '<span class="badge nc">no</span>' : "?"; } },
    { k: "src", h: "Source", str: true, title: "Where the numbers come from: this project's evaluator, the v1 archive, or an import (tool and version)",
      sv: function (i) { return D.srcLabels[C.sl[i]] || ""; }, td: function (i) { return esc(D.srcLabels[C.sl[i]] || ""); } }
  );
  // Column names come from the URL: look them up in an object without a
  // prototype, so `__proto__` or `constructor` are just unknown names.
  var BYKEY = Object.create(null);
  COLS.forEach(function (c) { BYKEY[c.k] = c; });
  function isCol(k) { return Object.prototype.hasOwnProperty.call(BYKEY, k); }
  var DEFAULT_COLS = COLS.filter(function (c) { return c.on; }).map(function (c) { return c.k; });

  // ---- view state <-> URL hash -------------------------------------------
  function defaults() {
    return { q: "", sort: "avg", dir: "desc", cols: DEFAULT_COLS.slice(), types: null, precs: null, srcs: null,
      pmin: "", pmax: "", hide: ["private", "merges", "flagged"] };
  }
  function parseHash() {
    var s = defaults();
    var h = location.hash.replace(/^#/, "");
    // v1's deep links: ?query=<search> (used when the hash has no search).
    var v1q = new URLSearchParams(location.search).get("query");
    if (v1q !== null) s.q = v1q;
    if (!h) return s;
    var p = new URLSearchParams(h);
    if (p.has("q")) s.q = p.get("q");
    if (p.has("sort") && isCol(p.get("sort"))) s.sort = p.get("sort");
    if (p.get("dir") === "asc" || p.get("dir") === "desc") s.dir = p.get("dir");
    if (p.has("cols")) s.cols = p.get("cols").split(",").filter(isCol);
    if (p.has("types")) s.types = p.get("types").split(",").filter(function (x) { return x !== ""; });
    if (p.has("prec")) s.precs = p.get("prec").split(",").filter(function (x) { return x !== ""; });
    if (p.has("src")) s.srcs = p.get("src").split(",").filter(function (x) { return x !== ""; });
    if (p.has("pmin")) s.pmin = p.get("pmin");
    if (p.has("pmax")) s.pmax = p.get("pmax");
    if (p.has("hide")) s.hide = p.get("hide").split(",").filter(function (x) { return x !== ""; });
    return s;
  }
  function toHash(s) {
    var d = defaults(), p = new URLSearchParams();
    if (s.q) p.set("q", s.q);
    if (s.sort !== d.sort) p.set("sort", s.sort);
    if (s.dir !== d.dir) p.set("dir", s.dir);
    if (s.cols.join(",") !== d.cols.join(",")) p.set("cols", s.cols.join(","));
    if (s.types !== null) p.set("types", s.types.join(","));
    if (s.precs !== null) p.set("prec", s.precs.join(","));
    if (s.srcs !== null) p.set("src", s.srcs.join(","));
    if (s.pmin !== "") p.set("pmin", s.pmin);
    if (s.pmax !== "") p.set("pmax", s.pmax);
    if (s.hide.join(",") !== d.hide.join(",")) p.set("hide", s.hide.join(","));
    var str = p.toString();
    return str ? "#" + str : "";
  }
  var state = parseHash();

  // ---- controls ------------------------------------------------------------
  var $ = function (id) { return document.getElementById(id); };
  function checkboxes(el, name, values, labels) {
    el.innerHTML = values.map(function (v, i) {
      return '<label><input type="checkbox" data-' + name + '="' + esc(v) + '"> ' + esc(labels[i]) + "</label>";
    }).join(" ");
  }
  checkboxes($("f-type"), "type", D.types, D.types.map(function (t, i) { return D.typeSym[i] + " " + t; }));
  checkboxes($("f-prec"), "prec", D.precs, D.precs);
  var SRC_KEYS = D.srcs.map(function (x) { return x.k; });
  checkboxes($("f-src"), "src", SRC_KEYS, SRC_KEYS);
  $("cols").innerHTML = COLS.map(function (c) {
    return '<label><input type="checkbox" data-col="' + esc(c.k) + '"> ' + esc(c.h) + "</label>";
  }).join("");
  var HIDES = { "h-priv": "private", "h-merge": "merges", "h-flag": "flagged", "h-moe": "moe" };

  function syncControls() {
    $("q").value = state.q;
    $("pmin").value = state.pmin;
    $("pmax").value = state.pmax;
    document.querySelectorAll("[data-type]").forEach(function (el) {
      el.checked = state.types === null || state.types.indexOf(el.dataset.type) >= 0;
    });
    document.querySelectorAll("[data-prec]").forEach(function (el) {
      el.checked = state.precs === null || state.precs.indexOf(el.dataset.prec) >= 0;
    });
    document.querySelectorAll("[data-src]").forEach(function (el) {
      el.checked = state.srcs === null || state.srcs.indexOf(el.dataset.src) >= 0;
    });
    document.querySelectorAll("[data-col]").forEach(function (el) { el.checked = state.cols.indexOf(el.dataset.col) >= 0; });
    Object.keys(HIDES).forEach(function (id) { $(id).checked = state.hide.indexOf(HIDES[id]) >= 0; });
  }
  function readControls() {
    state.q = $("q").value;
    state.pmin = $("pmin").value.trim();
    state.pmax = $("pmax").value.trim();
    function picked(attr, all) {
      var on = [];
      document.querySelectorAll("[data-" + attr + "]").forEach(function (el) { if (el.checked) on.push(el.dataset[attr]); });
      return on.length === all.length ? null : on;
    }
    state.types = picked("type", D.types);
    state.precs = picked("prec", D.precs);
    state.srcs = picked("src", SRC_KEYS);
    var cols = [];
    document.querySelectorAll("[data-col]").forEach(function (el) { if (el.checked) cols.push(el.dataset.col); });
    state.cols = cols;
    state.hide = Object.keys(HIDES).filter(function (id) { return $(id).checked; }).map(function (id) { return HIDES[id]; });
  }

  // ---- filter + sort ---------------------------------------------------------
  function compileSearch(q) {
    var terms = q.split(";").map(function (t) { return t.trim().toLowerCase(); }).filter(function (t) { return t !== ""; });
    if (!terms.length) return null;
    return terms.map(function (t) {
      var m = /^license:\s*(.*)$/.exec(t);
      return m ? { lic: m[1].trim() } : { model: t };
    });
  }
  function matches(terms, i) {
    for (var k = 0; k < terms.length; k++) {
      var t = terms[k];
      if (t.lic !== undefined) { if (licLower[C.l[i]].indexOf(t.lic) >= 0) return true; }
      else if (modelLower[C.m[i]].indexOf(t.model) >= 0) return true;
    }
    return false;
  }
  var sortCache = {};
  function order(key, dir) {
    var id = key + ":" + dir;
    if (sortCache[id]) return sortCache[id];
    var c = BYKEY[key], idx = new Array(N), vals = new Array(N);
    for (var i = 0; i < N; i++) { idx[i] = i; vals[i] = c.sv(i); }
    var sign = dir === "asc" ? 1 : -1;
    idx.sort(function (a, b) {
      var va = vals[a], vb = vals[b];
      if (va === null || va === undefined) return vb === null || vb === undefined ? a - b : 1;
      if (vb === null || vb === undefined) return -1;
      if (va < vb) return -sign;
      if (va > vb) return sign;
      return a - b;
    });
    sortCache[id] = idx;
    return idx;
  }
  // "Hide merges" hides runs marked as merges and runs typed as merges (v1).
  var MERGE_TYPE = D.types.indexOf("merge");

  // ---- uncertainty: rank ranges and ties (rules in src/site/uncertainty.rs) --
  // Among the ranked rows of the view (comparable, not flagged, with an
  // Average): best = 1 + rows significantly better, worst = rows not
  // significantly worse; significant = |difference| > 1.96·√(se₁² + se₂²).
  var RANGE = { best: new Int32Array(N), worst: new Int32Array(N) };
  function isRanked(i) { return C.nc[i] === "0" && C.avg[i] !== null && C.se[i] !== null && D.mf[C.m[i]] === undefined; }
  function beatsRow(a, b) { return beats(C.avg[a], C.se[a], C.avg[b], C.se[b]); }
  function tied(a, b) { return !beatsRow(a, b) && !beatsRow(b, a); }
  function computeRanges(visible) {
    RANGE.best.fill(0);
    RANGE.worst.fill(0);
    var r = visible.filter(isRanked);
    r.sort(function (a, b) { return C.avg[b] - C.avg[a] || a - b; });
    var n = r.length, maxSe = 0;
    for (var k = 0; k < n; k++) maxSe = Math.max(maxSe, C.se[r[k]]);
    function firstAtMost(x) { var lo = 0, hi = n; while (lo < hi) { var m = (lo + hi) >> 1; if (C.avg[r[m]] > x) lo = m + 1; else hi = m; } return lo; }
    function firstBelow(x) { var lo = 0, hi = n; while (lo < hi) { var m = (lo + hi) >> 1; if (C.avg[r[m]] >= x) lo = m + 1; else hi = m; } return lo; }
    for (var k2 = 0; k2 < n; k2++) {
      var i = r[k2], reach = 1.96 * Math.hypot(C.se[i], maxSe);
      var a = firstAtMost(C.avg[i] + reach), z = firstBelow(C.avg[i] - reach);
      var better = a, worse = n - z;
      for (var j = a; j < z; j++) {
        if (beatsRow(r[j], i)) better++;
        else if (beatsRow(i, r[j])) worse++;
      }
      RANGE.best[i] = better + 1;
      RANGE.worst[i] = n - worse;
    }
  }
  function visibleRows() {
    var terms = compileSearch(state.q);
    var types = state.types === null ? null : state.types.map(function (t) { return D.types.indexOf(t); });
    var precs = state.precs === null ? null : state.precs.map(function (p) { return D.precs.indexOf(p); });
    var srcs = state.srcs === null ? null : state.srcs.map(function (x) { return SRC_KEYS.indexOf(x); });
    var pmin = state.pmin === "" ? null : parseFloat(state.pmin) * 100;
    var pmax = state.pmax === "" ? null : parseFloat(state.pmax) * 100;
    if (pmin !== null && isNaN(pmin)) pmin = null;
    if (pmax !== null && isNaN(pmax)) pmax = null;
    var hp = state.hide.indexOf("private") >= 0, hm = state.hide.indexOf("merges") >= 0,
      hf = state.hide.indexOf("flagged") >= 0, hx = state.hide.indexOf("moe") >= 0;
    var idx = order(state.sort, state.dir), out = [];
    for (var k = 0; k < N; k++) {
      var i = idx[k];
      if (types !== null && types.indexOf(C.t[i]) < 0) continue;
      if (precs !== null && precs.indexOf(C.p[i]) < 0) continue;
      if (srcs !== null && srcs.indexOf(C.src[i]) < 0) continue;
      if (pmin !== null || pmax !== null) {
        var pb = C.pb[i];
        if (pb === null) continue;
        if (pmin !== null && pb < pmin) continue;
        if (pmax !== null && pb > pmax) continue;
      }
      if (hp && C.hub[i] !== "1") continue;
      if (hm && (C.mg[i] === "1" || C.t[i] === MERGE_TYPE)) continue;
      if (hx && C.moe[i] === "1") continue;
      if (hf && D.mf[C.m[i]] !== undefined) continue;
      if (terms !== null && !matches(terms, i)) continue;
      out.push(i);
    }
    return out;
  }

  // ---- rendering -------------------------------------------------------------
  var rows = [], shown = 0, cols = [];
  function renderHead() {
    $("head").innerHTML = cols.map(function (c) {
      var s = c.k === state.sort ? (state.dir === "desc" ? " ▼" : " ▲") : "";
      var aria = c.k === state.sort ? ' aria-sort="' + (state.dir === "desc" ? "descending" : "ascending") + '"' : "";
      return '<th data-k="' + esc(c.k) + '" class="' + (c.num ? "num" : "") + (c.k === "model" ? " model" : "") + '"' + aria + ' scope="col"><button type="button" title="Sort by ' + esc(c.title || c.h) + '">' + esc(c.h) + s + "</button></th>";
    }).join("");
    var refs = D.baselines.map(function (b) {
      return '<tr class="ref">' + cols.map(function (c) {
        if (c.k === "model") return '<td><span class="badge ref">reference</span> ' + esc(b.name) + "</td>";
        if (c.k === "avg") return '<td class="num">' + pct(b.avg) + "</td>";
        var bi = ["arc", "hs", "mmlu", "tqa", "wg", "gsm"].indexOf(c.k);
        return bi >= 0 ? '<td class="num">' + pct(b.b[bi]) + "</td>" : "<td></td>";
      }).join("") + "</tr>";
    }).join("");
    $("refs").innerHTML = refs;
  }
  function rowHtml(i) {
    var h = '<tr data-i="' + i + '"' + (pinned === i ? ' class="sel"' : "") + ">";
    for (var k = 0; k < cols.length; k++) {
      var c = cols[k];
      h += c.num ? '<td class="num">' + c.td(i) + "</td>" : c.k === "model" ? '<td class="model">' + c.td(i) + "</td>" : "<td>" + c.td(i) + "</td>";
    }
    return h + "</tr>";
  }
  function renderMore() {
    var end = Math.min(rows.length, shown + BATCH), h = "";
    for (var k = shown; k < end; k++) h += rowHtml(rows[k]);
    $("rows").insertAdjacentHTML("beforeend", h);
    shown = end;
    $("more").textContent = shown < rows.length ? "Showing " + grouped(shown) + " — scroll for more" : "";
  }
  function apply(pushUrl) {
    var t = performance.now();
    cols = state.cols.map(function (k) { return BYKEY[k]; });
    rows = visibleRows();
    computeRanges(rows);
    shown = 0;
    renderHead();
    $("rows").innerHTML = "";
    renderMore();
    $("count").textContent = grouped(rows.length) + " of " + grouped(N) + " runs";
    if (pushUrl) {
      var h = toHash(state);
      if (h !== location.hash && !(h === "" && location.hash === "")) {
        history.replaceState(null, "", h === "" ? location.pathname + location.search : h);
      }
    }
    var dt = performance.now() - t;
    window.__lbTimings.lastFilter = dt;
    return dt;
  }

  // ---- events ----------------------------------------------------------------
  var pending = null;
  function onChange() { readControls(); apply(true); }
  $("q").addEventListener("input", function () {
    clearTimeout(pending);
    pending = setTimeout(onChange, 120);
  });
  $("controls").addEventListener("change", function (e) { if (e.target.id !== "q") onChange(); });
  $("head").addEventListener("click", function (e) {
    var th = e.target.closest("th");
    if (!th) return;
    var k = th.dataset.k;
    if (state.sort === k) state.dir = state.dir === "desc" ? "asc" : "desc";
    else { state.sort = k; state.dir = (BYKEY[k].num && !BYKEY[k].asc) || k === "t" ? "desc" : "asc"; }
    apply(true);
  });
  // Compare: up to 4 ticked runs, opened in compare.html (runs in its hash).
  var picked = [];
  function updateCompare() {
    var a = $("compare");
    a.hidden = picked.length < 2;
    a.textContent = "Compare " + picked.length + " runs";
    a.href = "compare.html#r=" + picked.map(function (i) { return U.runKey(D, i); }).join(",");
    $("pickhint").textContent = picked.length >= 4 ? "4 runs ticked (the most a comparison holds)." :
      picked.length ? picked.length + " ticked; tick up to 4." : "Tick up to 4 runs (box before the model) to compare them.";
  }
  $("rows").addEventListener("change", function (e) {
    if (!e.target.classList.contains("pick")) return;
    var i = +e.target.closest("tr").dataset.i, k = picked.indexOf(i);
    if (e.target.checked && k < 0) {
      if (picked.length >= 4) { e.target.checked = false; return; }
      picked.push(i);
    } else if (!e.target.checked && k >= 0) picked.splice(k, 1);
    updateCompare();
  });
  // Ties: hovering a ranked row shades the rows statistically tied with it;
  // clicking a row (outside its links) pins that shading.
  var pinned = null;
  function shade(i) {
    document.querySelectorAll("#rows tr").forEach(function (tr) {
      var j = +tr.dataset.i;
      tr.classList.toggle("sel", i !== null && j === i);
      tr.classList.toggle("tie", i !== null && j !== i && isRanked(i) && isRanked(j) && tied(i, j));
    });
  }
  $("rows").addEventListener("mouseover", function (e) {
    var tr = e.target.closest("tr");
    if (tr && pinned === null) shade(+tr.dataset.i);
  });
  $("rows").addEventListener("mouseleave", function () { if (pinned === null) shade(null); });
  $("rows").addEventListener("click", function (e) {
    if (e.target.closest("a") || e.target.closest("input")) return;
    var tr = e.target.closest("tr");
    if (!tr) return;
    var i = +tr.dataset.i;
    pinned = pinned === i ? null : i;
    shade(pinned === null ? i : pinned);
  });
  window.__lbTies = function (i) { shade(i); return [].slice.call(document.querySelectorAll("#rows tr.tie")).map(function (tr) { return +tr.dataset.i; }); };
  window.__lbRange = function (i) { return [RANGE.best[i], RANGE.worst[i]]; };
  $("reset").addEventListener("click", function (e) {
    e.preventDefault();
    state = defaults();
    syncControls();
    apply(true);
  });
  window.addEventListener("hashchange", function () {
    if (toHash(state) === location.hash) return;
    state = parseHash();
    syncControls();
    apply(false);
  });
  if ("IntersectionObserver" in window) {
    new IntersectionObserver(function (es) {
      if (es[0].isIntersecting && shown < rows.length) renderMore();
    }, { rootMargin: "800px" }).observe($("more"));
  }
  window.addEventListener("scroll", function () {
    if (shown < rows.length && window.innerHeight + window.scrollY > document.body.offsetHeight - 1200) renderMore();
  }, { passive: true });

  // Phones: the filters start folded, so the table is on the first screen.
  if (window.matchMedia && window.matchMedia("(max-width: 640px)").matches) $("filters").open = false;
  syncControls();
  apply(false);
  window.__lbTimings.firstRender = performance.now() - t0;
  window.__lbTimings.sinceNavigation = performance.now();
  window.__lbApply = function () { readControls(); return apply(true); };
  window.__lbPages = function () { return D.models.map(function (m, i) { return pageOf(i); }); };
})();
