//! `leaderboard build` (the default command): renders the static site from
//! `results/`, `content/` and the theme into `site/`.

use anyhow::Result;
use std::path::PathBuf;

#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// Results folder (Parquet files and flags.toml) [default: results]
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Requests folder (the evaluation queue, shown on queue.html) [default: requests, if it exists]
    #[arg(long)]
    pub requests: Option<PathBuf>,
    /// Folder of the Markdown pages about.md, faq.md, submit.md [default: content]
    #[arg(long)]
    pub content: Option<PathBuf>,
    /// Templates folder; files there replace the embedded ones [default: templates, if it exists]
    #[arg(long)]
    pub templates: Option<PathBuf>,
    /// Assets folder (app.js, style.css); files there replace the embedded ones [default: assets, if it exists]
    #[arg(long)]
    pub assets: Option<PathBuf>,
    /// Output folder; replaced as a whole once the new site is complete [default: site]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Public https:// URL of the site (only used for canonical links)
    #[arg(long)]
    pub base_url: Option<String>,
    /// Benchmark data (the `data/benchmarks` layout) whose document texts the compare
    /// page's per-sample diff shows [default: data/benchmarks, if it exists]
    #[arg(long)]
    pub benchmarks: Option<PathBuf>,
    /// https:// URL of the project's source repository, linked in every page's footer
    /// (the Pages workflow passes its GitHub repository)
    #[arg(long)]
    pub repo_url: Option<String>,
    /// Build even if `check` refuses the results folder (for a preview; the
    /// problems are still printed). Without it a refused folder is not built.
    #[arg(long)]
    pub allow_invalid: bool,
}

/// What a build reads, as `check` read it.
type Checked = (
    leaderboard_format::ResultsSet,
    Vec<leaderboard_format::check::requests::LoadedRequest>,
);

/// Runs `check` on the results and requests folders: prints every problem and
/// refuses to build when there is an error, unless `allow_invalid`. Returns
/// what the check read (each file is read once per build).
fn validate(
    results: &std::path::Path,
    requests: Option<&std::path::Path>,
    allow_invalid: bool,
) -> Result<Checked> {
    use leaderboard_format::check;
    let (problems, set) = check::check_and_load(results);
    let mut errors = check::print(results, &problems);
    let (req_problems, loaded) = match requests {
        Some(dir) => check::check_requests(dir, &set),
        None => Default::default(),
    };
    if let Some(dir) = requests {
        errors += check::print(dir, &req_problems);
    }
    if errors > 0 {
        anyhow::ensure!(
            allow_invalid,
            "{errors} problem(s) in {}: `leaderboard check` refuses it, so it is not published \
             (fix them, or pass --allow-invalid for a preview)",
            results.display()
        );
        eprintln!(
            "building anyway (--allow-invalid): {errors} problem(s) in {}",
            results.display()
        );
    }
    Ok((set, loaded))
}

fn existing(given: &Option<PathBuf>, default: &str) -> Option<PathBuf> {
    given
        .clone()
        .or_else(|| Some(PathBuf::from(default)).filter(|p| p.is_dir()))
}

pub fn run(args: &Args) -> Result<()> {
    let results = args.results.clone().unwrap_or_else(|| "results".into());
    let content = args.content.clone().unwrap_or_else(|| "content".into());
    let out = args.out.clone().unwrap_or_else(|| "site".into());
    let templates = existing(&args.templates, "templates");
    let assets = existing(&args.assets, "assets");
    for (flag, url) in [
        ("--base-url", &args.base_url),
        ("--repo-url", &args.repo_url),
    ] {
        if let Some(u) = url {
            anyhow::ensure!(
                crate::site::is_https_url(u),
                "{flag} must be an https:// URL without spaces or quotes, got {u:?}"
            );
        }
    }
    let started = std::time::Instant::now();
    let requests = existing(&args.requests, "requests");
    let (set, loaded) = validate(&results, requests.as_deref(), args.allow_invalid)?;
    let mut src = crate::site::from_set(
        set,
        &results,
        &content,
        templates.as_deref(),
        assets.as_deref(),
    )?;
    src.base_url = args.base_url.clone();
    src.repo_url = args.repo_url.clone();
    src.benchmarks = existing(&args.benchmarks, "data/benchmarks");
    src.requests = loaded;
    let s = crate::site::build(&src, &out)?;
    eprintln!(
        "built {}: {} runs, {} model pages, {} files, {:.1} MB in {:.2} s",
        out.display(),
        s.runs,
        s.models,
        s.files,
        s.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
