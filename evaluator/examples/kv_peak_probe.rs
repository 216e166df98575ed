//! Measures a task's peak memory where its KV cache peaks, without running the hours before it.
//!
//! ```text
//! cargo run --release -p evaluator --example kv_peak_probe -- --task hellaswag
//!     [--before 40] [--after 40] [--model PATH]
//! ```
//! Builds the task's whole prefix trie exactly as `evaluator run` does (every document of
//! the `openllm-v1` suite, HellaSwag with the validation few-shot fallback, requests
//! inserted in document order), plans it with the budget `evaluator run` would pick here,
//! and finds the batch P where the plan's live KV cache is largest
//! (`schedule::cache_peak`). It then executes the plan as a resumed run would
//! (`schedule::execute` with some requests marked answered) with only the requests that
//! complete in batch P − before or later left, and stops after batch P + after.
//!
//! Why that is the real peak: the caches alive at batch P are those of nodes run before
//! P with a child still to run; each such node has a request below it that completes
//! after P, so it is left, so the node runs and its cache is kept exactly as in the whole
//! run (a resumed run forwards each left node in its planned batch, bit-identically).
//! Batches P − before … P + after run whole. The process holds what `evaluator run`
//! holds at that point (model, the task's documents and trie, the live caches, one
//! batch's activations and logits) except the answers of the requests before, a few MB
//! at most. No score is kept: this measures memory only.
//!
//! Printed: the plan (batches, P, KV tokens and MB at P), the resident memory after the
//! trie is built (and the peak until then: tokenizing every document at once here, which
//! `evaluator run` does 256 documents at a time), and at the end the peak resident memory
//! (`VmHWM`, reset when the execution starts) of the execution.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use evaluator::data::LocalDir;
use evaluator::model;
use evaluator::requests::Request;
use evaluator::schedule::{self, plan, Done, Trie};
use evaluator::suite::Suite;
use evaluator::tasks::{self, BuildOptions, FewshotFallback};
use evaluator::tokenizer::harness::{self, Options};
use evaluator::tokenizer::Tokenizer;
use leaderboard_format::schema::Benchmark;

fn usage() -> &'static str {
    "kv_peak_probe --task TASK [--before BATCHES] [--after BATCHES] [--model PATH]\n\
     Runs the batches around TASK's KV-cache peak (openllm-v1, every document) as a resumed\n\
     run would, and prints the process's peak resident memory. TASK: a log-likelihood task\n\
     (arc_challenge, hellaswag, mmlu, truthfulqa_mc, winogrande)."
}

struct Args {
    task: Benchmark,
    before: usize,
    after: usize,
    model: PathBuf,
}

fn parse_args() -> Result<Args> {
    let mut task = None;
    let (mut before, mut after) = (40, 40);
    let mut model = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
        .join(".cache/leaderboard/SmolLM2-135M-Instruct.Q4_1.gguf");
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{a} needs a value\n{}", usage()))
        };
        match a.as_str() {
            "--task" => {
                let t = value()?;
                task = Some(
                    Benchmark::ALL
                        .into_iter()
                        .find(|b| b.task() == t)
                        .with_context(|| format!("unknown task {t:?}\n{}", usage()))?,
                );
            }
            "--before" => before = value()?.parse().context("--before: a number of batches")?,
            "--after" => after = value()?.parse().context("--after: a number of batches")?,
            "--model" => model = PathBuf::from(value()?),
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            _ => bail!("unknown argument {a:?}\n{}", usage()),
        }
    }
    let task = task.with_context(|| format!("--task is required\n{}", usage()))?;
    if task == Benchmark::Gsm8k {
        bail!("gsm8k generates (its largest KV caches come first, in its first group)");
    }
    Ok(Args {
        task,
        before,
        after,
        model,
    })
}

/// A `/proc/self/status` field in kB (0 where there is none).
fn status_kb(field: &str) -> u64 {
    evaluator::alloc::status_kb(field).unwrap_or(0)
}

fn main() -> Result<()> {
    let a = parse_args()?;
    let start = Instant::now();
    let tok = Tokenizer::for_model(&a.model)?;
    let m = model::load(&a.model, &candle_core::Device::Cpu, None)?;
    let opts = Options::for_suite(Suite::OpenLlmV1, &tok, m.info().max_length);
    let batch_tokens = plan::batch_tokens_for(
        None,
        m.activation_bytes_per_token(),
        model::available_memory(),
    );
    let mut bopts = BuildOptions::new(Suite::OpenLlmV1);
    bopts.hellaswag_fallback = Some(FewshotFallback::Validation);
    let data = LocalDir::new(evaluator::cmd::default_data_dir());
    let tr = tasks::build(a.task, &data, &bopts)?;
    let mut trie = Trie::new();
    for r in tr.docs.iter().flat_map(|d| &d.requests) {
        let Request::LogLikelihood {
            context,
            continuation,
        } = r
        else {
            bail!("{}: a generation request", a.task.task());
        };
        let ll = harness::loglikelihood_request(&tok, &opts, context, continuation)?;
        trie.insert(&ll.ctx, &ll.cont);
    }
    trie.finish();
    let plan = plan::plan(&trie, batch_tokens);
    let peak = schedule::cache_peak(&trie, batch_tokens);
    let p = peak.at_batch;
    // The batch where each request's last target is scored.
    let mut completes = vec![0usize; trie.num_requests()];
    for (b, nodes) in plan.iter().enumerate() {
        for &n in nodes {
            for t in &trie.node(n).targets {
                completes[t.request as usize] = completes[t.request as usize].max(b);
            }
        }
    }
    let from = p.saturating_sub(a.before);
    let until = p + a.after;
    let needed: Vec<bool> = completes.iter().map(|&b| b >= from).collect();
    let window_tokens: usize = plan[from..=until.min(plan.len() - 1)]
        .iter()
        .flatten()
        .map(|&n| trie.edge(n).len())
        .sum();
    eprintln!(
        "batches {}..{} hold {window_tokens} tokens",
        from + 1,
        until + 1
    );
    let kv_mb = |tokens: usize| (tokens as u64 * m.kv_bytes_per_token()) as f64 / 1048576.0;
    println!(
        "{}: {} requests, {} batches of at most {batch_tokens} tokens; KV peak at batch {} \
         ({} positions, {:.0} MB; with room {:.0} MB)",
        a.task.task(),
        trie.num_requests(),
        plan.len(),
        p + 1,
        peak.tokens,
        kv_mb(peak.tokens),
        kv_mb(peak.tokens + peak.room)
    );
    println!(
        "resident after the trie: {} MB (peak so far {} MB), {:.0} s; running batches {}..{} \
         with {} requests left",
        status_kb("VmRSS:") / 1024,
        status_kb("VmHWM:") / 1024,
        start.elapsed().as_secs_f64(),
        from + 1,
        until + 1,
        needed.iter().filter(|&&n| n).count()
    );
    drop(plan);
    // From here on VmHWM is the execution's peak (writing 5 resets it to the current RSS).
    std::fs::write("/proc/self/clear_refs", "5").context("resetting VmHWM")?;
    let t = Instant::now();
    let mut last = 0u64;
    let mut reported = 0usize;
    let mut stopped = false;
    let r = schedule::execute(
        m.as_ref(),
        &trie,
        Some(&needed),
        batch_tokens,
        &mut |d: Done| {
            last = d.tokens_forwarded;
            reported += 1;
            if completes[d.request as usize] > until {
                stopped = true;
                eprintln!(
                    "stopping at request {} (completes in batch {}) after {reported} reported",
                    d.request,
                    completes[d.request as usize] + 1
                );
                bail!("past batch {}", until + 1);
            }
            Ok(())
        },
    );
    match r {
        Err(_) if stopped => {}
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    println!(
        "forwarded {last} tokens in {:.0} s; peak resident memory (VmHWM) {} kB = {} MB",
        t.elapsed().as_secs_f64(),
        status_kb("VmHWM:"),
        status_kb("VmHWM:") / 1024
    );
    Ok(())
}
