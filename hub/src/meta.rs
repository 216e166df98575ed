//! What `leaderboard submit` asks the Hub about a model without downloading
//! its weights: the model's metadata at a revision (commit, files, likes,
//! visibility, tags) and byte ranges of a file, from which the parameter count
//! is read out of the safetensors headers ([`safetensors_params`]).
//!
//! Responses are untrusted: JSON bodies are read up to [`MAX_INFO_BYTES`], a
//! range at most [`MAX_RANGE_BYTES`], a safetensors header at most
//! [`MAX_SAFETENSORS_HEADER`] bytes.

use super::{check_file_name, check_repo_id, check_revision, error_code, is_commit_sha};
use super::{Hub, HubError, RepoKind};
use std::io::Read;

/// Largest repo-info response read.
pub const MAX_INFO_BYTES: u64 = 16 << 20;
/// Largest byte range read in one request.
pub const MAX_RANGE_BYTES: u64 = 128 << 20;
/// Largest safetensors header accepted (the format's own limit is 100 MB).
pub const MAX_SAFETENSORS_HEADER: u64 = 100_000_000;

/// A model repo's metadata at one commit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelMeta {
    /// The commit the revision resolved to.
    pub sha: String,
    /// Every file of the repo at that commit.
    pub files: Vec<String>,
    pub likes: u64,
    pub private: bool,
    /// The Hub's tags (the card's `tags` plus the Hub's own, e.g. `merge`).
    pub tags: Vec<String>,
}

#[derive(serde::Deserialize)]
struct RawInfo {
    sha: String,
    #[serde(default)]
    siblings: Vec<RawSibling>,
    #[serde(default)]
    likes: u64,
    #[serde(default)]
    private: bool,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(serde::Deserialize)]
struct RawSibling {
    rfilename: String,
}

impl Hub {
    fn agent_get(&self, url: &str) -> ureq::Request {
        let mut req = ureq::get(url).set(
            "User-Agent",
            concat!("leaderboard/", env!("CARGO_PKG_VERSION")),
        );
        if let Some(t) = &self.cfg.token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        req
    }

    fn online(&self, what: &str) -> Result<(), HubError> {
        if self.cfg.offline {
            return Err(HubError::NotCached {
                what: what.to_string(),
                cache: self.cfg.cache_dir.clone(),
                detail: "this needs the Hub's live metadata".into(),
            });
        }
        Ok(())
    }

    /// The model's metadata at `revision` (`GET {endpoint}/api/models/{repo}/revision/{revision}`).
    pub fn model_meta(&self, repo: &str, revision: &str) -> Result<ModelMeta, HubError> {
        let kind = RepoKind::Model;
        check_repo_id(kind, repo)?;
        check_revision(kind, repo, revision)?;
        self.online(&format!("the metadata of model repo '{repo}'"))?;
        let url = format!(
            "{}/api/models/{repo}/revision/{}",
            self.cfg.endpoint,
            revision.replace('/', "%2F")
        );
        let resp = self.agent_get(&url).call().map_err(|e| {
            let what = format!("the metadata of model repo '{repo}'");
            self.info_error(kind, repo, revision, &what, e)
        })?;
        let bad = |message: String| HubError::BadRepo {
            kind: kind.name(),
            repo: repo.into(),
            message,
        };
        let mut body = Vec::new();
        resp.into_reader()
            .take(MAX_INFO_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|e| bad(format!("reading the repo info: {e}")))?;
        if body.len() as u64 > MAX_INFO_BYTES {
            return Err(bad(format!("repo info larger than {MAX_INFO_BYTES} bytes")));
        }
        let raw: RawInfo = serde_json::from_slice(&body)
            .map_err(|e| bad(format!("unreadable repo info JSON: {e}")))?;
        if !is_commit_sha(&raw.sha) {
            return Err(bad(format!(
                "the Hub reported commit '{}', not a 40-hex sha",
                raw.sha
            )));
        }
        Ok(ModelMeta {
            sha: raw.sha,
            files: raw.siblings.into_iter().map(|s| s.rfilename).collect(),
            likes: raw.likes,
            private: raw.private,
            tags: raw.tags,
        })
    }

    /// Bytes `start .. start + len` of a file of a model repo at `commit`
    /// (`Range` request on `{endpoint}/{repo}/resolve/{commit}/{file}`); fewer when the
    /// file ends first.
    pub fn read_range(
        &self,
        repo: &str,
        commit: &str,
        file: &str,
        start: u64,
        len: u64,
    ) -> Result<Vec<u8>, HubError> {
        let kind = RepoKind::Model;
        check_repo_id(kind, repo)?;
        check_file_name(kind, repo, file)?;
        self.online(&format!("bytes of '{file}' in model repo '{repo}'"))?;
        let http = |message: String| HubError::Http {
            what: format!("bytes {start}.. of '{file}' in model repo '{repo}'"),
            endpoint: self.cfg.endpoint.clone(),
            message,
        };
        if len == 0 {
            return Ok(Vec::new());
        }
        if len > MAX_RANGE_BYTES {
            return Err(http(format!(
                "{len} bytes asked; at most {MAX_RANGE_BYTES}"
            )));
        }
        let url = format!("{}/{repo}/resolve/{commit}/{file}", self.cfg.endpoint);
        let resp = match self
            .agent_get(&url)
            .set("Range", &format!("bytes={start}-{}", start + len - 1))
            .call()
        {
            Ok(r) => r,
            Err(ureq::Error::Status(404, resp)) => {
                return Err(HubError::FileNotFound {
                    file: file.into(),
                    repo: format!("model repo '{repo}' at revision '{commit}'"),
                    endpoint: self.cfg.endpoint.clone(),
                    status: 404,
                    code: error_code(&resp),
                })
            }
            Err(e) => return Err(http(e.to_string())),
        };
        // A server that ignores `Range` sends the whole file: skip to `start`.
        let skip = if resp.status() == 200 { start } else { 0 };
        let mut reader = resp.into_reader();
        std::io::copy(&mut (&mut reader).take(skip), &mut std::io::sink())
            .map_err(|e| http(e.to_string()))?;
        let mut out = Vec::new();
        reader
            .take(len)
            .read_to_end(&mut out)
            .map_err(|e| http(e.to_string()))?;
        Ok(out)
    }
}

/// The number of parameters stored in `files` (safetensors weight files of a model repo at
/// `commit`), read from each file's header (8-byte little-endian length, then JSON naming every
/// tensor's `shape`) with two range requests per file: no weights are downloaded.
pub fn safetensors_params(
    hub: &Hub,
    repo: &str,
    commit: &str,
    files: &[String],
) -> Result<u64, HubError> {
    let mut total: u64 = 0;
    for f in files {
        let bad = |message: String| HubError::BadRepo {
            kind: "model",
            repo: repo.into(),
            message: format!("{f}: {message}"),
        };
        let head = hub.read_range(repo, commit, f, 0, 8)?;
        let n = u64::from_le_bytes(
            head.as_slice()
                .try_into()
                .map_err(|_| bad("shorter than a safetensors header".into()))?,
        );
        if n == 0 || n > MAX_SAFETENSORS_HEADER {
            return Err(bad(format!(
                "header length {n}; expected 1 to {MAX_SAFETENSORS_HEADER} bytes"
            )));
        }
        let json = hub.read_range(repo, commit, f, 8, n)?;
        if json.len() as u64 != n {
            return Err(bad("the header is cut short".into()));
        }
        let v: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&json)
            .map_err(|e| bad(format!("unreadable safetensors header: {e}")))?;
        for (name, t) in v.iter().filter(|(k, _)| *k != "__metadata__") {
            let shape = t
                .get("shape")
                .and_then(|s| s.as_array())
                .ok_or_else(|| bad(format!("tensor {name} has no shape")))?;
            let mut count: u64 = 1;
            for d in shape {
                let d = d
                    .as_u64()
                    .ok_or_else(|| bad(format!("tensor {name}: a dimension is not a number")))?;
                count = count
                    .checked_mul(d)
                    .ok_or_else(|| bad(format!("tensor {name}: size overflows")))?;
            }
            total = total
                .checked_add(count)
                .ok_or_else(|| bad("parameter count overflows".into()))?;
        }
    }
    Ok(total)
}
