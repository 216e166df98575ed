//! The static leaderboard site: load results, content and theme, then build
//! every page into a fresh folder and swap it in place of the old site.
//!
//! Output layout (all links relative, so the site works from `file://`, under
//! a sub-path and at a domain root):
//!
//! | path | what |
//! |---|---|
//! | `index.html`, `data.js`, `common.js`, `app.js`, `style.css` | the main table ([`table_data`] documents `data.js`) |
//! | `compare.html`, `compare.js` | up to 4 runs side by side (runs named in the address) |
//! | `details/…` | per-sample details of runs that have them, for the compare page ([`details`]) |
//! | `models/<slug>.html` | one page per model ([`slug`] documents the names) |
//! | `about.html`, `faq.html`, `submit.html` | from `content/*.md` |
//! | `plots.html` | SVG plots drawn at build time |
//! | `queue.html` | the evaluation requests of `requests/`, by status ([`queue`]) |
//! | `downloads.html`, `data/README.md` | the one page listing the downloads, and their column reference |
//! | `data/leaderboard.csv`, `data/leaderboard.json`, `data/results.parquet`, `data/flags.toml` | downloads |
//! | `404.html`, `.nojekyll` | for GitHub Pages |

pub mod assets;
pub mod details;
pub mod downloads;
pub mod markdown;
pub mod model_pages;
pub mod plots;
pub mod queue;
pub mod slug;
pub mod swap;
pub mod table_data;
pub mod uncertainty;
pub mod view;

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use assets::Theme;

/// A flag on a model: shown next to it, hidden by default in the table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Flag {
    pub model: String,
    pub reason: String,
    /// Discussion URL; rendered as a link only when it is an `https://` URL.
    pub link: Option<String>,
}

/// Everything a build reads.
#[derive(Debug, Clone)]
pub struct Sources {
    pub runs: Vec<leaderboard_format::schema::Run>,
    pub flags: Vec<Flag>,
    /// Files offered for download as-is: (path under `data/`, with `/`
    /// separators; source file): the flags file. (The runs are offered as
    /// one results file written from `runs`.)
    pub data_files: Vec<(String, PathBuf)>,
    /// Markdown pages by stem (`about`, `faq`, `submit`).
    pub content: BTreeMap<String, String>,
    pub theme: Theme,
    /// Public URL of the site, used only for `<link rel="canonical">`.
    pub base_url: Option<String>,
    /// The project's source repository, linked in every page's footer.
    pub repo_url: Option<String>,
    /// Details files of runs that have one ([`details::find`]).
    pub details: BTreeMap<details::Key, PathBuf>,
    /// Verification records of runs that have one (`results/verifications/`).
    pub verifications: BTreeMap<details::Key, leaderboard_format::verifications::Verification>,
    /// The benchmark data (`data/benchmarks` layout) the compare page's
    /// document texts come from; none: ids only.
    pub benchmarks: Option<PathBuf>,
    /// The evaluation requests (`requests/`), for the queue page.
    pub requests: Vec<leaderboard_format::check::requests::LoadedRequest>,
}

/// The content pages every site has, with their titles.
pub const CONTENT_PAGES: [(&str, &str); 3] =
    [("about", "About"), ("faq", "FAQ"), ("submit", "Submit")];

/// What a build wrote.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub runs: usize,
    pub models: usize,
    pub files: usize,
    pub bytes: u64,
}

/// Loads a results folder, content pages and theme (see [`Theme::load`]).
pub fn load(
    results: &Path,
    content: &Path,
    templates: Option<&Path>,
    assets: Option<&Path>,
) -> Result<Sources> {
    let set = leaderboard_format::load_dir(results)
        .with_context(|| format!("loading results from {}", results.display()))?;
    from_set(set, results, content, templates, assets)
}

/// [`load`] with the results already read (`set`, from the folder `results`).
pub fn from_set(
    set: leaderboard_format::ResultsSet,
    results: &Path,
    content: &Path,
    templates: Option<&Path>,
    assets: Option<&Path>,
) -> Result<Sources> {
    let mut data_files: Vec<(String, PathBuf)> = Vec::new();
    let flags_path = results.join(leaderboard_format::FLAGS_FILE);
    if flags_path.is_file() {
        data_files.push((leaderboard_format::FLAGS_FILE.to_string(), flags_path));
    }
    let flags = set
        .flags
        .iter()
        .map(|f| Flag {
            model: f.model.clone(),
            reason: f.reason.clone(),
            link: f.link.clone(),
        })
        .collect();
    Ok(Sources {
        flags,
        data_files,
        content: load_content(content)?,
        theme: Theme::load(templates, assets)?,
        base_url: None,
        repo_url: None,
        details: details::find(results, &set),
        verifications: set
            .runs
            .iter()
            .filter_map(|lr| {
                let v = set.verifications.get(&lr.file)?;
                Some((details::key(&lr.run), v.clone()))
            })
            .collect(),
        benchmarks: None,
        requests: Vec::new(),
        runs: set.runs.into_iter().map(|r| r.run).collect(),
    })
}

/// Reads the content pages from `dir` (each of [`CONTENT_PAGES`] must exist).
pub fn load_content(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (stem, _) in CONTENT_PAGES {
        let p = dir.join(format!("{stem}.md"));
        let text = std::fs::read_to_string(&p)
            .with_context(|| format!("reading content page {}", p.display()))?;
        out.insert(stem.to_string(), text);
    }
    Ok(out)
}

/// Collects files to write, relative to the site root.
pub struct Out {
    root: PathBuf,
    files: usize,
    bytes: u64,
}

impl Out {
    pub(crate) fn write(&mut self, rel: &str, bytes: &[u8]) -> Result<()> {
        let p = self.root.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        std::fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))?;
        self.files += 1;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    /// A writer into the same folder, for another thread; see [`Out::join`].
    pub(crate) fn fork(&self) -> Out {
        Out {
            root: self.root.clone(),
            files: 0,
            bytes: 0,
        }
    }

    /// Adds the counts of a forked writer.
    pub(crate) fn join(&mut self, other: Out) {
        self.files += other.files;
        self.bytes += other.bytes;
    }
}

/// Builds the whole site into `out`: writes a sibling temp folder, then swaps
/// it in ([`swap`]), so a failed or killed build never leaves a half-written site.
pub fn build(src: &Sources, out: &Path) -> Result<Summary> {
    let name = out
        .file_name()
        .with_context(|| format!("output path {} has no folder name", out.display()))?
        .to_string_lossy()
        .into_owned();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    swap::clean_stale(&parent, &name)?;
    if out.exists() && (!out.is_dir() || out.is_symlink()) {
        bail!("output path {} exists and is not a folder", out.display());
    }
    let tmp = swap::tmp_dir(&parent, &name);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    let mut o = Out {
        root: tmp.clone(),
        files: 0,
        bytes: 0,
    };
    let res = build_into(src, &mut o).and_then(|models| swap::install(&tmp, out).map(|()| models));
    let models = match res {
        Ok(models) => models,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    Ok(Summary {
        runs: src.runs.len(),
        models,
        files: o.files,
        bytes: o.bytes,
    })
}

/// Writes every file of the site into `o`; returns the number of models.
fn build_into(src: &Sources, o: &mut Out) -> Result<usize> {
    let v = view::View::new(&src.runs, &src.flags).with_verifications(&src.verifications);
    let env = templates_env(&src.theme)?;
    let ctx = PageCtx::new(src);
    // Per-sample details (compare page), then the main table, which names them.
    let slug_of = |m: &str| v.slug(m).to_string();
    let dx = details::write(
        &v.runs,
        &slug_of,
        &src.details,
        src.benchmarks.as_deref(),
        o,
    )?;
    o.write("data.js", table_data::render(&v, &dx).as_bytes())?;
    for (name, text) in &src.theme.assets {
        o.write(name, text.as_bytes())?;
    }
    let index = env
        .get_template("index.html")?
        .render(minijinja::context! {
            runs => v.runs.len(),
            models => v.models.len(),
            queue => queue::Counts::of(&src.requests),
            ..ctx.page("", "index", "Leaderboard")
        })
        .context("rendering index.html")?;
    o.write("index.html", index.as_bytes())?;
    let compare = env
        .get_template("compare.html")?
        .render(ctx.page("", "compare", "Compare runs"))
        .context("rendering compare.html")?;
    o.write("compare.html", compare.as_bytes())?;
    model_pages::write(&v, &env, &ctx, o)?;
    queue::write(&src.requests, &v, &env, &ctx, o)?;
    markdown::write(src, &env, &ctx, o)?;
    plots::write(&v, &env, &ctx, o)?;
    downloads::write(src, &v, &env, &ctx, o)?;
    let css = src
        .theme
        .assets
        .get("style.css")
        .cloned()
        .unwrap_or_default();
    let nf = env
        .get_template("404.html")?
        .render(minijinja::context! {
            css => minijinja::Value::from_safe_string(css),
            base => ctx.base_url,
            ..ctx.page("", "404", "Not found")
        })
        .context("rendering 404.html")?;
    o.write("404.html", nf.as_bytes())?;
    o.write(".nojekyll", b"")?;
    Ok(v.models.len())
}

fn templates_env(theme: &Theme) -> Result<minijinja::Environment<'static>> {
    let mut env = minijinja::Environment::new();
    for (name, text) in &theme.templates {
        env.add_template_owned(name.clone(), text.clone())
            .with_context(|| format!("parsing template {name}"))?;
    }
    env.add_filter("thousands", |n: i64| thousands(n));
    Ok(env)
}

/// `7169` → `7,169`.
pub fn thousands(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Values every page template gets.
pub struct PageCtx {
    base_url: Option<String>,
    repo_url: Option<String>,
}

impl PageCtx {
    fn new(src: &Sources) -> PageCtx {
        PageCtx {
            base_url: src
                .base_url
                .as_ref()
                .filter(|u| is_https_url(u))
                .map(|u| u.trim_end_matches('/').to_string() + "/"),
            repo_url: src.repo_url.clone().filter(|u| is_https_url(u)),
        }
    }

    /// `root` is the relative path back to the site root ("" or "../"),
    /// `path` this page's path from the root (for the canonical link).
    pub(crate) fn page(&self, root: &str, path: &str, title: &str) -> minijinja::Value {
        let canonical = self.base_url.as_ref().map(|b| {
            if path == "index" {
                b.clone()
            } else {
                format!("{b}{path}.html")
            }
        });
        minijinja::context! {
            // Our own constant ("" or "../"), not data: kept unescaped.
            root => minijinja::Value::from_safe_string(root.to_string()),
            page => path,
            title => title,
            canonical => canonical,
            repo_url => self.repo_url,
        }
    }
}

/// Whether `s` is a plain `https://` URL safe to put in an `href` (the rule
/// `check` holds flag links to: [`leaderboard_format::ids::is_safe_link`]).
pub fn is_https_url(s: &str) -> bool {
    leaderboard_format::ids::is_safe_link(s)
}

/// The Hub page of a model, when its id is a valid Hub repo id.
pub fn hub_url(model_id: &str) -> Option<String> {
    leaderboard_format::ids::is_valid_model_id(model_id)
        .then(|| format!("https://huggingface.co/{model_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links() {
        assert!(is_https_url(
            "https://huggingface.co/spaces/x/discussions/1"
        ));
        assert!(!is_https_url("javascript:alert(1)"));
        assert!(!is_https_url("http://example.com"));
        assert!(!is_https_url("https://x\" onmouseover=\"alert(1)"));
        assert_eq!(
            hub_url("EleutherAI/pythia-70m").as_deref(),
            Some("https://huggingface.co/EleutherAI/pythia-70m")
        );
        assert_eq!(
            hub_url("gpt2").as_deref(),
            Some("https://huggingface.co/gpt2")
        );
        assert_eq!(hub_url("<script>alert(1)</script>"), None);
        assert_eq!(hub_url("../../x"), None);
        assert_eq!(thousands(7169), "7,169");
        assert_eq!(thousands(100), "100");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
