//! Metrics exactly as the harness computes them (spec §4, §8.3), and their
//! aggregation to [`Score`]s.
//!
//! * `acc` / `acc_norm`: numpy `argmax` (ties to the lowest index); acc_norm
//!   divides by the choice's length in code points (float64).
//! * `mc1`, `mc2`: TruthfulQA; mc2 in OLD's split-at-first-0 form and NEW's
//!   mask form, both with plain `exp` (no max-shift).
//! * GSM8K: OLD `acc` (first `#### ` match, strip, commas removed, string
//!   equality) and NEW `exact_match` under `strict-match` / `flexible-extract`
//!   (normalisation `,` `\$` `(?s).*#### ` `\.$` then lowercase, with Python
//!   `re`'s `$`: end of string or before a final `\n`).
//! * Aggregation: the mean is Python's sequential `sum(values)/len(values)` in
//!   evaluation order; its standard error is the harness's `mean_stderr`:
//!   `sample_stddev / sqrt(n)`, with `sample_stddev` using `n - 1` (None when
//!   n < 2, where the harness divides by zero or reports NaN).
//! * MMLU: each subject is a task `mmlu_<subject>`; the task `mmlu` is the
//!   unweighted (macro) mean of the subjects' `acc` (the v1 leaderboard's
//!   number, not NEW's size-weighted group mean), summed in subject order. Its
//!   stderr is that of a mean of independent estimates,
//!   `sqrt(Σ stderr_i²) / n_subjects`; its `n_samples` is the total number of
//!   documents. (The harness reports no stderr for this macro mean.)

use leaderboard_format::schema::Score;
use regex::Regex;
use std::sync::OnceLock;

/// numpy `argmax`: index of the first maximum; a NaN counts as the maximum.
pub fn argmax(xs: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in xs.iter().enumerate() {
        if x.is_nan() {
            return i;
        }
        if x > xs[best] {
            best = i;
        }
    }
    best
}

fn bool_value(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// `acc`: 1.0 when the highest log-likelihood is the gold choice.
pub fn acc(lls: &[f64], gold: usize) -> f64 {
    bool_value(argmax(lls) == gold)
}

/// Index chosen by `acc_norm`: `argmax(ll[i] / len_i)`.
pub fn acc_norm_pred(lls: &[f64], choice_lens: &[usize]) -> usize {
    let normed: Vec<f64> = lls
        .iter()
        .zip(choice_lens)
        .map(|(ll, &n)| ll / n as f64)
        .collect();
    argmax(&normed)
}

/// `acc_norm`: like `acc` on `ll[i] / len(choice_i)` (code points, no leading space).
pub fn acc_norm(lls: &[f64], choice_lens: &[usize], gold: usize) -> f64 {
    bool_value(acc_norm_pred(lls, choice_lens) == gold)
}

/// `mc1`: the first choice (always the gold one) has the highest log-likelihood.
pub fn mc1(lls: &[f64]) -> f64 {
    bool_value(argmax(lls) == 0)
}

/// OLD `mc2`: `split` = index of the first 0 label; `sum(p_true / (sum(p_true) + sum(p_false)))`
/// with Python's sequential sums.
pub fn mc2_old(lls: &[f64], labels: &[u8]) -> f64 {
    let split = labels.iter().position(|&l| l == 0).unwrap_or(labels.len());
    let probs: Vec<f64> = lls.iter().map(|l| l.exp()).collect();
    let (t, f) = probs.split_at(split);
    let denom = py_sum(t) + py_sum(f);
    let mut s = 0.0;
    for p in t {
        s += p / denom;
    }
    s
}

/// NEW (mc2 v3) `mc2`: `probs / np.sum(probs)`, then `np.sum` of the entries with label 1.
pub fn mc2_new(lls: &[f64], labels: &[u8]) -> f64 {
    let probs: Vec<f64> = lls.iter().map(|l| l.exp()).collect();
    let total = np_sum(&probs);
    let normed: Vec<f64> = probs
        .iter()
        .zip(labels)
        .filter(|(_, &l)| l == 1)
        .map(|(p, _)| p / total)
        .collect();
    np_sum(&normed)
}

/// Python's built-in `sum` over floats (sequential, Python ≤ 3.11).
pub fn py_sum(xs: &[f64]) -> f64 {
    xs.iter().fold(0.0, |a, b| a + b)
}

/// numpy's `np.sum` over a 1-D float64 array: the add-reduction starts from
/// the first element and adds numpy's `pairwise_sum` of the rest
/// (sequential below 8 elements, 8-lane blocks up to 128, then halves).
pub fn np_sum(xs: &[f64]) -> f64 {
    match xs {
        [] => 0.0,
        [x] => *x,
        [first, rest @ ..] => first + pairwise(rest),
    }
}

// numpy's pairwise_sum (PW_BLOCKSIZE 128, 8-way unrolled).
fn pairwise(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        return a.iter().fold(0.0_f64, |s, x| s + x);
    }
    if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for (k, rk) in r.iter_mut().enumerate() {
                *rk += a[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        return res;
    }
    let mut n2 = n / 2;
    n2 -= n2 % 8;
    pairwise(&a[..n2]) + pairwise(&a[n2..])
}

// ---------------------------------------------------------------- GSM8K

/// Answer when no number can be extracted.
pub const INVALID: &str = "[invalid]";

fn re(cell: &'static OnceLock<Regex>, pat: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pat).expect("valid regex"))
}

fn ans_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"#### (\-?[0-9\.\,]+)")
}

/// OLD `extract_answer`: first `#### N` match, stripped, commas removed.
pub fn gsm8k_old_extract(s: &str) -> String {
    match ans_re().captures(s) {
        Some(c) => crate::pystr::strip(&c[1]).replace(',', ""),
        None => INVALID.to_string(),
    }
}

/// OLD `acc`: the extracted answers are equal as strings.
pub fn gsm8k_old_acc(completion: &str, answer: &str) -> f64 {
    bool_value(gsm8k_old_extract(completion) == gsm8k_old_extract(answer))
}

/// NEW `strict-match` filter: first `#### N` match (group 1), stripped.
pub fn gsm8k_strict(s: &str) -> String {
    match ans_re().captures(s) {
        Some(c) => crate::pystr::strip(&c[1]).to_string(),
        None => INVALID.to_string(),
    }
}

/// NEW `flexible-extract` filter: the last match of
/// `(-?[$0-9.,]{2,})|(-?[0-9]+)`, its first non-empty group, stripped.
pub fn gsm8k_flexible(s: &str) -> String {
    static R: OnceLock<Regex> = OnceLock::new();
    let r = re(&R, r"(-?[$0-9.,]{2,})|(-?[0-9]+)");
    match r.captures_iter(s).last() {
        Some(c) => {
            let g = c
                .get(1)
                .map(|m| m.as_str())
                .filter(|m| !m.is_empty())
                .or_else(|| c.get(2).map(|m| m.as_str()).filter(|m| !m.is_empty()));
            match g {
                Some(m) => crate::pystr::strip(m).to_string(),
                None => INVALID.to_string(),
            }
        }
        None => INVALID.to_string(),
    }
}

/// NEW `exact_match` normalisation: delete `,`, `$`, everything through the
/// last `"#### "`, a `.` at the end (Python `\.$`: also just before a final
/// `\n`), then lowercase.
pub fn gsm8k_normalize(s: &str) -> String {
    static R: OnceLock<Regex> = OnceLock::new();
    let s = s.replace([',', '$'], "");
    let s = re(&R, r"(?s).*#### ").replace_all(&s, "").into_owned();
    let s = if let Some(t) = s.strip_suffix(".\n") {
        format!("{t}\n")
    } else if let Some(t) = s.strip_suffix('.') {
        t.to_string()
    } else {
        s
    };
    s.to_lowercase()
}

/// NEW `exact_match` of a filtered prediction against the full reference answer.
pub fn gsm8k_exact_match(prediction: &str, reference: &str) -> f64 {
    bool_value(gsm8k_normalize(prediction) == gsm8k_normalize(reference))
}

// ---------------------------------------------------------------- aggregation

/// `sum(values) / len(values)` (sequential sum).
pub fn mean(values: &[f64]) -> f64 {
    py_sum(values) / values.len() as f64
}

/// The harness's `mean_stderr`: `sample_stddev(values) / sqrt(n)` with the
/// n − 1 denominator; None for fewer than two values.
pub fn mean_stderr(values: &[f64]) -> Option<f64> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mu = mean(values);
    let ss = values
        .iter()
        .map(|x| (x - mu).powi(2))
        .fold(0.0, |a, b| a + b);
    let sd = (ss / (n - 1) as f64).sqrt();
    Some(sd / (n as f64).sqrt())
}

/// A [`Score`] from per-document values, in evaluation order.
pub fn score(task: &str, metric: &str, values: &[f64], num_fewshot: usize) -> Score {
    Score {
        task: task.to_string(),
        metric: metric.to_string(),
        value: mean(values),
        stderr: mean_stderr(values),
        n_samples: Some(values.len() as i64),
        num_fewshot: Some(num_fewshot as i32),
    }
}

/// The `mmlu` macro mean from the per-subject `acc` scores (see module docs).
pub fn mmlu_macro(subjects: &[Score], num_fewshot: usize) -> Score {
    let values: Vec<f64> = subjects.iter().map(|s| s.value).collect();
    let stderr = if subjects.iter().all(|s| s.stderr.is_some()) && !subjects.is_empty() {
        let ss: f64 = subjects
            .iter()
            .map(|s| s.stderr.unwrap_or(0.0).powi(2))
            .fold(0.0, |a, b| a + b);
        Some(ss.sqrt() / subjects.len() as f64)
    } else {
        None
    };
    Score {
        task: "mmlu".to_string(),
        metric: "acc".to_string(),
        value: mean(&values),
        stderr,
        n_samples: Some(subjects.iter().map(|s| s.n_samples.unwrap_or(0)).sum()),
        num_fewshot: Some(num_fewshot as i32),
    }
}
