//! Hugging Face Hub access through hf-hub 0.4.3 (sync, ureq): files of model and dataset repos at a revision, in the standard HF cache.
//!
//! # Environment
//!
//! [`HubConfig::from_env`] reads the variables `huggingface_hub` uses:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `HF_ENDPOINT` | Hub base URL | `https://huggingface.co` |
//! | `HF_HUB_CACHE` | cache folder (the `hub` folder itself) | `$HF_HOME/hub` |
//! | `HF_HOME` | HF home; the cache is its `hub/` subfolder, the token its `token` file | `~/.cache/huggingface` |
//! | `HF_HUB_OFFLINE` | `1`/`true`/`yes`/`on`: never touch the network, resolve from the cache only | off |
//! | `HF_TOKEN` | access token for gated/private repos (else `$HF_HOME/token`) | none |
//!
//! # Cache layout
//!
//! The cache is the one `huggingface_hub` and hf-hub share:
//! `<cache>/{models,datasets}--<org>--<name>/{blobs/<etag>, snapshots/<commit>/<file> -> ../../blobs/<etag>, refs/<revision>}`,
//! where `refs/<revision>` holds the commit sha the revision (branch, tag, `refs/convert/parquet`, …)
//! pointed to when it was last fetched. Offline resolution reads `refs/<revision>` (or takes a
//! 40-hex revision as the commit itself) and then `snapshots/<commit>/<file>`.
//!
//! Online, a file already present under `snapshots/<commit>/` for a known commit is used as is
//! (a commit is immutable); otherwise hf-hub downloads it (GET with `Range`, ETag/X-Linked-Etag,
//! X-Repo-Commit headers) and the commit it reports is checked against the expected one.
//!
//! Metadata without downloads (`leaderboard submit`): [`Hub::model_meta`] (commit, files,
//! likes, visibility, tags) and [`Hub::read_range`] (byte ranges, from which
//! [`safetensors_params`] counts parameters in the safetensors headers).
//!
//! Names that come from a repository (file lists, shard indexes) are untrusted: every file name
//! must be a relative path of plain components, so nothing is written outside the cache.

mod meta;
mod model;
mod weights;

pub use meta::{safetensors_params, ModelMeta};
pub use model::{resolve_model, resolve_model_with, select_model_files, ResolvedModel};
pub use weights::{file_sha256, weights_sha256};

use hf_hub::api::sync::{Api, ApiBuilder, ApiError};
use hf_hub::{Repo, RepoType};
use std::path::{Component, Path, PathBuf};
use thiserror::Error;

/// The public Hub.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Errors of Hub access; callers branch on "not found" vs "not cached" vs transport failures.
#[derive(Debug, Error)]
pub enum HubError {
    #[error("{kind} repo '{repo}' not found at revision '{revision}' on {endpoint} (HTTP {status}{code}); check the id and revision (private or gated repos need HF_TOKEN)")]
    RepoNotFound {
        kind: &'static str,
        repo: String,
        revision: String,
        endpoint: String,
        status: u16,
        code: String,
    },
    #[error("file '{file}' not found in {repo} on {endpoint} (HTTP {status}{code})")]
    FileNotFound {
        file: String,
        /// `<kind> repo '<id>' at revision '<revision>'`.
        repo: String,
        endpoint: String,
        status: u16,
        code: String,
    },
    #[error("HF_HUB_OFFLINE is set and {what} is not in the Hub cache {cache}: {detail}; run once without HF_HUB_OFFLINE to download it")]
    NotCached {
        what: String,
        cache: PathBuf,
        detail: String,
    },
    #[error("Hub request for {what} on {endpoint} failed: {message}")]
    Http {
        what: String,
        endpoint: String,
        message: String,
    },
    #[error("{kind} repo '{repo}': {message}")]
    BadRepo {
        kind: &'static str,
        repo: String,
        message: String,
    },
    #[error("{kind} repo '{repo}': revision '{revision}' now points to commit {got}, expected {expected} (it moved while downloading); run again")]
    CommitMismatch {
        kind: &'static str,
        repo: String,
        revision: String,
        expected: String,
        got: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Model or dataset repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoKind {
    Model,
    Dataset,
}

impl RepoKind {
    fn name(self) -> &'static str {
        match self {
            RepoKind::Model => "model",
            RepoKind::Dataset => "dataset",
        }
    }
    fn repo_type(self) -> RepoType {
        match self {
            RepoKind::Model => RepoType::Model,
            RepoKind::Dataset => RepoType::Dataset,
        }
    }
    fn folder_prefix(self) -> &'static str {
        match self {
            RepoKind::Model => "models",
            RepoKind::Dataset => "datasets",
        }
    }
}

/// Where and how to reach the Hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// Base URL, without trailing slash.
    pub endpoint: String,
    /// The cache folder (`…/huggingface/hub`).
    pub cache_dir: PathBuf,
    /// Resolve from the cache only.
    pub offline: bool,
    /// Bearer token for gated/private repos.
    pub token: Option<String>,
    /// Show download progress bars (rate, ETA) on stderr.
    pub progress: bool,
}

impl HubConfig {
    /// Configuration from the process environment (see the module docs).
    pub fn from_env() -> Self {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// Configuration from a variable lookup, so the rules can be tested without touching the
    /// process environment.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Self {
        let nonempty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let endpoint = nonempty("HF_ENDPOINT")
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string())
            .trim_end_matches('/')
            .to_string();
        let home = nonempty("HF_HOME").map(PathBuf::from).unwrap_or_else(|| {
            let base = nonempty("HOME").map(PathBuf::from).unwrap_or_default();
            base.join(".cache").join("huggingface")
        });
        let cache_dir = nonempty("HF_HUB_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join("hub"));
        let offline = nonempty("HF_HUB_OFFLINE")
            .map(|v| {
                matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "1" | "true" | "yes" | "on"
                )
            })
            .unwrap_or(false);
        let token = nonempty("HF_TOKEN")
            .or_else(|| {
                std::fs::read_to_string(home.join("token"))
                    .ok()
                    .filter(|t| !t.trim().is_empty())
            })
            .map(|t| t.trim().to_string());
        HubConfig {
            endpoint,
            cache_dir,
            offline,
            token,
            progress: true,
        }
    }

    /// A configuration for an explicit endpoint and cache, online, no token, no progress bars.
    pub fn new(endpoint: impl Into<String>, cache_dir: impl Into<PathBuf>) -> Self {
        HubConfig {
            endpoint: endpoint.into().trim_end_matches('/').to_string(),
            cache_dir: cache_dir.into(),
            offline: false,
            token: None,
            progress: false,
        }
    }
}

/// A Hub client bound to one configuration.
pub struct Hub {
    cfg: HubConfig,
    api: Option<Api>,
}

/// One file fetched (or found in the cache) at a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedFile {
    /// `<cache>/<repo folder>/snapshots/<commit>/<file>`.
    pub path: PathBuf,
    /// The commit sha the file belongs to.
    pub commit: String,
}

impl Hub {
    /// A client for `cfg`; offline configurations never build an HTTP client.
    pub fn new(cfg: HubConfig) -> Result<Self, HubError> {
        let api = if cfg.offline {
            None
        } else {
            let builder = ApiBuilder::from_cache(hf_hub::Cache::new(cfg.cache_dir.clone()))
                .with_endpoint(cfg.endpoint.clone())
                .with_token(cfg.token.clone())
                .with_progress(cfg.progress)
                .with_user_agent("leaderboard-evaluator", env!("CARGO_PKG_VERSION"));
            Some(builder.build().map_err(|e| HubError::Http {
                what: "client set-up".into(),
                endpoint: cfg.endpoint.clone(),
                message: e.to_string(),
            })?)
        };
        Ok(Hub { cfg, api })
    }

    /// A client configured from the environment.
    pub fn from_env() -> Result<Self, HubError> {
        Self::new(HubConfig::from_env())
    }

    pub fn config(&self) -> &HubConfig {
        &self.cfg
    }

    /// `<cache>/<models|datasets>--org--name`.
    pub fn repo_dir(&self, kind: RepoKind, repo: &str) -> PathBuf {
        self.cfg.cache_dir.join(format!(
            "{}--{}",
            kind.folder_prefix(),
            repo.replace('/', "--")
        ))
    }

    /// The commit a revision resolves to in the cache, if known.
    pub fn cached_commit(&self, kind: RepoKind, repo: &str, revision: &str) -> Option<String> {
        let dir = self.repo_dir(kind, repo);
        if let Ok(s) = std::fs::read_to_string(dir.join("refs").join(revision)) {
            let s = s.trim().to_string();
            if is_commit_sha(&s) {
                return Some(s);
            }
        }
        if is_commit_sha(revision) && dir.join("snapshots").join(revision).is_dir() {
            return Some(revision.to_string());
        }
        None
    }

    /// The commit sha and file list of a repo at a revision, from the Hub
    /// (`GET {endpoint}/api/{models|datasets}/{repo}/revision/{revision}`).
    pub fn repo_info(
        &self,
        kind: RepoKind,
        repo: &str,
        revision: &str,
    ) -> Result<(String, Vec<String>), HubError> {
        check_repo_id(kind, repo)?;
        check_revision(kind, repo, revision)?;
        let api = self.api.as_ref().ok_or_else(|| HubError::NotCached {
            what: format!("the file list of {} repo '{repo}'", kind.name()),
            cache: self.cfg.cache_dir.clone(),
            detail: "offline mode cannot list a repo".into(),
        })?;
        let r = Repo::with_revision(repo.to_string(), kind.repo_type(), revision.to_string());
        let info = match api.repo(r).info_request().call() {
            Ok(resp) => {
                resp.into_json::<hf_hub::api::RepoInfo>()
                    .map_err(|e| HubError::BadRepo {
                        kind: kind.name(),
                        repo: repo.into(),
                        message: format!(
                            "unreadable repo info JSON from {}: {e}",
                            self.cfg.endpoint
                        ),
                    })?
            }
            Err(e) => {
                let what = format!("the file list of {} repo '{repo}'", kind.name());
                return Err(self.info_error(kind, repo, revision, &what, e));
            }
        };
        if !is_commit_sha(&info.sha) {
            return Err(HubError::BadRepo {
                kind: kind.name(),
                repo: repo.into(),
                message: format!("the Hub reported commit '{}', not a 40-hex sha", info.sha),
            });
        }
        let files = info.siblings.into_iter().map(|s| s.rfilename).collect();
        Ok((info.sha, files))
    }

    /// One file of a repo at `revision`. If `expected_commit` is given (from [`Hub::repo_info`])
    /// or `revision` is itself a commit sha, a copy already in the cache is used without network;
    /// offline, the cache is the only source.
    pub fn file(
        &self,
        kind: RepoKind,
        repo: &str,
        revision: &str,
        file: &str,
        expected_commit: Option<&str>,
    ) -> Result<CachedFile, HubError> {
        check_repo_id(kind, repo)?;
        check_revision(kind, repo, revision)?;
        check_file_name(kind, repo, file)?;
        let known = expected_commit
            .map(str::to_string)
            .or_else(|| is_commit_sha(revision).then(|| revision.to_string()));
        let api = match &self.api {
            Some(api) => api,
            None => return self.file_offline(kind, repo, revision, file),
        };
        if let Some(commit) = &known {
            let path = self.snapshot_path(kind, repo, commit, file);
            if path.is_file() {
                return Ok(CachedFile {
                    path,
                    commit: commit.clone(),
                });
            }
        }
        let r = Repo::with_revision(repo.to_string(), kind.repo_type(), revision.to_string());
        let path = api
            .repo(r)
            .download(file)
            .map_err(|e| self.download_error(kind, repo, revision, file, e))?;
        let commit = commit_of_snapshot_path(&path, file).ok_or_else(|| HubError::BadRepo {
            kind: kind.name(),
            repo: repo.into(),
            message: format!(
                "hf-hub returned an unexpected cache path {}",
                path.display()
            ),
        })?;
        if let Some(expected) = known {
            if expected != commit {
                return Err(HubError::CommitMismatch {
                    kind: kind.name(),
                    repo: repo.into(),
                    revision: revision.into(),
                    expected,
                    got: commit,
                });
            }
        }
        Ok(CachedFile { path, commit })
    }

    /// Record in the cache that `revision` (a branch or tag) points to `commit`, as
    /// `huggingface_hub` does, so offline resolution of that revision finds it. Commit-sha
    /// revisions need no ref.
    pub fn record_ref(
        &self,
        kind: RepoKind,
        repo: &str,
        revision: &str,
        commit: &str,
    ) -> Result<(), HubError> {
        check_repo_id(kind, repo)?;
        check_revision(kind, repo, revision)?;
        if is_commit_sha(revision) {
            return Ok(());
        }
        let path = self.repo_dir(kind, repo).join("refs").join(revision);
        let io = |path: &Path, e| HubError::Io {
            path: path.to_path_buf(),
            source: e,
        };
        let parent = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        let tmp = parent.join(format!(
            ".{}.tmp{}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        std::fs::write(&tmp, commit).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))
    }

    fn file_offline(
        &self,
        kind: RepoKind,
        repo: &str,
        revision: &str,
        file: &str,
    ) -> Result<CachedFile, HubError> {
        let what = format!("{} repo '{repo}' at revision '{revision}'", kind.name());
        let commit =
            self.cached_commit(kind, repo, revision)
                .ok_or_else(|| HubError::NotCached {
                    what: what.clone(),
                    cache: self.cfg.cache_dir.clone(),
                    detail: format!(
                        "no {}",
                        self.repo_dir(kind, repo)
                            .join("refs")
                            .join(revision)
                            .display()
                    ),
                })?;
        let path = self.snapshot_path(kind, repo, &commit, file);
        if !path.is_file() {
            return Err(HubError::NotCached {
                what: format!("file '{file}' of {what}"),
                cache: self.cfg.cache_dir.clone(),
                detail: format!("no {}", path.display()),
            });
        }
        Ok(CachedFile { path, commit })
    }

    /// A failed repo-info request: 404/401 is [`HubError::RepoNotFound`], anything
    /// else [`HubError::Http`] about `what`.
    fn info_error(
        &self,
        kind: RepoKind,
        repo: &str,
        revision: &str,
        what: &str,
        e: ureq::Error,
    ) -> HubError {
        match e {
            ureq::Error::Status(status, resp) if status == 404 || status == 401 => {
                HubError::RepoNotFound {
                    kind: kind.name(),
                    repo: repo.into(),
                    revision: revision.into(),
                    endpoint: self.cfg.endpoint.clone(),
                    status,
                    code: error_code(&resp),
                }
            }
            e => HubError::Http {
                what: what.to_string(),
                endpoint: self.cfg.endpoint.clone(),
                message: e.to_string(),
            },
        }
    }

    fn snapshot_path(&self, kind: RepoKind, repo: &str, commit: &str, file: &str) -> PathBuf {
        let mut p = self.repo_dir(kind, repo).join("snapshots").join(commit);
        for part in file.split('/') {
            p.push(part);
        }
        p
    }

    fn download_error(
        &self,
        kind: RepoKind,
        repo: &str,
        revision: &str,
        file: &str,
        e: ApiError,
    ) -> HubError {
        if let ApiError::RequestError(err) = &e {
            if let ureq::Error::Status(status, resp) = err.as_ref() {
                let code = error_code(resp);
                if (*status == 404 || *status == 401)
                    && !code.contains("Entry")
                    && (code.contains("Repo") || code.contains("Revision") || *status == 401)
                {
                    return HubError::RepoNotFound {
                        kind: kind.name(),
                        repo: repo.into(),
                        revision: revision.into(),
                        endpoint: self.cfg.endpoint.clone(),
                        status: *status,
                        code,
                    };
                }
                if *status == 404 {
                    return HubError::FileNotFound {
                        repo: format!("{} repo '{repo}' at revision '{revision}'", kind.name()),
                        file: file.into(),
                        endpoint: self.cfg.endpoint.clone(),
                        status: *status,
                        code,
                    };
                }
            }
        }
        HubError::Http {
            what: format!(
                "file '{file}' of {} repo '{repo}' at revision '{revision}'",
                kind.name()
            ),
            endpoint: self.cfg.endpoint.clone(),
            message: e.to_string(),
        }
    }
}

/// `, X-Error-Code: …` when the Hub sent one, else empty.
fn error_code(resp: &ureq::Response) -> String {
    resp.header("X-Error-Code")
        .map(|c| format!(", {c}"))
        .unwrap_or_default()
}

/// The commit folder name of `<…>/snapshots/<commit>/<file>`.
fn commit_of_snapshot_path(path: &Path, file: &str) -> Option<String> {
    let mut dir = path;
    for _ in file.split('/') {
        dir = dir.parent()?;
    }
    let commit = dir.file_name()?.to_str()?.to_string();
    (dir.parent()?.file_name()? == "snapshots").then_some(commit)
}

/// 40 lowercase hex digits.
pub fn is_commit_sha(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `name` or `org/name`, characters `[A-Za-z0-9._-]`, no `..`, not starting with `.`/`-`.
fn check_repo_id(kind: RepoKind, repo: &str) -> Result<(), HubError> {
    let parts: Vec<&str> = repo.split('/').collect();
    let ok = (1..=2).contains(&parts.len())
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 96
                && !p.starts_with(['.', '-'])
                && !p.contains("..")
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        });
    if ok {
        Ok(())
    } else {
        Err(HubError::BadRepo {
            kind: kind.name(),
            repo: repo.into(),
            message: "not a Hub repo id (expected `name` or `org/name` of letters, digits, `.`, `_`, `-`)".into(),
        })
    }
}

/// A branch, tag, `refs/…` name or commit sha: plain path components, no `..`.
fn check_revision(kind: RepoKind, repo: &str, revision: &str) -> Result<(), HubError> {
    let ok = !revision.is_empty()
        && revision.len() <= 256
        && revision
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
        && !revision
            .chars()
            .any(|c| c.is_control() || c == '\\' || c == '%' || c == '?' || c == '#');
    if ok {
        Ok(())
    } else {
        Err(HubError::BadRepo {
            kind: kind.name(),
            repo: repo.into(),
            message: format!("refusing revision '{revision}' (must be a branch, tag or commit)"),
        })
    }
}

/// A file name inside a repo: relative, plain components only.
fn check_file_name(kind: RepoKind, repo: &str, file: &str) -> Result<(), HubError> {
    let p = Path::new(file);
    let ok = !file.is_empty()
        && !file.contains('\\')
        && !file
            .chars()
            .any(|c| c.is_control() || c == '?' || c == '#' || c == '%')
        && p.components().all(|c| matches!(c, Component::Normal(_)))
        && file.split('/').all(|s| !s.is_empty());
    if ok {
        Ok(())
    } else {
        Err(HubError::BadRepo {
            kind: kind.name(),
            repo: repo.into(),
            message: format!(
                "refusing file name '{file}' (must be a relative path inside the repo)"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> HubConfig {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HubConfig::from_vars(|k| m.get(k).cloned())
    }

    #[test]
    fn env_rules() {
        let c = cfg(&[("HOME", "/h")]);
        assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(c.cache_dir, PathBuf::from("/h/.cache/huggingface/hub"));
        assert!(!c.offline);
        let c = cfg(&[
            ("HF_HOME", "/x"),
            ("HF_ENDPOINT", "http://127.0.0.1:9/"),
            ("HF_HUB_OFFLINE", "1"),
            ("HF_TOKEN", " t "),
        ]);
        assert_eq!(c.endpoint, "http://127.0.0.1:9");
        assert_eq!(c.cache_dir, PathBuf::from("/x/hub"));
        assert!(c.offline);
        assert_eq!(c.token.as_deref(), Some("t"));
        let c = cfg(&[
            ("HF_HOME", "/x"),
            ("HF_HUB_CACHE", "/c"),
            ("HF_HUB_OFFLINE", "0"),
        ]);
        assert_eq!(c.cache_dir, PathBuf::from("/c"));
        assert!(!c.offline);
        for v in ["TRUE", "yes", "On"] {
            assert!(cfg(&[("HF_HUB_OFFLINE", v)]).offline, "{v}");
        }
    }

    #[test]
    fn names_are_checked() {
        let m = RepoKind::Model;
        assert!(check_repo_id(m, "HuggingFaceTB/SmolLM2-135M-Instruct").is_ok());
        assert!(check_repo_id(m, "gpt2").is_ok());
        for bad in ["", "a/b/c", "../x", "a/..", "a b", "/x", "x/"] {
            assert!(check_repo_id(m, bad).is_err(), "{bad}");
        }
        assert!(check_revision(m, "r", "refs/convert/parquet").is_ok());
        assert!(check_revision(m, "r", "../main").is_err());
        assert!(check_file_name(m, "r", "ARC-Challenge/test-00000-of-00001.parquet").is_ok());
        for bad in ["../x", "/etc/passwd", "a/../../b", "a//b", "a\\b", ""] {
            assert!(check_file_name(m, "r", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn commit_from_path() {
        let p =
            Path::new("/c/models--a--b/snapshots/0123456789abcdef0123456789abcdef01234567/d/f.bin");
        assert_eq!(
            commit_of_snapshot_path(p, "d/f.bin").as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(commit_of_snapshot_path(p, "f.bin"), None);
    }
}
