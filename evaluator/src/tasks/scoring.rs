//! From a backend's [`Response`]s back to metric values: per document by its
//! [`Scoring`] kind, the metric names and headline from the task's
//! [`TaskSpec`], then the means per task and metric ([`Score`]s) and the
//! per-document [`SampleDetail`]s.

use super::spec::TaskSpec;
use super::{TaskError, TaskRequests, TaskResults};
use crate::metrics;
use crate::requests::{DocRequests, Response, SampleDetail, Scoring};
use crate::suite::Suite;
use leaderboard_format::schema::Score;

/// Metric values of one document from its responses, in the spec's metric
/// order, with the prediction, the gold and whether it counts as correct.
struct DocScore {
    metrics: Vec<(&'static str, f64)>,
    prediction: String,
    gold: String,
    correct: bool,
    loglikelihoods: Vec<f64>,
    generated: Option<String>,
}

fn doc_error(d: &DocRequests, message: impl Into<String>) -> TaskError {
    TaskError::Responses {
        task: d.task.clone(),
        doc_id: d.doc_id,
        message: message.into(),
    }
}

fn loglikelihoods(d: &DocRequests, resp: &[Response]) -> Result<Vec<f64>, TaskError> {
    resp.iter()
        .map(|r| match r {
            Response::LogLikelihood { logprob, .. } => Ok(*logprob),
            Response::Generate { .. } => Err(doc_error(
                d,
                "expected a log-likelihood response, got a generation",
            )),
        })
        .collect()
}

/// Every metric the document's scoring kind computes (the spec picks from
/// them), and the rest of its [`DocScore`].
fn score_doc(
    spec: &TaskSpec,
    suite: Suite,
    d: &DocRequests,
    resp: &[Response],
) -> Result<DocScore, TaskError> {
    if resp.len() != d.requests.len() {
        return Err(doc_error(
            d,
            format!("{} requests but {} responses", d.requests.len(), resp.len()),
        ));
    }
    let mut ds = match &d.scoring {
        Scoring::MultipleChoice { gold, choice_lens } => {
            let lls = loglikelihoods(d, resp)?;
            let acc = metrics::acc(&lls, *gold);
            let pred_norm = metrics::acc_norm_pred(&lls, choice_lens);
            let acc_norm = if pred_norm == *gold { 1.0 } else { 0.0 };
            let (prediction, correct) = if (spec.headline)(suite) == "acc_norm" {
                (pred_norm, acc_norm == 1.0)
            } else {
                (metrics::argmax(&lls), acc == 1.0)
            };
            DocScore {
                metrics: vec![("acc", acc), ("acc_norm", acc_norm)],
                prediction: prediction.to_string(),
                gold: gold.to_string(),
                correct,
                loglikelihoods: lls,
                generated: None,
            }
        }
        Scoring::Partial { gold } => {
            let lls = loglikelihoods(d, resp)?;
            let acc = metrics::acc(&lls, *gold);
            DocScore {
                metrics: vec![("acc", acc)],
                prediction: metrics::argmax(&lls).to_string(),
                gold: gold.to_string(),
                correct: acc == 1.0,
                loglikelihoods: lls,
                generated: None,
            }
        }
        Scoring::TruthfulQa {
            mc1_count,
            mc2_labels,
        } => {
            let lls = loglikelihoods(d, resp)?;
            if lls.len() != mc1_count + mc2_labels.len() {
                return Err(doc_error(
                    d,
                    "response count does not match the mc1/mc2 choices",
                ));
            }
            let (l1, l2) = lls.split_at(*mc1_count);
            let mc2 = match suite {
                Suite::OpenLlmV1 => metrics::mc2_old(l2, mc2_labels),
                Suite::LmEval04 => metrics::mc2_new(l2, mc2_labels),
            };
            let mut m = Vec::new();
            let (prediction, correct) = if *mc1_count > 0 {
                let mc1 = metrics::mc1(l1);
                m.push(("mc1", mc1));
                (metrics::argmax(l1).to_string(), mc1 == 1.0)
            } else {
                (metrics::argmax(l2).to_string(), mc2 > 0.5)
            };
            m.push(("mc2", mc2));
            DocScore {
                metrics: m,
                prediction,
                gold: "0".to_string(),
                correct,
                loglikelihoods: lls,
                generated: None,
            }
        }
        Scoring::Gsm8k { answer } => {
            let text = match &resp[0] {
                Response::Generate { text } => text.clone(),
                Response::LogLikelihood { .. } => {
                    return Err(doc_error(
                        d,
                        "expected a generation response, got a log-likelihood",
                    ))
                }
            };
            match suite {
                Suite::OpenLlmV1 => {
                    let acc = metrics::gsm8k_old_acc(&text, answer);
                    DocScore {
                        metrics: vec![("acc", acc)],
                        prediction: metrics::gsm8k_old_extract(&text),
                        gold: metrics::gsm8k_old_extract(answer),
                        correct: acc == 1.0,
                        loglikelihoods: Vec::new(),
                        generated: Some(text),
                    }
                }
                Suite::LmEval04 => {
                    let strict = metrics::gsm8k_strict(&text);
                    let flex = metrics::gsm8k_flexible(&text);
                    let s = metrics::gsm8k_exact_match(&strict, answer);
                    let f = metrics::gsm8k_exact_match(&flex, answer);
                    DocScore {
                        metrics: vec![("exact_match_strict", s), ("exact_match_flexible", f)],
                        prediction: strict,
                        gold: metrics::gsm8k_normalize(answer),
                        correct: s == 1.0,
                        loglikelihoods: Vec::new(),
                        generated: Some(text),
                    }
                }
            }
        }
    };
    ds.metrics = (spec.metrics)(suite)
        .iter()
        .map(|name| {
            ds.metrics
                .iter()
                .find(|(m, _)| m == name)
                .copied()
                .ok_or_else(|| doc_error(d, format!("its scoring does not compute `{name}`")))
        })
        .collect::<Result<_, _>>()?;
    Ok(ds)
}

/// Turn the responses (one `Vec<Response>` per doc, in `tr.docs` order) into
/// scores (per task and metric, then the spec's aggregate: MMLU's per-subject
/// scores and their macro mean `mmlu`) and per-document details.
pub fn score(tr: &TaskRequests, responses: &[Vec<Response>]) -> Result<TaskResults, TaskError> {
    let spec = tr.task;
    if responses.len() != tr.docs.len() {
        return Err(TaskError::Config {
            task: spec.id.to_string(),
            message: format!(
                "{} documents but {} response lists",
                tr.docs.len(),
                responses.len()
            ),
        });
    }
    let mut details = Vec::with_capacity(tr.docs.len());
    for (d, resp) in tr.docs.iter().zip(responses) {
        let ds = score_doc(spec, tr.suite, d, resp)?;
        details.push(SampleDetail {
            task: d.task.clone(),
            doc_id: d.doc_id,
            prompt_sha256: d.prompt_sha256(),
            loglikelihoods: ds.loglikelihoods,
            prediction: ds.prediction,
            gold: ds.gold,
            correct: ds.correct,
            generated: ds.generated,
            metrics: ds
                .metrics
                .iter()
                .map(|(m, v)| (m.to_string(), *v))
                .collect(),
        });
    }
    let scores = aggregate(spec, tr.num_fewshot, &details);
    Ok(TaskResults { scores, details })
}

/// The scores of one task from its documents' details in evaluation order: the mean of
/// each (task, metric)'s values (added in that order, as the harness adds them), in
/// first-seen order, then the spec's aggregate (MMLU's macro mean `mmlu`). What
/// `evaluator run` reports and what `evaluator merge` recomputes from shards.
pub fn aggregate(spec: &TaskSpec, num_fewshot: usize, details: &[SampleDetail]) -> Vec<Score> {
    if details.is_empty() {
        return Vec::new();
    }
    // (task, metric) -> values in evaluation order; keep first-seen order.
    let mut groups: Vec<(&str, &str, Vec<f64>)> = Vec::new();
    for d in details {
        for (m, v) in &d.metrics {
            match groups.iter_mut().find(|g| g.0 == d.task && g.1 == m) {
                Some(g) => g.2.push(*v),
                None => groups.push((&d.task, m, vec![*v])),
            }
        }
    }
    let mut scores: Vec<Score> = groups
        .iter()
        .map(|(t, m, v)| metrics::score(t, m, v, num_fewshot))
        .collect();
    if let Some(aggregate) = spec.aggregate {
        scores.push(aggregate(&scores, num_fewshot));
    }
    scores
}
