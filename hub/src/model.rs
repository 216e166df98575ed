//! Resolving a Hub model id at a revision into cached local files and the commit sha.
//!
//! # Which files
//!
//! Given the repo's file list ([`select_model_files`]):
//! 1. a requested GGUF file (`org/name:file.gguf`): that file only (GGUF carries its tokenizer);
//! 2. else `model.safetensors.index.json`: `config.json`, `tokenizer.json`, the index and every
//!    shard its `weight_map` names;
//! 3. else `model.safetensors`: `config.json`, `tokenizer.json`, `model.safetensors`;
//! 4. else exactly one `*.gguf` file: that file (several: an error listing them).
//!
//! With safetensors, `tokenizer_config.json`, `generation_config.json` and
//! `special_tokens_map.json` come along when the repo has them. Pickled weights
//! (`pytorch_model.bin`) are never fetched.

use super::{check_file_name, Hub, HubConfig, HubError, RepoKind};
use std::collections::BTreeSet;
use std::path::PathBuf;

const OPTIONAL_FILES: [&str; 3] = [
    "tokenizer_config.json",
    "generation_config.json",
    "special_tokens_map.json",
];

/// A Hub model resolved to local files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModel {
    /// Local cached paths, in the order listed in the module docs (weights last).
    pub files: Vec<PathBuf>,
    /// The commit sha the files belong to (goes into `schema::Run.revision`).
    pub commit_sha: String,
    /// `<cache>/models--org--name/snapshots/<commit_sha>`: an HF folder for safetensors
    /// models; for GGUF, [`ResolvedModel::gguf`] is the file to load.
    pub dir: PathBuf,
}

impl ResolvedModel {
    /// The GGUF file, when the model was resolved to one.
    pub fn gguf(&self) -> Option<&PathBuf> {
        self.files
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == "gguf"))
    }

    /// What a model loader takes: the GGUF file or the snapshot folder.
    pub fn load_path(&self) -> PathBuf {
        self.gguf().cloned().unwrap_or_else(|| self.dir.clone())
    }
}

/// Resolve `repo_id` (optionally `org/name:file.gguf`) at `revision` (default `main`) with the
/// configuration from the environment (`HF_HOME`, `HF_ENDPOINT`, `HF_HUB_OFFLINE`, …).
pub fn resolve_model(repo_id: &str, revision: Option<&str>) -> Result<ResolvedModel, HubError> {
    let hub = Hub::new(HubConfig::from_env())?;
    resolve_model_with(&hub, repo_id, revision)
}

/// [`resolve_model`] with an explicit client.
pub fn resolve_model_with(
    hub: &Hub,
    repo_id: &str,
    revision: Option<&str>,
) -> Result<ResolvedModel, HubError> {
    let (repo, gguf) = match repo_id.split_once(':') {
        Some((r, f)) => (r, Some(f)),
        None => (repo_id, None),
    };
    let revision = revision.unwrap_or("main");
    let kind = RepoKind::Model;
    super::check_repo_id(kind, repo)?;
    super::check_revision(kind, repo, revision)?;

    let (commit, listing) = if hub.config().offline {
        let commit =
            hub.cached_commit(kind, repo, revision)
                .ok_or_else(|| HubError::NotCached {
                    what: format!("model repo '{repo}' at revision '{revision}'"),
                    cache: hub.config().cache_dir.clone(),
                    detail: format!(
                        "no {}",
                        hub.repo_dir(kind, repo)
                            .join("refs")
                            .join(revision)
                            .display()
                    ),
                })?;
        let dir = hub.repo_dir(kind, repo).join("snapshots").join(&commit);
        (commit, list_files(&dir)?)
    } else {
        hub.repo_info(kind, repo, revision)?
    };

    let wanted = select_model_files(repo, &listing, gguf, |index| {
        let f = hub.file(kind, repo, revision, index, Some(&commit))?;
        std::fs::read_to_string(&f.path).map_err(|e| HubError::Io {
            path: f.path.clone(),
            source: e,
        })
    })?;
    let mut files = Vec::with_capacity(wanted.len());
    for name in &wanted {
        files.push(hub.file(kind, repo, revision, name, Some(&commit))?.path);
    }
    if !hub.config().offline {
        hub.record_ref(kind, repo, revision, &commit)?;
    }
    let dir = hub.repo_dir(kind, repo).join("snapshots").join(&commit);
    Ok(ResolvedModel {
        files,
        commit_sha: commit,
        dir,
    })
}

/// Choose the files to fetch from a repo listing (see the module docs). `read_index` returns
/// the text of `model.safetensors.index.json` when it is needed.
pub fn select_model_files(
    repo: &str,
    listing: &[String],
    gguf: Option<&str>,
    read_index: impl FnOnce(&str) -> Result<String, HubError>,
) -> Result<Vec<String>, HubError> {
    let has = |f: &str| listing.iter().any(|l| l == f);
    let bad = |message: String| HubError::BadRepo {
        kind: "model",
        repo: repo.into(),
        message,
    };
    if let Some(g) = gguf {
        if !g.ends_with(".gguf") {
            return Err(bad(format!("'{g}' after ':' must name a .gguf file")));
        }
        if !has(g) {
            return Err(bad(format!(
                "no file '{g}' (GGUF files: {})",
                list_or_none(listing.iter().filter(|f| f.ends_with(".gguf")))
            )));
        }
        return Ok(vec![g.to_string()]);
    }
    let index = "model.safetensors.index.json";
    let weights: Vec<String> = if has(index) {
        let text = read_index(index)?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| bad(format!("{index} is not valid JSON: {e}")))?;
        let map = v
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| bad(format!("{index} has no `weight_map` object")))?;
        let mut shards = BTreeSet::new();
        for (tensor, file) in map {
            let file = file.as_str().ok_or_else(|| {
                bad(format!(
                    "{index}: weight_map[\"{tensor}\"] is not a file name"
                ))
            })?;
            check_file_name(RepoKind::Model, repo, file)?;
            if !file.ends_with(".safetensors") {
                return Err(bad(format!(
                    "{index}: weight_map[\"{tensor}\"] = '{file}' is not a .safetensors file"
                )));
            }
            if !has(file) {
                return Err(bad(format!(
                    "{index} names shard '{file}', which the repo does not have"
                )));
            }
            shards.insert(file.to_string());
        }
        if shards.is_empty() {
            return Err(bad(format!("{index} has an empty weight_map")));
        }
        std::iter::once(index.to_string()).chain(shards).collect()
    } else if has("model.safetensors") {
        vec!["model.safetensors".to_string()]
    } else {
        let ggufs: Vec<&String> = listing.iter().filter(|f| f.ends_with(".gguf")).collect();
        return match ggufs.as_slice() {
            [one] => Ok(vec![one.to_string()]),
            [] => Err(bad(format!(
                "no model.safetensors, safetensors index or GGUF file (files: {}); pickled weights are not supported",
                list_or_none(listing.iter())
            ))),
            many => Err(bad(format!(
                "several GGUF files; choose one as `{repo}:<file>`: {}",
                list_or_none(many.iter().copied())
            ))),
        };
    };
    for required in ["config.json", "tokenizer.json"] {
        if !has(required) {
            return Err(bad(format!(
                "safetensors weights but no {required} (files: {})",
                list_or_none(listing.iter())
            )));
        }
    }
    let mut out = vec!["config.json".to_string(), "tokenizer.json".to_string()];
    out.extend(
        OPTIONAL_FILES
            .iter()
            .filter(|f| has(f))
            .map(|f| f.to_string()),
    );
    out.extend(weights);
    Ok(out)
}

fn list_or_none<'a>(it: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = it.map(String::as_str).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Files under a snapshot folder, as repo-relative `/`-separated names, sorted.
fn list_files(dir: &std::path::Path) -> Result<Vec<String>, HubError> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| HubError::Io {
            path: d.clone(),
            source: e,
        })?;
        for entry in rd {
            let entry = entry.map_err(|e| HubError::Io {
                path: d.clone(),
                source: e,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            let path = entry.path();
            if path.is_dir() {
                stack.push((path, format!("{rel}/")));
            } else if path.is_file() {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }
    fn no_index(_: &str) -> Result<String, HubError> {
        panic!("index not expected")
    }

    #[test]
    fn selection() {
        let single = l(&[
            "config.json",
            "tokenizer.json",
            "model.safetensors",
            "README.md",
            "pytorch_model.bin",
        ]);
        assert_eq!(
            select_model_files("a/b", &single, None, no_index).unwrap(),
            l(&["config.json", "tokenizer.json", "model.safetensors"])
        );
        let sharded = l(&[
            "config.json",
            "tokenizer.json",
            "generation_config.json",
            "model.safetensors.index.json",
            "model-00002-of-00002.safetensors",
            "model-00001-of-00002.safetensors",
        ]);
        let idx = r#"{"metadata":{},"weight_map":{"a":"model-00002-of-00002.safetensors","b":"model-00001-of-00002.safetensors","c":"model-00001-of-00002.safetensors"}}"#;
        assert_eq!(
            select_model_files("a/b", &sharded, None, |_| Ok(idx.into())).unwrap(),
            l(&[
                "config.json",
                "tokenizer.json",
                "generation_config.json",
                "model.safetensors.index.json",
                "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors"
            ])
        );
        let evil = r#"{"weight_map":{"a":"../../x.safetensors"}}"#;
        let e = select_model_files("a/b", &sharded, None, |_| Ok(evil.into())).unwrap_err();
        assert!(e.to_string().contains("refusing file name"), "{e}");
        let ggufs = l(&["m.Q4_1.gguf", "m.Q8_0.gguf"]);
        let e = select_model_files("a/b", &ggufs, None, no_index).unwrap_err();
        assert!(e.to_string().contains("a/b:<file>"), "{e}");
        assert_eq!(
            select_model_files("a/b", &ggufs, Some("m.Q8_0.gguf"), no_index).unwrap(),
            l(&["m.Q8_0.gguf"])
        );
        let e = select_model_files("a/b", &ggufs, Some("x.gguf"), no_index).unwrap_err();
        assert!(e.to_string().contains("m.Q4_1.gguf, m.Q8_0.gguf"), "{e}");
        let e = select_model_files("a/b", &l(&["pytorch_model.bin"]), None, no_index).unwrap_err();
        assert!(e.to_string().contains("pickled"), "{e}");
        let e = select_model_files(
            "a/b",
            &l(&["model.safetensors", "config.json"]),
            None,
            no_index,
        )
        .unwrap_err();
        assert!(e.to_string().contains("no tokenizer.json"), "{e}");
    }
}
