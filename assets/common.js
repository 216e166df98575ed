// Helpers shared by the table (app.js) and the compare page (compare.js):
// escaping, model page names, percent formatting, and the significance rule
// of src/site/uncertainty.rs. Defines window.LB_UTIL.
(function () {
  "use strict";
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  // Same rule as src/site/slug.rs base_slug.
  function baseSlug(id) {
    var s = "";
    for (var ch of id) {
      if (/^[a-z0-9._-]$/.test(ch)) s += ch;
      else if (/^[A-Z]$/.test(ch)) s += ch.toLowerCase();
      else if (ch === "/") s += "--";
      else s += "-";
    }
    return s;
  }
  window.LB_UTIL = {
    esc: esc,
    baseSlug: baseSlug,
    // The page of model index `mi` of data `D` (data.js), relative to the site root.
    pageOf: function (D, mi) {
      var s = D.slugx[mi];
      return "models/" + encodeURIComponent(s !== undefined ? s : baseSlug(D.models[mi])) + ".html";
    },
    // Hundredths of a percent → "12.34"; null → "".
    pct: function (v) { return v === null || v === undefined ? "" : (v / 100).toFixed(2); },
    isHttps: function (u) { return typeof u === "string" && /^https:\/\/[^\s"'<>\\`]+$/.test(u); },
    // A run's key in compare.html's address: model, precision and the first 12
    // characters of the revision, each percent-encoded, joined with "!".
    runKey: function (D, i) {
      var C = D.c;
      return [D.models[C.m[i]], D.precs[C.p[i]], (C.sha[i] || "").slice(0, 12)].map(function (x) {
        return encodeURIComponent(x).replace(/!/g, "%21");
      }).join("!");
    },
    // The row of `key` in `D`, or -1.
    rowOfKey: function (D, key) {
      var parts = key.split("!").map(function (x) { try { return decodeURIComponent(x); } catch (e) { return null; } });
      if (parts.length !== 3) return -1;
      var C = D.c, mi = D.models.indexOf(parts[0]), pi = D.precs.indexOf(parts[1]);
      if (mi < 0 || pi < 0) return -1;
      for (var i = 0; i < D.n; i++) {
        if (C.m[i] === mi && C.p[i] === pi && (C.sha[i] || "").slice(0, 12) === parts[2]) return i;
      }
      return -1;
    },
    // a significantly above b: a − b > 1.96·√(se_a² + se_b²) (any consistent unit).
    beats: function (a, seA, b, seB) { return a - b > 1.96 * Math.hypot(seA, seB); }
  };
})();
