//! Progress of one task's work: an indicatif bar on a terminal, a plain line every so often otherwise.
//!
//! indicatif draws nothing when stderr is not a terminal (a log file, CI, `nohup`), and a
//! run of the whole suite can take hours there. So when stderr is not a terminal a
//! [`Progress`] writes one line at most every [`plain_interval`] (30 s unless
//! `LEADERBOARD_PROGRESS_SECS` says otherwise; `0` writes every update) and one when
//! finished. A line ends with the process's resident memory and, under glibc, the heap
//! bytes in use ([`crate::alloc::memory_now`]):
//!
//! ```text
//! hellaswag: 1200/40168 requests, 412,480/13,377,022 tokens (3.1%), 214 tok/s, ETA 17:20:40, memory 1,312 MB (heap in use 1,040 MB)
//! hellaswag: done, 40168/40168 requests, 13,377,022 tokens in 17:38:02 (211 tok/s)
//! ```
//! Positions are in planned tokens (what the bar's length counts); the rate and ETA use
//! the planned tokens done since the bar was made.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Environment variable: seconds between plain progress lines (stderr not a terminal).
pub const INTERVAL_ENV: &str = "LEADERBOARD_PROGRESS_SECS";

/// Seconds between plain lines: `LEADERBOARD_PROGRESS_SECS` if it parses, else 30.
pub fn plain_interval() -> Duration {
    std::env::var(INTERVAL_ENV)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(30))
}

/// A task's progress: position in planned tokens, requests done, and a rate.
pub struct Progress {
    bar: ProgressBar,
    plain: Option<Plain>,
    label: String,
    total_requests: usize,
    done_requests: usize,
    /// Tokens actually forwarded or generated (for tok/s).
    real_tokens: u64,
    start: Instant,
}

struct Plain {
    every: Duration,
    last: Option<Instant>,
    len: u64,
    pos: u64,
}

impl Progress {
    /// Progress of `label` over `planned_tokens`; `visible: false` shows nothing at all.
    pub fn new(label: &str, planned_tokens: u64, total_requests: usize, visible: bool) -> Self {
        Self::with_target(
            label,
            planned_tokens,
            total_requests,
            visible,
            std::io::stderr().is_terminal(),
        )
    }

    fn with_target(
        label: &str,
        planned_tokens: u64,
        total_requests: usize,
        visible: bool,
        terminal: bool,
    ) -> Self {
        let len = planned_tokens.max(1);
        let bar = ProgressBar::with_draw_target(
            Some(len),
            if visible && terminal {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>14} {wide_bar} {msg} [{elapsed_precise}, ETA {eta_precise}]",
            )
            .expect("valid template"),
        );
        bar.set_prefix(label.to_string());
        let plain = (visible && !terminal).then(|| Plain {
            every: plain_interval(),
            last: None,
            len,
            pos: 0,
        });
        Progress {
            bar,
            plain,
            label: label.to_string(),
            total_requests,
            done_requests: 0,
            real_tokens: 0,
            start: Instant::now(),
        }
    }

    /// Records that `done_requests` requests are answered, the position is `position`
    /// planned tokens and `real_tokens` tokens were really forwarded or generated.
    pub fn update(&mut self, done_requests: usize, position: u64, real_tokens: u64) {
        self.done_requests = done_requests;
        self.real_tokens = real_tokens;
        let rate = self.rate();
        self.bar.set_position(position);
        self.bar.set_message(format!(
            "{done_requests}/{} requests, {rate:.0} tok/s",
            self.total_requests
        ));
        if let Some(p) = &mut self.plain {
            p.pos = position.min(p.len);
            if p.last.is_none_or(|t| t.elapsed() >= p.every) {
                p.last = Some(Instant::now());
                let line = self.line();
                eprintln!("{line}");
            }
        }
    }

    /// Clears the bar; in plain mode writes the closing line.
    pub fn finish(self) {
        self.bar.finish_and_clear();
        if self.plain.is_some() {
            let secs = self.start.elapsed();
            eprintln!(
                "{}: done, {}/{} requests, {} tokens in {} ({:.0} tok/s)",
                self.label,
                self.done_requests,
                self.total_requests,
                thousands(self.real_tokens),
                hms(secs),
                self.rate()
            );
        }
    }

    fn rate(&self) -> f64 {
        self.real_tokens as f64 / self.start.elapsed().as_secs_f64().max(1e-9)
    }

    /// The plain progress line (plain mode only).
    fn line(&self) -> String {
        let p = self.plain.as_ref().expect("plain mode");
        let elapsed = self.start.elapsed().as_secs_f64();
        let eta = if p.pos > 0 && elapsed > 0.0 {
            let left = (p.len - p.pos) as f64 * elapsed / p.pos as f64;
            hms(Duration::from_secs_f64(left))
        } else {
            "unknown".to_string()
        };
        let mb = |b: u64| thousands(b / 1_048_576);
        let memory = match crate::alloc::memory_now() {
            (Some(rss), Some(heap)) => {
                format!(", memory {} MB (heap in use {} MB)", mb(rss), mb(heap))
            }
            (Some(rss), None) => format!(", memory {} MB", mb(rss)),
            _ => String::new(),
        };
        format!(
            "{}: {}/{} requests, {}/{} tokens ({:.1}%), {:.0} tok/s, ETA {eta}{memory}",
            self.label,
            self.done_requests,
            self.total_requests,
            thousands(p.pos),
            thousands(p.len),
            100.0 * p.pos as f64 / p.len as f64,
            self.rate()
        )
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `h:mm:ss`.
fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(13_377_022), "13,377,022");
        assert_eq!(hms(Duration::from_secs(0)), "0:00:00");
        assert_eq!(hms(Duration::from_secs(63_482)), "17:38:02");
    }

    #[test]
    fn plain_line_counts_and_eta() {
        let mut p = Progress::with_target("hellaswag", 1000, 40, true, false);
        p.start -= Duration::from_secs(10);
        p.update(10, 250, 240);
        let line = p.line();
        assert!(
            line.starts_with(
                "hellaswag: 10/40 requests, 250/1,000 tokens (25.0%), 24 tok/s, ETA 0:00:"
            ) || line.starts_with(
                "hellaswag: 10/40 requests, 250/1,000 tokens (25.0%), 23 tok/s, ETA 0:00:"
            ),
            "{line}"
        );
        // 250 planned tokens in ~10 s: 750 left take ~30 s.
        assert!(line.contains("ETA 0:00:30"), "{line}");
        // Then this process's memory, where the platform tells it.
        if cfg!(target_os = "linux") {
            let mem = line.split(", memory ").nth(1).expect("memory on Linux");
            let mb: u64 = mem
                .split(' ')
                .next()
                .unwrap()
                .replace(',', "")
                .parse()
                .unwrap();
            assert!(mb > 0, "{line}");
        }
    }

    #[test]
    fn hidden_has_no_plain_lines() {
        let p = Progress::with_target("x", 10, 1, false, false);
        assert!(p.plain.is_none());
        let p = Progress::with_target("x", 10, 1, true, true);
        assert!(p.plain.is_none());
    }
}
