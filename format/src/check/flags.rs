//! `flags.toml`: valid ids, a reason, links the site will render, one entry
//! per model (ids compared as the Hub does, case-insensitively).

use super::Problem;
use crate::{flags, ids};
use std::collections::BTreeMap;
use std::path::Path;

/// Checks the flags file; returns its entries when it could be read.
pub fn check(root: &Path, rel: &Path, problems: &mut Vec<Problem>) -> Vec<flags::Flag> {
    let entries = match flags::load_flags_with_lines(&root.join(rel)) {
        Ok(e) => e,
        Err(e) => {
            let mut p = Problem::from_error(root, e);
            p.file = rel.to_path_buf();
            problems.push(p);
            return Vec::new();
        }
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (line, f) in &entries {
        let mut bad = |key: &str, message: String| {
            problems.push(Problem::line(rel, *line, Some(key), message))
        };
        if let Err(e) = ids::check_model_id(&f.model) {
            bad("model", e);
        }
        if f.reason.trim().is_empty() {
            bad("reason", "empty; expected why the model is flagged".into());
        }
        if let Some(link) = &f.link {
            if !ids::is_safe_link(link) {
                bad(
                    "link",
                    format!(
                        "{:?}; expected an https:// URL without spaces, quotes, angle brackets or backslashes \
                         (the site renders no other link)",
                        ids::shorten(link)
                    ),
                );
            }
        }
        if let Some(first) = seen.insert(ids::fold(&f.model), *line) {
            bad(
                "model",
                format!(
                    "{:?} is already flagged at line {first}; expected one entry per model",
                    f.model
                ),
            );
        }
    }
    entries.into_iter().map(|(_, f)| f).collect()
}
