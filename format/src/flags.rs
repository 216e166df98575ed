//! The flags file `results/flags.toml`: models the leaderboard marks as flagged.
//!
//! # Format
//!
//! TOML, human-editable, one `[[flag]]` table per model:
//!
//! ```toml
//! [[flag]]
//! model = "org/name"            # Hub model id, exactly as in the results files
//! reason = "Contaminated on GSM8K"
//! link = "https://huggingface.co/spaces/…/discussions/123"   # optional
//! category = "other (mostly contamination)"                  # optional
//! ```
//!
//! No other keys are allowed. A model appears at most once. Category
//! [`DO_NOT_SUBMIT`] marks a model whose authors asked not to be evaluated;
//! the site treats it like a flag (shown, marked, hidden by the "hide flagged"
//! filter), since v1 also listed those among its flagged models.

use crate::ResultsError;
use std::path::Path;

/// Category of entries from v1's do-not-submit list.
pub const DO_NOT_SUBMIT: &str = "do-not-submit";

/// One entry of the flags file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flag {
    pub model: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

impl Flag {
    /// Whether this entry is from the do-not-submit list (category [`DO_NOT_SUBMIT`]).
    pub fn is_do_not_submit(&self) -> bool {
        self.category.as_deref() == Some(DO_NOT_SUBMIT)
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FlagsFile {
    #[serde(default)]
    flag: Vec<toml::Spanned<Flag>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Reads a flags file, with the 1-based line each `[[flag]]` entry starts on.
pub fn load_flags_with_lines(path: &Path) -> Result<Vec<(usize, Flag)>, ResultsError> {
    let text = std::fs::read_to_string(path).map_err(|source| ResultsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file: FlagsFile = toml::from_str(&text).map_err(|e| ResultsError::Flags {
        path: path.to_path_buf(),
        line: e.span().map(|s| line_of(&text, s.start)).unwrap_or(0),
        message: format!(
            "{}; expected [[flag]] tables with keys model, reason, link (optional), category (optional)",
            e.message()
        ),
    })?;
    Ok(file
        .flag
        .into_iter()
        .map(|s| {
            let line = line_of(&text, s.span().start);
            (line, s.into_inner())
        })
        .collect())
}

/// Reads a flags file (see the module docs for the format).
pub fn load_flags(path: &Path) -> Result<Vec<Flag>, ResultsError> {
    Ok(load_flags_with_lines(path)?
        .into_iter()
        .map(|(_, f)| f)
        .collect())
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Renders a flags file: `header` (each line prefixed with `# `), then one
/// `[[flag]]` table per entry, in the given order.
pub fn render_flags(header: &str, flags: &[Flag]) -> String {
    let mut out = String::new();
    for line in header.lines() {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
    for f in flags {
        out.push_str("\n[[flag]]\n");
        out.push_str(&format!("model = {}\n", quote(&f.model)));
        out.push_str(&format!("reason = {}\n", quote(&f.reason)));
        if let Some(l) = &f.link {
            out.push_str(&format!("link = {}\n", quote(l)));
        }
        if let Some(c) = &f.category {
            out.push_str(&format!("category = {}\n", quote(c)));
        }
    }
    out
}

/// Writes a flags file atomically (temp file + rename); see [`render_flags`].
pub fn write_flags(path: &Path, header: &str, flags: &[Flag]) -> Result<(), ResultsError> {
    crate::atomic::write_atomic(path, render_flags(header, flags).as_bytes())
}
