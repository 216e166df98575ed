//! Shards of a run: `evaluator run --shard I/N` evaluates a deterministic part of a run's
//! documents; `evaluator merge` combines the N parts into the files one process writes.
//!
//! # Shard files
//! A shard writes, where the whole run's `<stem>.parquet` and `<stem>.details.parquet`
//! would go, `<stem>.shard-I-of-N.parquet` and `<stem>.shard-I-of-N.details.parquet`
//! (`I` from 1 to `N`, decimal without leading zeros, `N` at most [`MAX_SHARDS`]):
//!
//! - the **results file** is a results file ([`crate::schema`]) holding one run whose
//!   scores cover only the shard's documents and whose `deviations` include
//!   `shard:I/N` ([`Shard::deviation`]), so a stray shard can never pass for a whole run;
//! - the **details file** has the columns of [`crate::details`] but its rows are in the
//!   run's **evaluation order** (the order the scores add their values in), not sorted:
//!   means of float metrics (TruthfulQA's mc2) depend on that order in their last bits,
//!   and the merge adds them in the single run's order.
//!
//! Shard `I` of `N` holds a contiguous part of each task's evaluation order (parts in
//! shard order; a part may be empty), cut between groups of documents that share a
//! few-shot prefix and balanced by tokens to forward. Shards of one run share the run's
//! identity, its `run_config` and its other deviations; their `evaluated_at` may differ
//! (the merged run keeps the latest).
//!
//! Shard files are work in progress, not results: `check` refuses them in a results
//! folder ("merge them first").

use std::fmt;

/// Most shards of one run.
pub const MAX_SHARDS: u32 = 1000;

/// The prefix of the deviation that marks a shard's run.
pub const DEVIATION_PREFIX: &str = "shard:";

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// `I/N` as `--shard` takes it: 1 ≤ I ≤ N ≤ [`MAX_SHARDS`].
    pub fn parse(s: &str) -> Result<Shard, String> {
        let err = || {
            format!(
                "{:?}: expected I/N, shard I of N, 1 <= I <= N <= {MAX_SHARDS} (e.g. 2/3)",
                crate::ids::shorten(s)
            )
        };
        let (i, n) = s.trim().split_once('/').ok_or_else(err)?;
        let (index, count) = (number(i).ok_or_else(err)?, number(n).ok_or_else(err)?);
        if index == 0 || index > count || count > MAX_SHARDS {
            return Err(err());
        }
        Ok(Shard { index, count })
    }

    /// `.shard-I-of-N`, added to a results file's stem.
    pub fn suffix(&self) -> String {
        format!(".shard-{}-of-{}", self.index, self.count)
    }

    /// `shard:I/N`, the deviation a shard's run carries.
    pub fn deviation(&self) -> String {
        format!("{DEVIATION_PREFIX}{self}")
    }

    /// The 0-based position of this shard.
    pub fn position(&self) -> usize {
        self.index as usize - 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Shard::parse(s)
    }
}

/// Decimal digits without a leading zero, as a u32.
fn number(s: &str) -> Option<u32> {
    let ok = !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    (ok && !s.starts_with('0'))
        .then(|| s.parse().ok())
        .flatten()
}

/// A shard file's name split up: the whole run's stem, the shard, and whether it is the
/// details file. `None` for any other name.
pub fn parse_file_name(name: &str) -> Option<(&str, Shard, bool)> {
    let (rest, details) = match name.strip_suffix(crate::schema::DETAILS_SUFFIX) {
        Some(r) => (r, true),
        None => (name.strip_suffix(".parquet")?, false),
    };
    let (stem, tail) = rest.rsplit_once(".shard-")?;
    let (i, n) = tail.split_once("-of-")?;
    let shard = Shard::parse(&format!("{i}/{n}")).ok()?;
    // Only the canonical spelling: what `suffix` writes.
    (!stem.is_empty() && format!("{stem}{}", shard.suffix()) == rest)
        .then_some((stem, shard, details))
}

/// Whether a file name is a shard's (results or details).
pub fn is_shard_file(name: &str) -> bool {
    parse_file_name(name).is_some()
}

/// The shard a run's deviations name (`shard:I/N`), if any.
pub fn of_deviations(deviations: &[String]) -> Option<Shard> {
    deviations
        .iter()
        .find_map(|d| d.strip_prefix(DEVIATION_PREFIX))
        .and_then(|s| Shard::parse(s).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_names() {
        let s = Shard::parse("2/3").unwrap();
        assert_eq!((s.index, s.count, s.position()), (2, 3, 1));
        assert_eq!(s.to_string(), "2/3");
        assert_eq!(s.suffix(), ".shard-2-of-3");
        assert_eq!(s.deviation(), "shard:2/3");
        for bad in [
            "0/3", "4/3", "1/0", "a/3", "1/3/4", "01/3", "1/1001", "", "-1/3",
        ] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_file_name("openllm-v1_f32_abc.shard-2-of-3.parquet"),
            Some(("openllm-v1_f32_abc", s, false))
        );
        assert_eq!(
            parse_file_name("x.shard-3-of-3.details.parquet"),
            Some(("x", Shard::parse("3/3").unwrap(), true))
        );
        for other in [
            "x.parquet",
            "x.details.parquet",
            "x.shard-4-of-3.parquet",
            "x.shard-02-of-3.parquet",
            ".shard-1-of-3.parquet",
            "x.shard-1-of-3.json",
        ] {
            assert!(!is_shard_file(other), "{other}");
        }
        assert_eq!(
            of_deviations(&["limit:2".into(), "shard:1/2".into()]),
            Some(Shard::parse("1/2").unwrap())
        );
    }
}
