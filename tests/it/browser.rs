//! Real-browser test: Debian's headless Chromium opens the site built from
//! the real v1 archive (`results/`) from `file://` and checks the row count,
//! searches, sorting, a filter, that a view survives a reload through its
//! URL, and that the page makes no network request. Saves a screenshot to
//! `target/site-index.png`.

use crate::support::chrome;

use leaderboard::site;
use std::collections::BTreeSet;
use std::path::Path;

/// The runs v1's default view shows: on the Hub, not a merge (by tag or by
/// type), not flagged.
pub fn v1_default_view(src: &site::Sources) -> Vec<&leaderboard_format::schema::Run> {
    let flagged: BTreeSet<&str> = src.flags.iter().map(|f| f.model.as_str()).collect();
    src.runs
        .iter()
        .filter(|r| {
            !flagged.contains(r.model_id.as_str())
                && r.available_on_hub == Some(true)
                && !r.is_merge
                && r.model_type != leaderboard_format::schema::ModelType::Merge
        })
        .collect()
}

fn count_text(n: usize, total: usize) -> String {
    format!(
        "{} of {} runs",
        site::thousands(n as i64),
        site::thousands(total as i64)
    )
}

#[test]
fn index_in_headless_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    chrome::chromium_path();
    let src = site::load(&root.join("results"), &root.join("content"), None, None).unwrap();
    let total = src.runs.len();
    assert!(
        total > 1000,
        "results/ holds only {total} runs; the browser test needs the v1 archive (run `leaderboard import`)"
    );
    // The default view is v1's: private or deleted, merges and flagged hidden.
    let shown = v1_default_view(&src);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("site");
    site::build(&src, &out).unwrap();

    let c = chrome::Chrome::launch();
    let url = chrome::file_url(&out.join("index.html"));
    c.open(&url);

    // Row count: v1's default view.
    let count = |c: &chrome::Chrome| c.js("document.getElementById('count').textContent");
    assert_eq!(count(&c), count_text(shown.len(), total));
    eprintln!("default view: {} of {total} runs", shown.len());
    assert!(shown.len() < total, "no run hidden");
    let rendered = c
        .js("document.querySelectorAll('#rows tr').length")
        .as_u64()
        .unwrap() as usize;
    assert_eq!(rendered, shown.len().min(200), "first batch of rows");
    assert_eq!(c.js("document.querySelectorAll('#refs tr.ref').length"), 2);
    // First row is the best Average in the default view.
    let best = shown
        .iter()
        .map(|r| r.average().unwrap())
        .fold(f64::NEG_INFINITY, f64::max);
    let first_avg = c.js("document.querySelector('#rows tr').children[2].textContent");
    assert_eq!(first_avg, format!("{best:.2}"));

    // Search `pythia` by typing.
    c.tab.find_element("#q").unwrap().click().unwrap();
    c.tab.type_str("pythia").unwrap();
    let n_pythia = shown
        .iter()
        .filter(|r| r.model_id.to_lowercase().contains("pythia"))
        .count();
    assert!(n_pythia > 0);
    let want = count_text(n_pythia, total);
    c.wait_for(
        &format!("document.getElementById('count').textContent === {want:?}"),
        10,
    );
    let all_pythia = c.js(
        "Array.from(document.querySelectorAll('#rows td.model a:first-child')).every(a => a.textContent.toLowerCase().includes('pythia'))",
    );
    assert_eq!(all_pythia, true);
    assert_eq!(
        c.js("document.querySelectorAll('#rows tr').length")
            .as_u64()
            .unwrap() as usize,
        n_pythia.min(200)
    );

    // `;` alternatives and `license:` search.
    let set_q = |q: &str| {
        c.js(&format!(
            "(() => {{ const e = document.getElementById('q'); e.value = {q:?}; e.dispatchEvent(new Event('input')); return true; }})()"
        ));
    };
    set_q("license: mit");
    let n_mit = shown
        .iter()
        .filter(|r| {
            r.license
                .as_deref()
                .unwrap_or("")
                .to_lowercase()
                .contains("mit")
        })
        .count();
    assert!(n_mit > 0);
    let want = count_text(n_mit, total);
    c.wait_for(
        &format!("document.getElementById('count').textContent === {want:?}"),
        10,
    );
    set_q("pythia; gpt2");
    let n_alt = shown
        .iter()
        .filter(|r| {
            let m = r.model_id.to_lowercase();
            m.contains("pythia") || m.contains("gpt2")
        })
        .count();
    assert!(n_alt > n_pythia);
    let want = count_text(n_alt, total);
    c.wait_for(
        &format!("document.getElementById('count').textContent === {want:?}"),
        10,
    );

    // Sort by clicking the ARC header: descending, then ascending.
    let arc_col = "Array.from(document.querySelectorAll('#rows tr')).map(tr => parseFloat(tr.children[3].textContent))";
    c.tab
        .find_element("th[data-k=arc]")
        .unwrap()
        .click()
        .unwrap();
    c.wait_for("location.hash.includes('sort=arc')", 10);
    let v: Vec<f64> = serde_json::from_value(c.js(arc_col)).unwrap();
    assert!(
        v.len() > 1 && v.windows(2).all(|w| w[0] >= w[1]),
        "ARC not descending: {v:?}"
    );
    c.tab
        .find_element("th[data-k=arc]")
        .unwrap()
        .click()
        .unwrap();
    c.wait_for("location.hash.includes('dir=asc')", 10);
    let v: Vec<f64> = serde_json::from_value(c.js(arc_col)).unwrap();
    assert!(
        v.windows(2).all(|w| w[0] <= w[1]),
        "ARC not ascending: {v:?}"
    );

    // Filter: untick float16.
    c.tab
        .find_element("input[data-prec=float16]")
        .unwrap()
        .click()
        .unwrap();
    let n_filtered = shown
        .iter()
        .filter(|r| {
            let m = r.model_id.to_lowercase();
            (m.contains("pythia") || m.contains("gpt2"))
                && r.precision != leaderboard_format::schema::Precision::Float16
        })
        .count();
    assert!(n_filtered < n_alt);
    let want = count_text(n_filtered, total);
    c.wait_for(
        &format!("document.getElementById('count').textContent === {want:?}"),
        10,
    );

    // The view survives a reload through its URL.
    let href = c.js("location.href").as_str().unwrap().to_string();
    assert!(href.contains("prec=") && href.contains("q="), "{href}");
    c.tab.reload(true, None).unwrap();
    c.tab.wait_until_navigated().unwrap();
    c.wait_for(
        "!!(window.__lbTimings && window.__lbTimings.firstRender !== null)",
        60,
    );
    assert_eq!(c.js("location.href").as_str().unwrap(), href);
    assert_eq!(count(&c), want);
    assert_eq!(c.js("document.getElementById('q').value"), "pythia; gpt2");
    assert_eq!(
        c.js("document.querySelector('input[data-prec=float16]').checked"),
        false
    );
    assert_eq!(
        c.js("document.querySelector('th[aria-sort]').dataset.k"),
        "arc"
    );
    // Opening the shared URL in a fresh tab gives the same view.
    let tab2 = c.browser.new_tab().unwrap();
    tab2.navigate_to(&href)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let c2 = tab2
        .evaluate("document.getElementById('count').textContent", false)
        .unwrap()
        .value
        .unwrap();
    assert_eq!(c2, want);

    // Model links lead to existing pages.
    let href0 = c.js("document.querySelector('#rows td.model a').getAttribute('href')");
    let rel = href0.as_str().unwrap();
    assert!(rel.starts_with("models/"), "{rel}");
    assert!(out.join(rel).is_file(), "{rel} missing");

    // The page name the browser derives for every model (rule + exceptions)
    // is a page that exists.
    let pages: Vec<String> = serde_json::from_value(c.js("window.__lbPages()")).unwrap();
    let n_models = src
        .runs
        .iter()
        .map(|r| r.model_id.as_str())
        .collect::<BTreeSet<_>>()
        .len();
    assert_eq!(pages.len(), n_models);
    for p in &pages {
        assert!(out.join(p).is_file(), "the table links to missing page {p}");
    }
    let distinct: BTreeSet<String> = pages.iter().map(|p| p.to_lowercase()).collect();
    assert_eq!(distinct.len(), pages.len(), "two models share a page");

    // Back to the default view for the screenshot.
    c.open(&url);
    let png = c
        .tab
        .capture_screenshot(
            headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption::Png,
            None,
            None,
            true,
        )
        .unwrap();
    std::fs::write(root.join("target/site-index.png"), png).unwrap();

    // No network: every request the page made (CDP Network events) and every
    // resource it references is a file: URL. (Chromium records no Resource
    // Timing entries for file: loads, so those are checked only if present.)
    let requests = c.requests.lock().unwrap().clone();
    for f in ["index.html", "data.js", "app.js", "style.css"] {
        assert!(
            requests.iter().any(|r| r.ends_with(f)
                || r.contains(&format!("/{f}#"))
                || r.contains(&format!("/{f}?"))),
            "no request for {f} seen: {requests:?}"
        );
    }
    for r in &requests {
        assert!(r.starts_with("file:"), "network request {r}");
    }
    let referenced: Vec<String> = serde_json::from_value(c.js(
        "[...document.querySelectorAll('[src],link[href]')].map(e => e.src || e.href)\
         .concat(performance.getEntriesByType('resource').map(e => e.name))",
    ))
    .unwrap();
    assert!(referenced.len() >= 3, "{referenced:?}");
    for r in &referenced {
        // The favicon is an inline data: URL.
        assert!(
            r.starts_with("file:") || r.starts_with("data:image/svg+xml,"),
            "network resource {r}"
        );
    }
    let t = c.js("window.__lbTimings");
    eprintln!("timings: {t}; {} requests, all file:", requests.len());
}
