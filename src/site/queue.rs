//! The evaluation queue on the site: `queue.html`, with the requests of
//! `requests/` ([`leaderboard_format::requests`]) in four sections, Finished,
//! Running, Pending (with `RERUN`) and Failed, each titled with its count, and
//! the one-line summary the index page shows.
//!
//! Pending requests are listed in the order a worker takes them (oldest
//! first, numbered); running ones by start; finished and failed ones newest
//! first. Failed requests are shown with their reason and the last lines of
//! their log (v1 hid them). Everything from a request is text escaped by the
//! templates; links go only to the Hub pages of valid model ids and to this
//! site's model pages.

use super::view::View;
use super::{hub_url, Out, PageCtx};
use anyhow::{Context, Result};
use leaderboard_format::check::requests::LoadedRequest;
use leaderboard_format::requests::{Request, Status};
use serde::Serialize;

/// The four sections, in page order, with the statuses each holds.
const SECTIONS: [(&str, &str, &[Status]); 4] = [
    ("finished", "Finished", &[Status::Finished]),
    ("running", "Running", &[Status::Running]),
    ("pending", "Pending", &[Status::Pending, Status::Rerun]),
    ("failed", "Failed", &[Status::Failed]),
];

#[derive(Serialize)]
struct Row {
    /// 1-based place in the queue (pending only).
    place: Option<usize>,
    model: String,
    hub: Option<String>,
    /// This site's model page, relative to the root, when the model has one.
    page: Option<String>,
    revision: String,
    revision_url: Option<String>,
    precision: &'static str,
    weight_type: &'static str,
    status: &'static str,
    submitted: String,
    started: Option<String>,
    /// When it entered its current status.
    since: String,
    /// Where the latest run ran: `host (job)`.
    ran_on: Option<String>,
    reason: Option<String>,
    log_tail: Vec<String>,
    /// Previous attempts (FAILED or interrupted entries before the current one).
    attempts: usize,
}

#[derive(Serialize)]
struct Section {
    id: &'static str,
    title: &'static str,
    count: usize,
    rows: Vec<Row>,
}

/// The counts per section, for the index page's line.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub finished: usize,
    pub running: usize,
    pub pending: usize,
    pub failed: usize,
    /// All requests.
    pub total: usize,
}

impl Counts {
    pub fn of(requests: &[LoadedRequest]) -> Counts {
        let mut c = Counts::default();
        for r in requests {
            match r.request.status {
                Status::Finished => c.finished += 1,
                Status::Running => c.running += 1,
                Status::Pending | Status::Rerun => c.pending += 1,
                Status::Failed => c.failed += 1,
            }
        }
        c.total = requests.len();
        c
    }
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn row(r: &Request, view: &View) -> Row {
    let hub = hub_url(&r.model);
    let valid_rev = leaderboard_format::ids::is_valid_revision(&r.revision);
    let latest_run = r.last(Status::Running);
    let current = r.history.last();
    let problem = |t: &&leaderboard_format::requests::Transition| {
        t.status == Status::Failed || (t.status == Status::Pending && t.reason.is_some())
    };
    Row {
        place: None,
        model: r.model.clone(),
        revision_url: hub
            .as_ref()
            .filter(|_| valid_rev)
            .map(|h| format!("{h}/tree/{}", r.revision)),
        hub,
        page: view
            .slugs
            .get(r.model.as_str())
            .map(|s| format!("models/{s}.html")),
        revision: leaderboard_format::requests::short_revision(&r.revision),
        precision: r.precision.as_str(),
        weight_type: r.weight_type.as_str(),
        status: r.status.as_str(),
        submitted: time(r.submitted_time),
        started: r.job_start_time.map(time),
        since: time(r.since()),
        ran_on: latest_run.and_then(|t| {
            let host = t.host.clone()?;
            Some(match &t.job_id {
                Some(j) => format!("{host} ({j})"),
                None => host,
            })
        }),
        reason: current.and_then(|t| t.reason.clone()),
        log_tail: current
            .filter(|t| t.status == Status::Failed)
            .and_then(|t| t.log_tail.clone())
            .unwrap_or_default(),
        attempts: r
            .history
            .iter()
            .take(r.history.len().saturating_sub(1))
            .filter(problem)
            .count(),
    }
}

fn sections(requests: &[LoadedRequest], view: &View) -> Vec<Section> {
    SECTIONS
        .iter()
        .map(|(id, title, statuses)| {
            let mut rs: Vec<&Request> = requests
                .iter()
                .map(|l| &l.request)
                .filter(|r| statuses.contains(&r.status))
                .collect();
            match *id {
                "pending" => rs.sort_by(|a, b| {
                    (a.submitted_time, &a.model).cmp(&(b.submitted_time, &b.model))
                }),
                "running" => rs.sort_by(|a, b| (a.since(), &a.model).cmp(&(b.since(), &b.model))),
                _ => rs.sort_by(|a, b| (b.since(), &a.model).cmp(&(a.since(), &b.model))),
            }
            let mut rows: Vec<Row> = rs.iter().map(|r| row(r, view)).collect();
            if *id == "pending" {
                for (i, r) in rows.iter_mut().enumerate() {
                    r.place = Some(i + 1);
                }
            }
            Section {
                id,
                title,
                count: rows.len(),
                rows,
            }
        })
        .collect()
}

/// Writes `queue.html`.
pub fn write(
    requests: &[LoadedRequest],
    view: &View,
    env: &minijinja::Environment,
    ctx: &PageCtx,
    o: &mut Out,
) -> Result<()> {
    let html = env
        .get_template("queue.html")?
        .render(minijinja::context! {
            sections => sections(requests, view),
            counts => Counts::of(requests),
            ..ctx.page("", "queue", "Queue")
        })
        .context("rendering queue.html")?;
    o.write("queue.html", html.as_bytes())
}
