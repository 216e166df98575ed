//! GSM8K, 5-shot, greedy generation (spec §8).
//!
//! Records (`gsm8k/{train,test}`, `openai/grade-school-math` = HF `gsm8k/main`):
//! `{"question", "answer"}`, the answer ending in `#### <number>`.
//! Eval split `test`, few-shot pool `train` (random).
//! `TEXT = "Question: " + question + "\nAnswer:"`, target = the full answer.
//! One generation request per doc with the suite's stop strings, ≤ 256 tokens.

use super::{assemble, load, plan_random, BuildOptions, TaskError, TaskRequests, TARGET_DELIM};
use crate::data::DataSource;
use crate::requests::{DocRequests, Request, Scoring};
use leaderboard_format::schema::Benchmark;
use serde::Deserialize;

pub const TASK: &str = "gsm8k";

#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    pub question: String,
    pub answer: String,
}

/// `"Question: " + question + "\nAnswer:"`.
pub fn text(question: &str) -> String {
    format!("Question: {question}\nAnswer:")
}

pub fn build(src: &dyn DataSource, opts: &BuildOptions) -> Result<TaskRequests, TaskError> {
    let k = opts
        .num_fewshot
        .unwrap_or(Benchmark::Gsm8k.num_fewshot() as usize);
    let (_, eval) = load::<Record>(src, TASK, "test", "")?;
    let pool = if k > 0 {
        load::<Record>(src, TASK, "train", "")?.1
    } else {
        Vec::new()
    };
    let plan = plan_random(
        opts.suite,
        eval.len(),
        opts.limit,
        pool.len(),
        k,
        k,
        |_, _| false,
    );
    let docs = plan
        .into_iter()
        .map(|(i, few)| {
            let d = &eval[i];
            let examples: Vec<String> = few
                .iter()
                .map(|&p| {
                    format!(
                        "{}{TARGET_DELIM}{}",
                        text(&pool[p].question),
                        pool[p].answer
                    )
                })
                .collect();
            let prompt = assemble("", &examples, &text(&d.question));
            DocRequests {
                task: TASK.to_string(),
                doc_id: i,
                fewshot: few,
                requests: vec![Request::Generate {
                    context: prompt.into(),
                    until: opts.suite.gsm8k_until(),
                    max_gen_toks: opts.suite.gsm8k_max_gen_toks(),
                }],
                scoring: Scoring::Gsm8k {
                    answer: d.answer.clone(),
                },
            }
        })
        .collect();
    Ok(TaskRequests {
        benchmark: Benchmark::Gsm8k,
        suite: opts.suite,
        num_fewshot: k,
        docs,
        deviations: Vec::new(),
    })
}
