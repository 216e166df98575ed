//! The site as a reader meets it, in headless Chromium over the v1 archive:
//! "hide merges" hides merge-typed runs too, the header row stays in view
//! while the page scrolls, headers sort from the keyboard, hostile or v1-style
//! URLs work, the phone viewport shows the Average without sideways scrolling
//! and the column picker on screen, and the 404 page is styled and links home
//! at a deep path of a sub-path site.

use crate::browser::v1_default_view;
use crate::support::{chrome, http};
use leaderboard::site;
use leaderboard_format::schema::ModelType;
use std::path::Path;

fn count(c: &chrome::Chrome) -> String {
    c.js("document.getElementById('count').textContent")
        .as_str()
        .unwrap()
        .to_string()
}

/// Opens `url` as a new document (a change of the hash alone does not load
/// the page again).
fn fresh(c: &chrome::Chrome, url: &str) {
    c.tab
        .navigate_to("about:blank")
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    c.open(url);
}

fn shown_of(text: &str) -> usize {
    text.split(' ')
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap()
}

#[test]
fn reader_views_in_headless_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = site::load(&root.join("results"), &root.join("content"), None, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("site");
    site::build(&src, &out).unwrap();
    let default_n = v1_default_view(&src).len();
    let index = chrome::file_url(&out.join("index.html"));

    let c = chrome::Chrome::launch();
    // Merge-typed runs that are not tagged as merges exist in the archive, and
    // none of them is shown by the default view (merges hidden).
    let typed_only = src
        .runs
        .iter()
        .filter(|r| r.model_type == ModelType::Merge && !r.is_merge)
        .count();
    assert!(typed_only > 0);
    c.open(&format!("{index}#q=&hide=private,flagged"));
    let with_merges = shown_of(&count(&c));
    assert!(with_merges > default_n, "{with_merges} vs {default_n}");
    fresh(&c, &index);
    assert_eq!(shown_of(&count(&c)), default_n);
    c.js("(() => { window.__lbApply(); return 1; })()");
    // Render every row, then look for a merge among them.
    c.js("(() => { const n = window.scrollY; for (let i = 0; i < 40; i++) window.scrollTo(0, document.body.scrollHeight); window.scrollTo(0, n); return 1; })()");
    let merge_rows = c.js(
        "[...document.querySelectorAll('#rows tr')].filter(tr => tr.querySelector('.sr') && tr.querySelector('.sr').textContent === 'merge').length",
    );
    assert_eq!(
        merge_rows, 0,
        "a merge-typed row is shown with merges hidden"
    );

    // The header row stays in view after scrolling 3,000 px.
    c.js("(() => { window.scrollTo(0, 3000); return 1; })()");
    c.wait_for("window.scrollY >= 3000", 10);
    let top = c.js("document.querySelector('#head th').getBoundingClientRect().top");
    let top = top.as_f64().unwrap();
    assert!(
        (0.0..5.0).contains(&top),
        "header top at {top} px after scrolling"
    );
    c.js("(() => { window.scrollTo(0, 0); return 1; })()");

    // Headers sort from the keyboard: focus the ARC header's button, press Enter.
    c.js("(() => { document.querySelector('th[data-k=arc] button').focus(); return 1; })()");
    c.tab.press_key("Enter").unwrap();
    c.wait_for("location.hash.includes('sort=arc')", 10);
    assert_eq!(
        c.js("document.querySelector('th[aria-sort]').dataset.k"),
        "arc"
    );

    // Hostile hashes are unknown names, not crashes; v1's ?query= works.
    for h in [
        "#sort=__proto__",
        "#sort=constructor",
        "#cols=__proto__,avg",
    ] {
        fresh(&c, &format!("{index}{h}"));
        assert_eq!(shown_of(&count(&c)), default_n, "{h}");
        assert!(
            c.js("document.querySelectorAll('#rows tr').length")
                .as_u64()
                .unwrap()
                > 0,
            "{h}: no rows"
        );
    }
    fresh(&c, &format!("{index}?query=mistral"));
    let n_mistral = v1_default_view(&src)
        .iter()
        .filter(|r| r.model_id.to_lowercase().contains("mistral"))
        .count();
    assert!(n_mistral > 0);
    assert_eq!(shown_of(&count(&c)), n_mistral);
    assert_eq!(c.js("document.getElementById('q').value"), "mistral");

    // Rank ranges and ties in the table, over every run (nothing hidden):
    // the same rule as the model pages, on data.js's hundredths.
    fresh(&c, &format!("{index}#hide=&cols=t,model,rank,avg"));
    let view = site::view::View::new(&src.runs, &src.flags);
    let hundredths = |x: f64| (x * 100.0).round();
    let rows: Vec<Option<(f64, f64)>> = view
        .runs
        .iter()
        .map(|r| {
            let e = site::uncertainty::of_run(r)[0]?;
            view.is_ranked(r)
                .then(|| (hundredths(e.value), hundredths(e.stderr)))
        })
        .collect();
    let beats = |a: (f64, f64), b: (f64, f64)| a.0 - b.0 > 1.96 * a.1.hypot(b.1);
    let first = rows.iter().position(Option::is_some).unwrap();
    let top = rows[first].unwrap();
    let ranked: Vec<(f64, f64)> = rows.iter().flatten().copied().collect();
    let best = 1 + ranked.iter().filter(|o| beats(**o, top)).count();
    let worst = ranked.len() - ranked.iter().filter(|o| beats(top, **o)).count();
    let got: Vec<usize> =
        serde_json::from_value(c.js(&format!("window.__lbRange({first})"))).unwrap();
    assert_eq!(got, vec![best, worst], "rank range of row {first}");
    let cell = c.js("document.querySelector('#rows tr').children[2].textContent");
    assert_eq!(cell.as_str().unwrap(), format!("{best}–{worst}"));
    let ties: Vec<usize> =
        serde_json::from_value(c.js(&format!("window.__lbTies({first})"))).unwrap();
    let want: Vec<usize> = (0..200.min(rows.len()))
        .filter(|j| *j != first)
        .filter(|j| rows[*j].is_some_and(|o| !beats(o, top) && !beats(top, o)))
        .collect();
    assert!(!want.is_empty() && want.len() < 199, "{} ties", want.len());
    assert_eq!(ties, want, "rows shaded as tied with row {first}");

    // Compare: tick two runs, follow the Compare link; the page shows both,
    // with each difference marked as the uncertainty rule says.
    fresh(&c, &index);
    for k in [0, 5] {
        c.js(&format!(
            "(() => {{ const b = document.querySelectorAll('#rows input.pick')[{k}]; b.click(); return b.checked; }})()"
        ));
    }
    let link = c.js("(() => { const a = document.getElementById('compare'); return a.hidden ? null : a.href; })()");
    let link = link
        .as_str()
        .expect("Compare link hidden after ticking two runs")
        .to_string();
    assert!(link.contains("compare.html#r="), "{link}");
    let picked: Vec<usize> = serde_json::from_value(
        c.js("[0, 5].map(k => +document.querySelectorAll('#rows tr')[k].dataset.i)"),
    )
    .unwrap();
    c.tab
        .navigate_to(&link)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    c.wait_for("window.__cmpReady === true", 20);
    let status = c.js("document.getElementById('cmp-status').textContent");
    assert!(
        status.as_str().unwrap().starts_with("2 runs compared"),
        "{status}"
    );
    let names: Vec<String> = serde_json::from_value(
        c.js("[...document.querySelectorAll('#cmp-scores thead th a')].map(a => a.textContent)"),
    )
    .unwrap();
    let want_names: Vec<String> = picked
        .iter()
        .map(|i| view.runs[*i].model_id.clone())
        .collect();
    assert_eq!(names, want_names);
    let sig: Vec<u8> = serde_json::from_value(c.js(
        "[...document.querySelectorAll('#cmp-scores td[data-sig]')].map(td => +td.dataset.sig)",
    ))
    .unwrap();
    let (a, b) = (
        site::uncertainty::of_run(view.runs[picked[0]]),
        site::uncertainty::of_run(view.runs[picked[1]]),
    );
    let rounded = |e: site::uncertainty::Estimate| (hundredths(e.value), hundredths(e.stderr));
    let want_sig: Vec<u8> = (0..7)
        .map(|col| {
            let (x, y) = (rounded(a[col].unwrap()), rounded(b[col].unwrap()));
            u8::from(beats(x, y) || beats(y, x))
        })
        .collect();
    assert_eq!(sig, want_sig, "significance per column");
    assert!(
        c.js("document.querySelectorAll('#cmp svg rect').length")
            .as_u64()
            .unwrap()
            >= 12
    );
    drop(c);

    // Phone: the Average of the first row is on screen without sideways
    // scrolling, and the opened column picker fits the screen.
    let p = chrome::Chrome::launch_sized(390, 844);
    p.open(&index);
    let width = p.js("window.innerWidth").as_f64().unwrap();
    let right = p
        .js("document.querySelector('#rows tr').children[2].getBoundingClientRect().right")
        .as_f64()
        .unwrap();
    assert!(right <= width, "Average cell ends at {right} px of {width}");
    let table_top = p
        .js("document.querySelector('#rows tr').getBoundingClientRect().top")
        .as_f64()
        .unwrap();
    assert!(
        table_top < 844.0,
        "first row starts below the first screen ({table_top} px)"
    );
    p.js("(() => { document.getElementById('colpicker').open = true; return 1; })()");
    let r: Vec<f64> = serde_json::from_value(p.js(
        "(() => { const r = document.querySelector('#colpicker > div').getBoundingClientRect(); return [r.left, r.right]; })()",
    ))
    .unwrap();
    assert!(
        r[0] >= 0.0 && r[1] <= width,
        "column picker at {r:?} of {width}"
    );
    for page in [
        "about.html",
        "faq.html",
        "downloads.html",
        "plots.html",
        "models/meta-llama--llama-2-7b-hf.html",
        "models/contamination--contaminated_proof_7b_v1.0_safetensor.html",
    ] {
        p.tab
            .navigate_to(&chrome::file_url(&out.join(page)))
            .unwrap()
            .wait_until_navigated()
            .unwrap();
        let sw = p
            .js("document.documentElement.scrollWidth")
            .as_f64()
            .unwrap();
        assert!(
            sw <= width + 1.0,
            "{page} is {sw} px wide on a {width} px screen"
        );
    }

    // 404 at a deep path of a sub-path site: styled, and its home link leads
    // to the site's index.
    let base = http::serve(&out, "proj");
    p.tab
        .navigate_to(&format!("{base}no/such/deep/page.html"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    p.wait_for("!!document.querySelector('base')", 10);
    let styled = p.js("getComputedStyle(document.querySelector('header.top')).display");
    assert_eq!(styled, "flex", "404 page unstyled");
    let home = p.js("document.querySelector('main a').href");
    assert_eq!(home.as_str().unwrap(), format!("{base}index.html"));
}
