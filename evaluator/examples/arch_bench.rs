//! Speed per architecture on the CPU: tokens per second per parameter against Llama's.
//!
//! ```text
//! scripts/make-arch-fixtures.sh --bench        # once: the models, into the cache
//! cargo run --release -p evaluator --example arch_bench -- [--threads 2] [--dir DIR]
//!     [--batch-tokens 2048] [--seq 256] [--reps 5]
//! ```
//! The models are every fixture architecture of `tests/fixtures/arch` at a realistic
//! width (hidden 512, 4 layers, vocabulary 2048, random weights, float32), written by
//! transformers to `$LEADERBOARD_CACHE/arch-bench` (default ~/.cache/leaderboard).
//! Each runs **in its own child process** (`RAYON_NUM_THREADS=threads`) the same
//! workload at the same batch budget: packed batches of `batch-tokens` tokens, sequences
//! of `seq` tokens (fresh caches, logits for the last position only, as scoring a short
//! continuation does), one warm-up batch, then `reps` timed batches, the fastest counted
//! (the least disturbed by whatever else the machine runs).
//!
//! Printed per model: parameters doing the work (every weight matrix of the layers;
//! embeddings, position tables and the output layer left out: with one scored row per
//! sequence they cost nothing; a Mixtral layer's experts counted at top-k / experts, the
//! share a token runs), tokens/s, their product (parameter-tokens per second: a forward
//! costs about 2 × parameters FLOPs per token, so twice it is the GFLOP/s of the linear
//! layers), that product against the `llama` row's measured in the same run, and the
//! child's peak resident memory (`VmHWM`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device};
use evaluator::model::{self, CausalLm, Seq};

struct Args {
    threads: usize,
    dir: PathBuf,
    batch_tokens: usize,
    seq: usize,
    reps: usize,
    /// Child mode: the one model folder to time.
    child: Option<PathBuf>,
}

fn usage() -> &'static str {
    "arch_bench [--threads N] [--dir DIR] [--batch-tokens N] [--seq N] [--reps N]\n\
     Tokens/s per parameter of every architecture in DIR (default \
     $LEADERBOARD_CACHE/arch-bench, made by scripts/make-arch-fixtures.sh --bench), each in\n\
     its own process, against the llama model's, at the same batch budget."
}

fn parse_args() -> Result<Args> {
    let cache = std::env::var_os("LEADERBOARD_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                .join(".cache/leaderboard")
        });
    let mut a = Args {
        threads: 2,
        dir: cache.join("arch-bench"),
        batch_tokens: 2048,
        seq: 256,
        reps: 5,
        child: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .with_context(|| format!("{name} needs a value\n{}", usage()))
        };
        match arg.as_str() {
            "--threads" => a.threads = val("--threads")?.parse()?,
            "--dir" => a.dir = val("--dir")?.into(),
            "--batch-tokens" => a.batch_tokens = val("--batch-tokens")?.parse()?,
            "--seq" => a.seq = val("--seq")?.parse()?,
            "--reps" => a.reps = val("--reps")?.parse()?,
            "--child" => a.child = Some(val("--child")?.into()),
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{}", usage()),
        }
    }
    if a.seq == 0 || a.batch_tokens < a.seq || a.reps == 0 {
        bail!(
            "need 0 < --seq <= --batch-tokens and --reps > 0\n{}",
            usage()
        );
    }
    Ok(a)
}

/// Parameters doing the work per token (see the module docs).
fn working_params(dir: &Path) -> Result<f64> {
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json"))?)?;
    let share = match (
        config["num_experts_per_tok"].as_u64(),
        config["num_local_experts"].as_u64(),
    ) {
        (Some(k), Some(n)) if n > 0 => k as f64 / n as f64,
        _ => 1.0,
    };
    let tensors = candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu)?;
    let skip = [
        "embed",
        "wte",
        "wpe",
        "lm_head",
        "position",
        "word_embeddings",
    ];
    let mut total = 0f64;
    for (name, t) in &tensors {
        if skip.iter().any(|s| name.contains(s)) || t.rank() < 2 {
            continue;
        }
        let n = t.elem_count() as f64;
        total += if name.contains(".experts.") {
            n * share
        } else {
            n
        };
    }
    Ok(total)
}

/// Deterministic token ids in `[3, vocab)`.
fn tokens(n: usize, vocab: usize, seed: u64) -> Vec<u32> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            3 + ((x >> 33) as usize % (vocab - 3)) as u32
        })
        .collect()
}

/// Child: times the model in `dir`; prints the tokens of a batch and the fastest batch's
/// seconds on one line.
fn child(a: &Args, dir: &Path) -> Result<()> {
    let m = model::load(dir, &Device::Cpu, Some(DType::F32))?;
    let vocab = m.info().vocab_size;
    let per_batch = a.batch_tokens / a.seq;
    let seqs: Vec<Vec<u32>> = (0..per_batch)
        .map(|i| tokens(a.seq, vocab, i as u64))
        .collect();
    let run = |m: &dyn CausalLm| -> Result<()> {
        let mut caches: Vec<_> = seqs.iter().map(|_| m.new_cache()).collect();
        let mut batch: Vec<Seq<'_>> = seqs
            .iter()
            .zip(caches.iter_mut())
            .map(|(t, c)| Seq {
                tokens: t,
                n_last: 1,
                cache: c,
                keep_cache: false,
            })
            .collect();
        m.forward_batch(&mut batch)?;
        Ok(())
    };
    run(m.as_ref())?;
    let mut best = f64::INFINITY;
    for _ in 0..a.reps {
        let t0 = Instant::now();
        run(m.as_ref())?;
        best = best.min(t0.elapsed().as_secs_f64());
    }
    println!("{} {best}", per_batch * a.seq);
    Ok(())
}

fn peak_rss_mb(status: &str) -> Option<f64> {
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
}

fn main() -> Result<()> {
    let a = parse_args()?;
    if let Some(dir) = &a.child {
        child(&a, dir)?;
        if let Ok(s) = std::fs::read_to_string("/proc/self/status") {
            if let Some(mb) = peak_rss_mb(&s) {
                println!("peak {mb}");
            }
        }
        return Ok(());
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&a.dir)
        .with_context(|| {
            format!(
                "{}: no benchmark models; run scripts/make-arch-fixtures.sh --bench",
                a.dir.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("config.json").is_file())
        .collect();
    dirs.sort();
    if !dirs.iter().any(|d| d.ends_with("llama")) {
        bail!("{}: no llama model, the baseline", a.dir.display());
    }
    println!(
        "arch_bench: {} models, RAYON_NUM_THREADS={}, batches of {} tokens ({} × {}), fastest of {} timed batches each, f32",
        dirs.len(),
        a.threads,
        a.batch_tokens / a.seq * a.seq,
        a.batch_tokens / a.seq,
        a.seq,
        a.reps
    );
    let exe = std::env::current_exe()?;
    let mut rows = Vec::new();
    for d in &dirs {
        let name = d.file_name().unwrap().to_string_lossy().to_string();
        let out = Command::new(&exe)
            .env("RAYON_NUM_THREADS", a.threads.to_string())
            .args(["--child", &d.to_string_lossy()])
            .args(["--batch-tokens", &a.batch_tokens.to_string()])
            .args(["--seq", &a.seq.to_string(), "--reps", &a.reps.to_string()])
            .output()?;
        if !out.status.success() {
            bail!("{name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut lines = text.lines();
        let first: Vec<f64> = lines
            .next()
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let peak = lines
            .next()
            .and_then(|l| l.strip_prefix("peak "))
            .and_then(|x| x.parse::<f64>().ok());
        let [toks, secs] = first[..] else {
            bail!("{name}: unexpected child output {text:?}");
        };
        let params = working_params(d)?;
        rows.push((name, params, toks / secs, peak));
    }
    let base = rows
        .iter()
        .find(|r| r.0 == "llama")
        .map(|r| r.1 * r.2)
        .unwrap_or(1.0);
    println!(
        "{:<20} {:>12} {:>9} {:>14} {:>9} {:>11} {:>10}",
        "model", "work params", "tok/s", "param·tok/s", "GFLOP/s", "vs llama", "peak MB"
    );
    let mut worst = f64::INFINITY;
    for (name, params, tps, peak) in &rows {
        let pt = params * tps;
        let ratio = pt / base;
        worst = worst.min(ratio);
        println!(
            "{name:<20} {:>12.0} {:>9.0} {:>14.3e} {:>9.1} {:>10.2}x {:>10}",
            params,
            tps,
            pt,
            2.0 * pt / 1e9,
            ratio,
            peak.map_or("-".to_string(), |p| format!("{p:.0}"))
        );
    }
    println!("lowest ratio to llama: {worst:.2}");
    Ok(())
}
