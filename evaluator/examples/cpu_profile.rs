//! Where the CPU time of a real evaluation goes, against the machine's own f32 GEMM peak.
//!
//! ```text
//! cargo run --release -p evaluator --example cpu_profile -- [--threads 2]
//!     [--hellaswag 200] [--arc 100] [--model PATH] [--batch-tokens N]
//! ```
//! First the ceiling: the `gemm` crate (candle's f32 matrix product, the kernel the
//! model's linear layers run) timed at the model's own shapes, `[rows, in] · [in, out]ᵀ`
//! for every linear-layer shape with `rows` = the batch budget, fastest of 7, two ways:
//! through candle's `matmul` with the weight as files store it, and through the model's
//! own product ([`evaluator::model::gemm`]: the weight kept in the kernel's order, wide
//! outputs in column blocks); the best of all is the peak.
//!
//! Then each workload, as `evaluator run --suite lm-eval-0.4` runs it (prefix sharing,
//! packed batches, default kernels: the GGUF's weights dequantized to f32): HellaSwag, the
//! first `--hellaswag` validation documents, 0-shot; ARC-Challenge, the first `--arc`
//! test documents, 25-shot. With [`evaluator::profile`] on, printed per workload: tokens
//! forwarded, FLOPs (the products' own counts: linear layers, attention, the LM head),
//! FLOPs per token, tokens/s, GFLOP/s and the fraction of the peak, over the forward
//! and over the whole wall time; the CPU time over wall × threads (the rest: idle
//! threads); and one line per operation: calls, seconds, share of the wall time, GFLOP/s
//! where it multiplies. "outside the model forward" is everything else (tokenization,
//! scheduling, scoring, bookkeeping), its own timed parts listed above it.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use evaluator::data::LocalDir;
use evaluator::model;
use evaluator::profile;
use evaluator::schedule::{self, AnswerOptions, Backend};
use evaluator::suite::Suite;
use evaluator::tasks::{self, BuildOptions};
use evaluator::tokenizer::Tokenizer;
use leaderboard_format::schema::Benchmark;

struct Args {
    threads: usize,
    hellaswag: usize,
    arc: usize,
    model: PathBuf,
    batch_tokens: usize,
}

fn usage() -> &'static str {
    "cpu_profile [--threads N] [--hellaswag DOCS] [--arc DOCS] [--model PATH] [--batch-tokens N]\n\
     The f32 GEMM peak at the model's shapes, then a per-operation profile of HellaSwag\n\
     (0-shot) and ARC (25-shot) under suite lm-eval-0.4, with the fraction of the peak.\n\
     --model defaults to $LEADERBOARD_TEST_MODEL or ~/.cache/leaderboard/SmolLM2-135M-Instruct.Q4_1.gguf;\n\
     a count of 0 skips that workload. Set RAYON_NUM_THREADS to --threads before running\n\
     (the example re-executes itself with it when they differ)."
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        threads: 2,
        hellaswag: 200,
        arc: 100,
        model: std::env::var_os("LEADERBOARD_TEST_MODEL")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                    .join(".cache/leaderboard/SmolLM2-135M-Instruct.Q4_1.gguf")
            }),
        batch_tokens: schedule::plan::DEFAULT_BATCH_TOKENS,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .with_context(|| format!("{name} needs a value\n{}", usage()))
        };
        match arg.as_str() {
            "--threads" => a.threads = val("--threads")?.parse()?,
            "--hellaswag" => a.hellaswag = val("--hellaswag")?.parse()?,
            "--arc" => a.arc = val("--arc")?.parse()?,
            "--model" => a.model = val("--model")?.into(),
            "--batch-tokens" => a.batch_tokens = val("--batch-tokens")?.parse()?,
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{}", usage()),
        }
    }
    if !a.model.is_file() {
        bail!(
            "model {} not found: run scripts/fetch-test-model.sh (or set LEADERBOARD_TEST_MODEL)",
            a.model.display()
        );
    }
    Ok(a)
}

/// CPU seconds (user + system) of this process so far.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the command name (which may hold spaces) closed by ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the ')'.
    (ticks(11) + ticks(12)) / 100.0
}

/// Fastest of 7 `[rows, k] · [n, k]ᵀ` products, in GFLOP/s: candle's `matmul` with a
/// row-major weight, then the model's own product ([`model::gemm`]).
fn gemm_gflops(rows: usize, k: usize, n: usize) -> Result<(f64, f64)> {
    let x = Tensor::randn(0f32, 1.0, (rows, k), &Device::Cpu)?;
    let w = Tensor::randn(0f32, 1.0, (n, k), &Device::Cpu)?;
    let wg = model::gemm::for_gemm(&w)?;
    let fastest = |f: &dyn Fn() -> Result<Tensor>| -> Result<f64> {
        f()?;
        let mut best = f64::INFINITY;
        for _ in 0..7 {
            let t = Instant::now();
            f()?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        Ok(2.0 * (rows * k * n) as f64 / best / 1e9)
    };
    Ok((
        fastest(&|| Ok(x.matmul(&w.t()?)?))?,
        fastest(&|| model::gemm::linear(&x, &wg)?.context("an f32 CPU product"))?,
    ))
}

struct Workload {
    name: &'static str,
    benchmark: Benchmark,
    docs: usize,
    shots: usize,
}

fn main() -> Result<()> {
    let a = parse_args()?;
    if std::env::var("RAYON_NUM_THREADS").ok() != Some(a.threads.to_string()) {
        let status = std::process::Command::new(std::env::current_exe()?)
            .args(std::env::args().skip(1))
            .env("RAYON_NUM_THREADS", a.threads.to_string())
            .status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
    let tok = Tokenizer::for_model(&a.model)?;
    let m = model::load(&a.model, &Device::Cpu, None)?;
    let info = m.info().clone();
    println!(
        "cpu_profile: {} ({}, {}), RAYON_NUM_THREADS={}, batches of {} tokens",
        a.model.display(),
        info.architecture,
        info.precision,
        a.threads,
        a.batch_tokens
    );

    // The ceiling, at the model's linear shapes (read off a one-token profile).
    profile::take();
    profile::enable(true);
    m.forward(&[1, 2], &mut m.new_cache())?;
    profile::enable(false);
    let mut shapes: Vec<(usize, usize)> = profile::take()
        .into_iter()
        .filter_map(|(label, _)| {
            let (k, n) = label.strip_prefix("matmul ")?.split_once('x')?;
            Some((k.parse().ok()?, n.parse().ok()?))
        })
        .collect();
    shapes.sort();
    let mut peak = 0f64;
    println!(
        "\nf32 GEMM (gemm crate), fastest of 7, rows = {}: candle matmul (weight row-major) | the model's product",
        a.batch_tokens
    );
    for &(k, n) in &shapes {
        let (c, g) = gemm_gflops(a.batch_tokens, k, n)?;
        println!(
            "  [{} x {k}] · [{k} x {n}]   {c:7.1} | {g:7.1} GFLOP/s",
            a.batch_tokens
        );
        peak = peak.max(c).max(g);
    }
    println!("  peak: {peak:.1} GFLOP/s");

    let data = LocalDir::new(evaluator::cmd::default_data_dir());
    let workloads = [
        Workload {
            name: "hellaswag",
            benchmark: Benchmark::HellaSwag,
            docs: a.hellaswag,
            shots: 0,
        },
        Workload {
            name: "arc_challenge",
            benchmark: Benchmark::Arc,
            docs: a.arc,
            shots: 25,
        },
    ];
    for w in workloads.iter().filter(|w| w.docs > 0) {
        let mut opts = BuildOptions::new(Suite::LmEval04);
        opts.limit = Some(w.docs);
        opts.num_fewshot = Some(w.shots);
        let docs = tasks::build(w.benchmark, &data, &opts)?.docs;
        let be = Backend::new(m.as_ref(), &tok, Suite::LmEval04);
        profile::take();
        profile::enable(true);
        let (t, cpu0) = (Instant::now(), cpu_seconds());
        let ans = schedule::answer_task(
            &be,
            w.name,
            &docs,
            None,
            &AnswerOptions {
                batch_tokens: a.batch_tokens,
                progress: false,
                ..AnswerOptions::default()
            },
        )?;
        let wall = t.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        profile::enable(false);
        let table = profile::take();
        let tokens = ans.stats.exec.tokens_forwarded as f64;
        let flops: f64 = table.iter().map(|(_, e)| e.flops).sum();
        let forward = table
            .iter()
            .find(|(l, _)| l.starts_with("model forward"))
            .map_or(wall, |(_, e)| e.seconds);
        println!(
            "\n{} ({} docs, {}-shot): {} requests, {tokens:.0} tokens forwarded in {} batches, {wall:.1} s wall",
            w.name,
            docs.len(),
            w.shots,
            ans.stats.requests,
            ans.stats.exec.forwards
        );
        println!(
            "  {:.3} GFLOP per token; {:.0} tokens/s; forward {forward:.1} s at {:.1} GFLOP/s = {:.0}% of peak; whole run {:.1} GFLOP/s = {:.0}% of peak",
            flops / tokens / 1e9,
            tokens / wall,
            flops / forward / 1e9,
            100.0 * flops / forward / 1e9 / peak,
            flops / wall / 1e9,
            100.0 * flops / wall / 1e9 / peak,
        );
        println!(
            "  CPU time {cpu:.1} s of {:.1} s (wall × {} threads): {:.0}% busy",
            wall * a.threads as f64,
            a.threads,
            100.0 * cpu / (wall * a.threads as f64)
        );
        let mut rows: Vec<&(String, profile::Entry)> = table.iter().collect();
        // By time, each `└` (thread-time) label under the label it is part of.
        rows.sort_by(|x, y| y.1.seconds.total_cmp(&x.1.seconds));
        let (nested, mut rows): (Vec<_>, Vec<_>) =
            rows.into_iter().partition(|r| r.0.starts_with('└'));
        if let Some(i) = rows.iter().position(|r| r.0.starts_with("attention (all")) {
            rows.splice(i + 1..i + 1, nested);
        } else {
            rows.extend(nested);
        }
        println!(
            "  {:<40} {:>8} {:>9} {:>7} {:>9}",
            "operation", "calls", "seconds", "% wall", "GFLOP/s"
        );
        for (label, e) in rows {
            let g = if e.flops > 0.0 {
                format!("{:.1}", e.flops / e.seconds / 1e9)
            } else {
                String::new()
            };
            println!(
                "  {label:<40} {:>8} {:>9.2} {:>7.1} {g:>9}",
                e.calls,
                e.seconds,
                100.0 * e.seconds / wall
            );
        }
        let inner: f64 = table
            .iter()
            .filter(|(l, _)| {
                !l.starts_with("model forward")
                    && !l.starts_with("scoring")
                    && !l.starts_with("tokenization")
                    && !l.starts_with('└')
            })
            .map(|(_, e)| e.seconds)
            .sum();
        println!(
            "  {:<40} {:>8} {:>9.2} {:>7.1}",
            "(model forward, untimed parts)",
            "",
            forward - inner,
            100.0 * (forward - inner) / wall
        );
        let outer: f64 = table
            .iter()
            .filter(|(l, _)| {
                l.starts_with("model forward")
                    || l.starts_with("scoring")
                    || l.starts_with("tokenization")
            })
            .map(|(_, e)| e.seconds)
            .sum();
        println!(
            "  {:<40} {:>8} {:>9.2} {:>7.1}",
            "(outside forward, scoring, tokenization)",
            "",
            wall - outer,
            100.0 * (wall - outer) / wall
        );
    }
    Ok(())
}
