//! The site's theme: minijinja templates and static assets, embedded in the
//! binary from the repository's `templates/` and `assets/`, or read from a
//! `templates/` folder at build time (then those files are what is rendered).

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// Templates every build renders, by file name.
pub const TEMPLATE_NAMES: [&str; 9] = [
    "base.html",
    "compare.html",
    "downloads.html",
    "index.html",
    "model.html",
    "page.html",
    "plots.html",
    "queue.html",
    "404.html",
];

const EMBEDDED_TEMPLATES: [(&str, &str); 9] = [
    ("base.html", include_str!("../../templates/base.html")),
    ("compare.html", include_str!("../../templates/compare.html")),
    (
        "downloads.html",
        include_str!("../../templates/downloads.html"),
    ),
    ("index.html", include_str!("../../templates/index.html")),
    ("model.html", include_str!("../../templates/model.html")),
    ("page.html", include_str!("../../templates/page.html")),
    ("plots.html", include_str!("../../templates/plots.html")),
    ("queue.html", include_str!("../../templates/queue.html")),
    ("404.html", include_str!("../../templates/404.html")),
];

/// Static files copied verbatim to the site root.
const EMBEDDED_ASSETS: [(&str, &str); 4] = [
    ("app.js", include_str!("../../assets/app.js")),
    ("common.js", include_str!("../../assets/common.js")),
    ("compare.js", include_str!("../../assets/compare.js")),
    ("style.css", include_str!("../../assets/style.css")),
];

/// Templates and assets of one build.
#[derive(Debug, Clone)]
pub struct Theme {
    pub templates: BTreeMap<String, String>,
    pub assets: BTreeMap<String, String>,
}

impl Theme {
    /// The theme compiled into the binary.
    pub fn embedded() -> Theme {
        Theme {
            templates: EMBEDDED_TEMPLATES
                .iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect(),
            assets: EMBEDDED_ASSETS
                .iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect(),
        }
    }

    /// The embedded theme with every file present in `templates` (and in
    /// `assets`) replacing its embedded counterpart.
    pub fn load(templates: Option<&Path>, assets: Option<&Path>) -> Result<Theme> {
        let mut theme = Theme::embedded();
        for (dir, map) in [
            (templates, &mut theme.templates),
            (assets, &mut theme.assets),
        ] {
            let Some(dir) = dir else { continue };
            for name in map.clone().keys() {
                let p = dir.join(name);
                if p.is_file() {
                    let text = std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?;
                    map.insert(name.clone(), text);
                }
            }
        }
        Ok(theme)
    }
}
