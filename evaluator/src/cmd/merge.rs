//! `evaluator merge`: combines the shards of sharded runs (`evaluator run --shard I/N`,
//! files described in [`leaderboard_format::shard`]) into the results and details files
//! one process writes.
//!
//! Per run (shards sharing a folder and a stem): every shard 1..N present, results and
//! details, all of one N; their runs equal but for their scores, `evaluated_at` and the
//! `shard:I/N` deviation (same model, revision, precision, `run_config`, other
//! deviations); no document in two shards. The details rows are concatenated in shard
//! order (each shard's rows are a contiguous part of the evaluation order, so this is
//! the single run's order) and each task's scores recomputed from them by the same
//! function `evaluator run` uses ([`crate::tasks::scoring::aggregate`]); the merged run
//! keeps the latest `evaluated_at`. For a batch-invariant model the merged files are
//! byte-identical to one process's. The merged pair is written (details first,
//! atomically) before the shard files are removed; a refused run changes nothing.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use leaderboard_format::details::{self, DetailRow};
use leaderboard_format::schema::Run;
use leaderboard_format::shard::{self, Shard};

use crate::tasks::spec::TaskSpec;

/// Merge the shard files of sharded runs into whole results and details files.
#[derive(Debug, Clone, clap::Args)]
pub struct MergeArgs {
    /// The results folder the shards were written to (their `evaluator run --output`).
    #[arg(long, default_value = "results")]
    pub output: PathBuf,
    /// Merge only this model's shards (`org/name`: its folder under --output).
    #[arg(long)]
    pub model_id: Option<String>,
    /// Keep the shard files (default: removed once the merged files are written).
    #[arg(long)]
    pub keep_shards: bool,
    /// Merge the runs whose shards are all there and leave the others (default: refuse
    /// everything when one run misses a shard).
    #[arg(long)]
    pub skip_incomplete: bool,
}

/// The shard files of one run: per shard, its results and details paths.
#[derive(Debug, Default)]
struct Group {
    results: BTreeMap<Shard, PathBuf>,
    details: BTreeMap<Shard, PathBuf>,
}

impl Group {
    /// Every shard 1..N there, results and details, all of one N.
    fn complete(&self) -> bool {
        let Some(n) = self.results.keys().next().map(|s| s.count) else {
            return false;
        };
        (1..=n).all(|index| {
            let s = Shard { index, count: n };
            self.results.contains_key(&s) && self.details.contains_key(&s)
        }) && self.results.len() == n as usize
            && self.details.len() == n as usize
    }
}

/// Runs the command.
pub fn run(args: &MergeArgs) -> Result<()> {
    for path in merge(args)? {
        println!("wrote {}", path.display());
        println!("wrote {}", details::details_path(&path).display());
    }
    Ok(())
}

/// Merges every complete run of shards under `args.output` (or the model's folder);
/// returns the merged results files. Checks every run before writing any.
pub fn merge(args: &MergeArgs) -> Result<Vec<PathBuf>> {
    let root = match &args.model_id {
        Some(id) => {
            leaderboard_format::ids::check_model_id(id)
                .map_err(|e| anyhow::anyhow!("--model-id {id:?}: {e}"))?;
            args.output.join(id)
        }
        None => args.output.clone(),
    };
    let groups = find(&root)?;
    if groups.is_empty() {
        bail!(
            "no shard files (*.shard-I-of-N.parquet) under {}",
            root.display()
        );
    }
    let mut merged = Vec::new();
    for (whole, g) in &groups {
        if args.skip_incomplete && !g.complete() {
            eprintln!(
                "merge: {}: not every shard is there yet; left as it is",
                whole.display()
            );
            continue;
        }
        merged.push((whole, g, combine(whole, g)?));
    }
    if merged.is_empty() {
        bail!("no run under {} has all its shards", root.display());
    }
    let mut out = Vec::new();
    for (whole, g, (run, rows)) in merged {
        crate::cmd::run::write_outputs(whole, &run, &rows, false)?;
        eprintln!("merged {} shards into {}", g.results.len(), whole.display());
        if !args.keep_shards {
            for p in g.results.values().chain(g.details.values()) {
                std::fs::remove_file(p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
        out.push(whole.clone());
    }
    Ok(out)
}

/// The shard files under `root`, by the whole run's results path.
fn find(root: &Path) -> Result<BTreeMap<PathBuf, Group>> {
    let mut groups: BTreeMap<PathBuf, Group> = BTreeMap::new();
    let mut visit = |rel: &Path, ft: std::fs::FileType| {
        let Some(name) = rel.file_name().and_then(|n| n.to_str()) else {
            return;
        };
        let Some((stem, s, is_details)) = shard::parse_file_name(name) else {
            return;
        };
        if !ft.is_file() {
            return;
        }
        let whole = root.join(rel).with_file_name(format!("{stem}.parquet"));
        let g = groups.entry(whole).or_default();
        let map = if is_details {
            &mut g.details
        } else {
            &mut g.results
        };
        map.insert(s, root.join(rel));
    };
    leaderboard_format::folder::walk(root, Path::new(""), &mut visit)
        .with_context(|| format!("reading {}", root.display()))?;
    Ok(groups)
}

/// The merged run and details rows of one run's shards.
fn combine(whole: &Path, g: &Group) -> Result<(Run, Vec<DetailRow>)> {
    let name = whole.display();
    let counts: HashSet<u32> = g
        .results
        .keys()
        .chain(g.details.keys())
        .map(|s| s.count)
        .collect();
    if counts.len() != 1 {
        bail!("{name}: shards of different counts N ({counts:?}); expected one sharded run");
    }
    let n = *counts.iter().next().expect("one count");
    let missing: Vec<String> = (1..=n)
        .flat_map(|i| {
            let s = Shard { index: i, count: n };
            let mut m = Vec::new();
            if !g.results.contains_key(&s) {
                m.push(format!("{}{}.parquet", stem(whole), s.suffix()));
            }
            if !g.details.contains_key(&s) {
                m.push(format!(
                    "{}{}{}",
                    stem(whole),
                    s.suffix(),
                    leaderboard_format::schema::DETAILS_SUFFIX
                ));
            }
            m
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "{name}: {} of {n} shards are not all there; missing {} (has every shard finished?)",
            g.results.len().min(g.details.len()),
            missing.join(", ")
        );
    }
    let mut runs = Vec::new();
    let mut rows: Vec<DetailRow> = Vec::new();
    let mut seen = HashSet::new();
    for (s, path) in &g.results {
        let mut file = leaderboard_format::read_file(path)?;
        if file.len() != 1 {
            bail!("{}: {} runs; a shard holds one", path.display(), file.len());
        }
        let run = file.remove(0);
        if shard::of_deviations(&run.provenance.deviations) != Some(*s) {
            bail!(
                "{}: its run's deviations do not name shard {s} (`{}`)",
                path.display(),
                s.deviation()
            );
        }
        let dpath = &g.details[s];
        for r in details::read_shard_rows(dpath)? {
            if !seen.insert((r.sample.task.clone(), r.sample.doc_id)) {
                bail!(
                    "{}: document {} of {} is also in an earlier shard",
                    dpath.display(),
                    r.sample.doc_id,
                    r.sample.task
                );
            }
            rows.push(r);
        }
        runs.push((path, run));
    }
    let (first_path, first) = &runs[0];
    let common = |r: &Run| {
        let mut r = r.clone();
        r.scores.clear();
        r.evaluated_at = None;
        r.provenance
            .deviations
            .retain(|d| !d.starts_with(shard::DEVIATION_PREFIX));
        r
    };
    let base = common(first);
    for (path, run) in &runs[1..] {
        if common(run) != base {
            bail!(
                "{}: its run differs from {}'s ({}); shards of one run must share the model, \
                 revision, precision, run configuration and deviations",
                path.display(),
                first_path.display(),
                first_difference(&base, &common(run))
            );
        }
    }
    let mut run = base;
    run.evaluated_at = runs.iter().filter_map(|(_, r)| r.evaluated_at).max();
    let all_scores: Vec<&leaderboard_format::schema::Score> =
        runs.iter().flat_map(|(_, r)| &r.scores).collect();
    for spec in tasks_of(&run).with_context(|| format!("{name}: its run configuration"))? {
        let part: Vec<&DetailRow> = rows.iter().filter(|r| spec.owns(&r.sample.task)).collect();
        let Some(first_row) = part.first() else {
            bail!("{name}: no shard holds a document of task {}", spec.id);
        };
        let num_fewshot = all_scores
            .iter()
            .find(|s| s.task == first_row.sample.task)
            .and_then(|s| s.num_fewshot)
            .with_context(|| format!("{name}: no shard score of {} gives its shots", spec.id))?;
        let generated = part.iter().any(|r| r.sample.generated.is_some());
        let integral = part
            .iter()
            .all(|r| r.sample.metrics.iter().all(|(_, v)| v.fract() == 0.0));
        if generated && !integral {
            bail!(
                "{name}: task {} generates text and has non-integer metric values; its shards are \
                 not contiguous in evaluation order, so the merged means could differ from one \
                 process's in their last bits",
                spec.id
            );
        }
        let samples: Vec<_> = part.iter().map(|r| r.sample.clone()).collect();
        run.scores.extend(crate::tasks::scoring::aggregate(
            spec,
            num_fewshot as usize,
            &samples,
        ));
    }
    Ok((run, rows))
}

/// The file stem of a results path.
fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The task specs a run's configuration lists (`run_config.tasks.tasks`), in order.
pub fn tasks_of(run: &Run) -> Result<Vec<&'static TaskSpec>> {
    let cfg =
        run.provenance.run_config.as_deref().context(
            "no run_config recorded; only runs of `evaluator run --shard` can be merged",
        )?;
    let v: serde_json::Value = serde_json::from_str(cfg).context("run_config is not JSON")?;
    let ids = v["tasks"]["tasks"]
        .as_array()
        .context("run_config has no tasks.tasks list")?;
    ids.iter()
        .map(|id| {
            let id = id.as_str().context("a task id is not a string")?;
            crate::tasks::parse_task(id).map_err(|e| anyhow::anyhow!(e))
        })
        .collect()
}

/// The first field two runs differ in, for the refusal message.
fn first_difference(a: &Run, b: &Run) -> &'static str {
    if a.model_id != b.model_id {
        "model_id"
    } else if a.revision != b.revision {
        "revision"
    } else if a.precision != b.precision {
        "precision"
    } else if a.weights_sha256 != b.weights_sha256 {
        "weights_sha256"
    } else if a.provenance.run_config != b.provenance.run_config {
        "run_config"
    } else if a.provenance.deviations != b.provenance.deviations {
        "deviations"
    } else {
        "metadata"
    }
}
