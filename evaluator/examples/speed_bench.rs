//! Shared-prefix scheduling benchmark: shared vs unshared on the real SmolLM2 GGUF, plus the whole-suite token ratio.
//!
//! ```text
//! cargo run --release -p evaluator --example speed_bench -- [--threads 2] [--hellaswag 200]
//!     [--mmlu-subjects 2] [--mmlu-questions N] [--winogrande 200] [--skip-suite-count]
//!     [--suite-tasks arc_challenge,…] [--model PATH]
//! ```
//! For each workload (HellaSwag docs, whole MMLU subjects, Winogrande docs; suite
//! `openllm-v1`, HellaSwag with the validation few-shot fallback since the train split is
//! not shipped) it runs the shared-prefix scheduler and the unshared path (every request
//! forwarded on its own, the harness's way) **each in its own child process** with
//! `RAYON_NUM_THREADS=threads`, so each mode's peak resident memory (`VmHWM` from
//! `/proc/self/status`) is its own. Printed per workload and mode: requests, tokens
//! forwarded, wall time, tokens/s, peak memory; then the ratios and the largest absolute
//! difference between the two modes' per-request log-likelihoods.
//!
//! Last, without running the model, the forwarded-token ratio over the whole six-task
//! suite: every request tokenized (spec §3), trie tokens vs the sum of request input
//! lengths; GSM8K's generation prompts count once per document in both columns. With it,
//! per task, the most KV cache the run will hold at once (`schedule::answer::kv_peak`,
//! from the plan alone) and where in the plan that peak comes.
//! Wall time includes tokenization in both modes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use evaluator::data::LocalDir;
use evaluator::model;
use evaluator::requests::{DocRequests, Request, Response};
use evaluator::schedule::{self, AnswerOptions, Backend, Trie};
use evaluator::suite::Suite;
use evaluator::tasks::{self, BuildOptions, FewshotFallback};
use evaluator::tokenizer::harness::{self, Options};
use evaluator::tokenizer::Tokenizer;
use leaderboard_format::schema::Benchmark;

const SUITE: Suite = Suite::OpenLlmV1;

struct Args {
    threads: usize,
    hellaswag: usize,
    mmlu_subjects: usize,
    /// Questions per MMLU subject (None: all).
    mmlu_questions: Option<usize>,
    winogrande: usize,
    suite_count: bool,
    /// Tasks of the whole-suite count (None: all six).
    suite_tasks: Option<Vec<String>>,
    model: PathBuf,
    /// Child mode: `<workload> <shared|unshared> <logprobs out file>`.
    child: Option<(String, String, PathBuf)>,
}

fn usage() -> &'static str {
    "speed_bench [--threads N] [--hellaswag DOCS] [--mmlu-subjects N] [--mmlu-questions N] [--winogrande DOCS] \
     [--skip-suite-count] [--suite-tasks LIST] [--model PATH]\n\
     Shared-prefix vs unshared evaluation on the SmolLM2 GGUF (each mode in a child process),\n\
     then the forwarded-token ratio over the whole openllm-v1 suite (counted, not run).\n\
     --model defaults to $LEADERBOARD_TEST_MODEL or ~/.cache/leaderboard/SmolLM2-135M-Instruct.Q4_1.gguf;\n\
     a count of 0 skips that workload; --suite-tasks counts only those tasks (comma-separated ids)."
}

fn parse_args() -> Result<Args> {
    let default_model = std::env::var_os("LEADERBOARD_TEST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                .join(".cache/leaderboard/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    let mut a = Args {
        threads: 2,
        hellaswag: 200,
        mmlu_subjects: 2,
        mmlu_questions: None,
        winogrande: 200,
        suite_count: true,
        suite_tasks: None,
        model: default_model,
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
            "--hellaswag" => a.hellaswag = val("--hellaswag")?.parse()?,
            "--mmlu-subjects" => a.mmlu_subjects = val("--mmlu-subjects")?.parse()?,
            "--winogrande" => a.winogrande = val("--winogrande")?.parse()?,
            "--mmlu-questions" => a.mmlu_questions = Some(val("--mmlu-questions")?.parse()?),
            "--skip-suite-count" => a.suite_count = false,
            "--suite-tasks" => {
                a.suite_tasks = Some(
                    val("--suite-tasks")?
                        .split(',')
                        .map(|t| t.trim().to_string())
                        .collect(),
                )
            }
            "--model" => a.model = val("--model")?.into(),
            "--child" => {
                let w = val("--child")?;
                let m = val("--child")?;
                let f = val("--child")?;
                a.child = Some((w, m, f.into()));
            }
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{}", usage()),
        }
    }
    if !a.model.is_file() {
        bail!(
            "test model {} not found: run scripts/fetch-test-model.sh (or set LEADERBOARD_TEST_MODEL)",
            a.model.display()
        );
    }
    Ok(a)
}

fn data() -> LocalDir {
    LocalDir::new(evaluator::cmd::default_data_dir())
}

/// The documents of a workload `hellaswag:N`, `mmlu:S` (first S subjects, all their test
/// questions), `mmlu:SxQ` (first Q questions of each) or `winogrande:N`.
fn workload_docs(name: &str) -> Result<Vec<DocRequests>> {
    let (task, n) = name.split_once(':').context("workload is task:N")?;
    let n: usize = n.split('x').next().unwrap_or("").parse()?;
    let mut opts = BuildOptions::new(SUITE);
    match task {
        "hellaswag" => {
            opts.limit = Some(n);
            opts.hellaswag_fallback = Some(FewshotFallback::Validation);
            Ok(tasks::build(Benchmark::HellaSwag, &data(), &opts)?.docs)
        }
        "winogrande" => {
            opts.limit = Some(n);
            Ok(tasks::build(Benchmark::Winogrande, &data(), &opts)?.docs)
        }
        "mmlu" => {
            let (n, q) = match name.split_once(':').unwrap().1.split_once('x') {
                Some((s, q)) => (s.parse()?, Some(q.parse()?)),
                None => (n, None),
            };
            opts.limit = q;
            let docs = tasks::build(Benchmark::Mmlu, &data(), &opts)?.docs;
            let mut subjects: Vec<String> = Vec::new();
            for d in &docs {
                if !subjects.contains(&d.task) {
                    subjects.push(d.task.clone());
                }
            }
            subjects.truncate(n);
            Ok(docs
                .into_iter()
                .filter(|d| subjects.contains(&d.task))
                .collect())
        }
        _ => bail!("unknown workload {name}"),
    }
}

fn vm_hwm_kb() -> u64 {
    evaluator::alloc::status_kb("VmHWM:").unwrap_or(0)
}

/// Child: run one workload in one mode, print one JSON line, write logprobs (f64 bits, hex).
fn child(a: &Args, workload: &str, mode: &str, out: &Path) -> Result<()> {
    let shared = match mode {
        "shared" => true,
        "unshared" => false,
        _ => bail!("mode is shared or unshared"),
    };
    let docs = workload_docs(workload)?;
    let tok = Tokenizer::for_model(&a.model)?;
    let m = model::load(&a.model, &candle_core::Device::Cpu, None)?;
    let be = Backend::new(m.as_ref(), &tok, SUITE);
    let t = Instant::now();
    let ans = schedule::answer_task(
        &be,
        workload,
        &docs,
        None,
        &AnswerOptions {
            shared,
            progress: true,
            ..AnswerOptions::default()
        },
    )?;
    let secs = t.elapsed().as_secs_f64();
    let mut lines = String::new();
    for r in ans.responses.iter().flatten() {
        if let Response::LogLikelihood { logprob, .. } = r {
            lines.push_str(&format!("{:016x}\n", logprob.to_bits()));
        }
    }
    std::fs::write(out, lines)?;
    let s = ans.stats;
    println!(
        "{}",
        serde_json::json!({
            "workload": workload, "mode": mode, "docs": docs.len(), "requests": s.requests,
            "tokens_forwarded": s.exec.tokens_forwarded, "forwards": s.exec.forwards,
            "seconds": secs, "vmhwm_kb": vm_hwm_kb(),
        })
    );
    Ok(())
}

fn run_child(a: &Args, workload: &str, mode: &str, out: &Path) -> Result<serde_json::Value> {
    let exe = std::env::current_exe()?;
    let o = Command::new(exe)
        .args([
            "--model",
            a.model.to_str().context("model path is not UTF-8")?,
        ])
        .args([
            "--child",
            workload,
            mode,
            out.to_str().context("temp path is not UTF-8")?,
        ])
        .env("RAYON_NUM_THREADS", a.threads.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !o.status.success() {
        bail!("{workload} {mode}: child failed ({})", o.status);
    }
    let text = String::from_utf8(o.stdout)?;
    let line = text.lines().last().context("child printed nothing")?;
    Ok(serde_json::from_str(line)?)
}

fn read_bits(p: &Path) -> Result<Vec<f64>> {
    std::fs::read_to_string(p)?
        .lines()
        .map(|l| Ok(f64::from_bits(u64::from_str_radix(l, 16)?)))
        .collect()
}

/// One tokenized request of the whole-suite count.
enum Tokens {
    Ll(Vec<u32>, Vec<u32>),
    /// A generation prompt's length and token budget.
    Gen(usize, usize),
}

/// Whole-suite counts: (shared trie tokens + GSM8K prompts, unshared tokens + GSM8K prompts).
fn suite_counts(a: &Args) -> Result<()> {
    let t = Instant::now();
    let tok = Tokenizer::for_model(&a.model)?;
    let m = model::load(&a.model, &candle_core::Device::Cpu, None)?;
    let opts = Options::for_suite(SUITE, &tok, m.info().max_length);
    let kv_bytes = m.kv_bytes_per_token();
    // The budget `evaluator run` picks here (free memory permitting, the default).
    let batch_tokens = schedule::plan::batch_tokens_for(
        None,
        m.activation_bytes_per_token(),
        model::available_memory(),
    );
    drop(m);
    let mut bopts = BuildOptions::new(SUITE);
    bopts.hellaswag_fallback = Some(FewshotFallback::Validation);
    println!("\nwhole openllm-v1 suite (all documents, counted without running the model):");
    println!(
        "{:<14} {:>9} {:>14} {:>14} {:>7} {:>10} {:>8}  KV peak at",
        "task", "requests", "unshared tok", "shared tok", "ratio", "KV tokens", "KV MB"
    );
    let (mut tot_u, mut tot_s) = (0u64, 0u64);
    let mut kv_max: (u64, &str) = (0, "");
    for b in Benchmark::ALL {
        if a.suite_tasks
            .as_ref()
            .is_some_and(|t| !t.iter().any(|x| x == b.task()))
        {
            continue;
        }
        let tr = tasks::build(b, &data(), &bopts)?;
        // Tokenize in parallel (one chunk of documents per core), insert in order.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = tr.docs.len().div_ceil(threads).max(1);
        let parts: Vec<Result<Vec<Tokens>>> = std::thread::scope(|sc| {
            let handles: Vec<_> = tr
                .docs
                .chunks(chunk)
                .map(|docs| {
                    let (tok, opts) = (&tok, &opts);
                    sc.spawn(move || -> Result<Vec<Tokens>> {
                        let mut out = Vec::new();
                        for r in docs.iter().flat_map(|d| &d.requests) {
                            out.push(match r {
                                Request::LogLikelihood {
                                    context,
                                    continuation,
                                } => {
                                    let ll = harness::loglikelihood_request(
                                        tok,
                                        opts,
                                        context,
                                        continuation,
                                    )?;
                                    Tokens::Ll(ll.ctx, ll.cont)
                                }
                                Request::Generate {
                                    context,
                                    max_gen_toks,
                                    ..
                                } => Tokens::Gen(
                                    harness::generation_context(tok, opts, context, *max_gen_toks)?
                                        .len(),
                                    *max_gen_toks,
                                ),
                            });
                        }
                        Ok(out)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("tokenizer thread panicked"))
                .collect()
        });
        let mut trie = Trie::new();
        let mut gen_tokens = 0u64;
        let mut gen_lens: Vec<(usize, usize)> = Vec::new();
        let mut n = 0usize;
        for part in parts {
            for t in part? {
                n += 1;
                match t {
                    Tokens::Ll(ctx, cont) => {
                        trie.insert(&ctx, &cont);
                    }
                    Tokens::Gen(len, budget) => {
                        gen_tokens += len as u64;
                        gen_lens.push((len, budget));
                    }
                }
            }
        }
        trie.finish();
        let c = trie.counts();
        // KV cache at its largest (`answer_task`'s plan: generation longest prompts first).
        gen_lens.sort_by_key(|&(l, _)| std::cmp::Reverse(l));
        let kv = schedule::answer::kv_peak(&trie, batch_tokens, &gen_lens);
        let kv_total = kv.bytes(kv_bytes);
        let cp = schedule::cache_peak(&trie, batch_tokens);
        let at = if gen_lens.is_empty() {
            format!("batch {}/{}", cp.at_batch + 1, cp.batches)
        } else {
            "generation".to_string()
        };
        if kv_total > kv_max.0 {
            kv_max = (kv_total, b.task());
        }
        let (u, s) = (c.unshared_tokens + gen_tokens, c.shared_tokens + gen_tokens);
        tot_u += u;
        tot_s += s;
        println!(
            "{:<14} {:>9} {:>14} {:>14} {:>6.2}x {:>10} {:>8.0}  {at}",
            b.task(),
            n,
            u,
            s,
            u as f64 / s.max(1) as f64,
            kv.tokens,
            kv_total as f64 / 1048576.0
        );
    }
    println!(
        "{:<14} {:>9} {:>14} {:>14} {:>6.2}x",
        "all",
        "",
        tot_u,
        tot_s,
        tot_u as f64 / tot_s.max(1) as f64
    );
    println!(
        "KV cache at most {:.0} MB ({}), batch budget {batch_tokens} tokens, {kv_bytes} bytes per \
         cached token, room included (each kept cache: its longest child edge, at most {})",
        kv_max.0 as f64 / 1048576.0,
        kv_max.1,
        evaluator::model::kv_cache::GROWTH
    );
    println!(
        "(counted in {:.1}s; peak memory of this process {:.0} MB)",
        t.elapsed().as_secs_f64(),
        vm_hwm_kb() as f64 / 1024.0
    );
    Ok(())
}

fn main() -> Result<()> {
    let a = parse_args()?;
    if let Some((w, m, f)) = &a.child {
        return child(&a, w, m, f);
    }
    println!(
        "speed_bench: {} with RAYON_NUM_THREADS={} (each mode in its own process)",
        a.model.display(),
        a.threads
    );
    let tmp = std::env::temp_dir().join(format!("speed_bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let mut workloads = Vec::new();
    if a.hellaswag > 0 {
        workloads.push(format!("hellaswag:{}", a.hellaswag));
    }
    if a.mmlu_subjects > 0 {
        workloads.push(match a.mmlu_questions {
            Some(q) => format!("mmlu:{}x{q}", a.mmlu_subjects),
            None => format!("mmlu:{}", a.mmlu_subjects),
        });
    }
    if a.winogrande > 0 {
        workloads.push(format!("winogrande:{}", a.winogrande));
    }
    // Each workload's rows are printed as soon as both of its modes are done.
    if !workloads.is_empty() {
        println!(
            "\n{:<16} {:<9} {:>6} {:>9} {:>12} {:>9} {:>9} {:>9}",
            "workload", "mode", "docs", "requests", "tokens fwd", "wall s", "tok/s", "peak MB"
        );
    }
    let mut ratios = Vec::new();
    for w in &workloads {
        let fs = tmp.join(format!("{}-shared", w.replace(':', "_")));
        let fu = tmp.join(format!("{}-unshared", w.replace(':', "_")));
        let s = run_child(&a, w, "shared", &fs)?;
        let u = run_child(&a, w, "unshared", &fu)?;
        let (ls, lu) = (read_bits(&fs)?, read_bits(&fu)?);
        if ls.len() != lu.len() {
            bail!("{w}: {} vs {} log-likelihoods", ls.len(), lu.len());
        }
        let max_diff = ls
            .iter()
            .zip(&lu)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f64, f64::max);
        for (mode, v) in [("shared", &s), ("unshared", &u)] {
            let tokens = v["tokens_forwarded"].as_u64().unwrap_or(0);
            let secs = v["seconds"].as_f64().unwrap_or(0.0);
            println!(
                "{:<16} {:<9} {:>6} {:>9} {:>12} {:>9.1} {:>9.0} {:>9.0}",
                w,
                mode,
                v["docs"],
                v["requests"],
                tokens,
                secs,
                tokens as f64 / secs.max(1e-9),
                v["vmhwm_kb"].as_f64().unwrap_or(0.0) / 1024.0
            );
        }
        let ts = s["tokens_forwarded"].as_f64().unwrap_or(0.0);
        let tu = u["tokens_forwarded"].as_f64().unwrap_or(0.0);
        let ws = s["seconds"].as_f64().unwrap_or(0.0);
        let wu = u["seconds"].as_f64().unwrap_or(0.0);
        ratios.push(format!(
            "{w:<16} unshared/shared: tokens {:.2}x, wall time {:.2}x; max |loglik shared - unshared| = {max_diff:.3e}",
            tu / ts.max(1.0),
            wu / ws.max(1e-9)
        ));
    }
    let _ = std::fs::remove_dir_all(&tmp);
    if !ratios.is_empty() {
        println!("\n{}", ratios.join("\n"));
    }
    if a.suite_count {
        suite_counts(&a)?;
    }
    Ok(())
}
