//! The timestamps the files record: whole seconds, given by a flag in RFC 3339,
//! or taken from `SOURCE_DATE_EPOCH` (reproducible files), or now. One place for
//! `evaluator run --evaluated-at/--submitted-at` and `leaderboard submit --now`.

use chrono::{DateTime, Utc};

/// `t` truncated to whole seconds (the files store seconds).
pub fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// The value of the flag `flag`, in RFC 3339.
pub fn parse_flag(flag: &str, s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{flag} {s:?}: {e}; expected RFC 3339, e.g. 2024-01-31T12:00:00Z"))
}

/// The flag's value when given, else `SOURCE_DATE_EPOCH` when set, else now
/// (whole seconds).
pub fn given_or_now(flag: &str, given: Option<&str>) -> Result<DateTime<Utc>, String> {
    if let Some(s) = given {
        return parse_flag(flag, s);
    }
    if let Ok(s) = std::env::var("SOURCE_DATE_EPOCH") {
        let secs: i64 = s
            .trim()
            .parse()
            .map_err(|_| format!("SOURCE_DATE_EPOCH={s:?}: expected seconds since 1970"))?;
        return DateTime::from_timestamp(secs, 0)
            .ok_or_else(|| format!("SOURCE_DATE_EPOCH={s:?}: out of range"));
    }
    Ok(whole_seconds(Utc::now()))
}
