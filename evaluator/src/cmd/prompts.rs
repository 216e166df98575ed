//! `evaluator prompts`: print the exact prompts and continuations of a task,
//! in evaluation order, so they can be diffed against the harness's own logs.
//!
//! Text output, per document: a header line
//! `=== <task> doc <doc_id> (position <p>) fewshot [..] sha256 <hex>`, then per
//! request `--- request <i>/<n> loglikelihood|generate`, the raw context, and
//! a line `--- continuation: <JSON string>` (or `--- until: [...] max_gen_toks: N`).
//! With `--json`, one JSON object per document per line: `{task, doc_id,
//! position, fewshot, prompt_sha256, requests: [{type, context, continuation |
//! until, max_gen_toks}]}`.

use super::TaskArgs;
use crate::requests::Request;
use crate::tasks;
use crate::tasks::spec::TaskSpec;
use anyhow::Context;
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Task id: arc_challenge, hellaswag, mmlu, truthfulqa_mc, winogrande, gsm8k (the
    /// registry's tasks, `evaluator/src/tasks/mod.rs`).
    #[arg(long, value_parser = tasks::parse_task)]
    pub task: &'static TaskSpec,
    #[command(flatten)]
    pub common: TaskArgs,
    /// One JSON object per document per line instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let src = args.common.data_source()?;
    let tr = tasks::build(args.task, src.as_ref(), &args.common.build_options())
        .with_context(|| format!("building {} prompts", args.task.id))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for d in &tr.deviations {
        if !args.json {
            writeln!(out, "# deviation: {d}")?;
        }
    }
    for (pos, d) in tr.docs.iter().enumerate() {
        if args.json {
            let line = serde_json::json!({
                "task": d.task,
                "doc_id": d.doc_id,
                "position": pos,
                "fewshot": d.fewshot,
                "prompt_sha256": d.prompt_sha256(),
                "requests": d.requests,
            });
            writeln!(out, "{line}")?;
            continue;
        }
        writeln!(
            out,
            "=== {} doc {} (position {pos}) fewshot {:?} sha256 {}",
            d.task,
            d.doc_id,
            d.fewshot,
            d.prompt_sha256()
        )?;
        let n = d.requests.len();
        for (i, r) in d.requests.iter().enumerate() {
            match r {
                Request::LogLikelihood {
                    context,
                    continuation,
                } => {
                    writeln!(out, "--- request {}/{n} loglikelihood", i + 1)?;
                    writeln!(out, "{context}")?;
                    writeln!(
                        out,
                        "--- continuation: {}",
                        serde_json::to_string(continuation)?
                    )?;
                }
                Request::Generate {
                    context,
                    until,
                    max_gen_toks,
                } => {
                    writeln!(out, "--- request {}/{n} generate", i + 1)?;
                    writeln!(out, "{context}")?;
                    writeln!(
                        out,
                        "--- until: {} max_gen_toks: {max_gen_toks}",
                        serde_json::to_string(until)?
                    )?;
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}
