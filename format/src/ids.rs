//! The one validator of identifiers: Hub model ids, git revisions, task and
//! metric names, links. Every crate of the workspace (the evaluator's
//! `--model-id`, `check`, the site's Hub links, `import`) asks this module, so
//! a file one of them writes is a file the others accept.
//!
//! # Model ids
//!
//! A model id is a Hugging Face Hub repo id, `org/name`, or a legacy bare
//! `name` (`gpt2`). Each part is made of `[A-Za-z0-9._-]`, does not start or
//! end with `-` or `.`, and the id contains neither `--` nor `..`; at most
//! [`MAX_MODEL_ID_LEN`] characters in all. These are the Hub's own rules
//! for repo names, so every id that passes can be looked up on the Hub, and
//! every id is also a safe relative path (two plain components at most).
//!
//! # Identity and look-alikes
//!
//! The Hub compares repo ids **case-insensitively** (`Meta-Llama/x` is
//! `meta-llama/x`), so [`fold`] is what run identities compare. Ids that are
//! not the same but look the same to a reader (`meta-IIama` beside
//! `meta-llama`: `I`/`l`, `0`/`O`, `1`/`l`, `rn`/`m`) have the same
//! [`skeleton`]; `check` reports those to a maintainer instead of refusing
//! them, since two unrelated repos can legitimately look alike.

/// Longest model id accepted, in bytes (the Hub's limit on a repo id).
pub const MAX_MODEL_ID_LEN: usize = 96;

/// Why `id` is not a valid model id, or `Ok`; see the module docs for the rule.
pub fn check_model_id(id: &str) -> Result<(), String> {
    let rule = "expected a Hub model id `org/name`: parts of [A-Za-z0-9._-], not starting or \
                ending with '-' or '.', no '--' or '..', at most 96 characters";
    let parts: Vec<&str> = id.split('/').collect();
    let bad = id.is_empty()
        || id.len() > MAX_MODEL_ID_LEN
        || parts.len() > 2
        || id.contains("--")
        || id.contains("..")
        || !parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                && !p.starts_with(['-', '.'])
                && !p.ends_with(['-', '.'])
        });
    if bad {
        Err(format!(
            "{:?} is not a valid Hub model id; {rule}",
            shorten(id)
        ))
    } else {
        Ok(())
    }
}

/// Whether `id` passes [`check_model_id`].
pub fn is_valid_model_id(id: &str) -> bool {
    check_model_id(id).is_ok()
}

/// Whether `rev` is a full git commit sha: 40 lowercase hex digits.
pub fn is_valid_revision(rev: &str) -> bool {
    rev.len() == 40 && is_lower_hex(rev)
}

/// Whether `h` is a sha256 in hex: 64 lowercase hex digits.
pub fn is_valid_sha256(h: &str) -> bool {
    h.len() == 64 && is_lower_hex(h)
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The id as the Hub compares it: ASCII-lowercased.
pub fn fold(id: &str) -> String {
    id.to_ascii_lowercase()
}

/// What an id looks like to a reader: `I`, `1` → `l`; `O`, `0` → `o`; `rn` →
/// `m`; then lowercased. Two ids with the same skeleton but different
/// [`fold`]s are look-alikes.
pub fn skeleton(id: &str) -> String {
    let mapped: String = id
        .chars()
        .map(|c| match c {
            'I' | '1' | '|' => 'l',
            'O' | '0' => 'o',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    mapped.replace("rn", "m")
}

/// Turns any name (a file stem, a folder name) into a valid model-id part:
/// characters outside `[A-Za-z0-9._-]` become `_`, runs of `-` or `.` are
/// collapsed, leading and trailing `-`/`.` are dropped, and the result is cut
/// to fit `org/` + name within [`MAX_MODEL_ID_LEN`]. Never empty.
pub fn sanitize_name(name: &str, org_len: usize) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() || "._-".contains(c) {
            c
        } else {
            '_'
        };
        if (c == '-' || c == '.') && out.ends_with(c) {
            continue;
        }
        out.push(c);
    }
    let room = MAX_MODEL_ID_LEN.saturating_sub(org_len + 1).max(1);
    out.truncate(room);
    let trimmed = out.trim_matches(['-', '.']).to_string();
    if trimmed.is_empty() {
        "model".to_string()
    } else {
        trimmed
    }
}

/// Whether `s` is a plain `https://` URL safe to put in an `href`: no
/// whitespace, control characters, quotes, angle brackets, backslashes or
/// backticks. The site renders only links that pass, and `check` refuses the
/// others, so the two never disagree.
pub fn is_safe_link(s: &str) -> bool {
    s.starts_with("https://")
        && s.len() > "https://".len()
        && s.len() <= 2048
        && !s.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '\\' | '`')
        })
}

/// A string cut to at most 100 characters for an error message, with `…`.
pub fn shorten(s: &str) -> String {
    const MAX: usize = 100;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids() {
        for ok in ["gpt2", "EleutherAI/pythia-70m", "a/b.c_d-e", "x/y"] {
            assert!(is_valid_model_id(ok), "{ok}");
        }
        let long = format!("org/{}", "a".repeat(93));
        for bad in [
            "",
            "/",
            "a/",
            "/b",
            "a/b/c",
            "org/a--b",
            "org/.x",
            "org/x.",
            "-org/x",
            "a..b/c",
            "org/<script>",
            "org/a b",
            long.as_str(),
        ] {
            assert!(!is_valid_model_id(bad), "{bad}");
        }
        assert!(is_valid_model_id(&format!("org/{}", "a".repeat(92))));
    }

    #[test]
    fn look_alikes() {
        assert_eq!(
            fold("Meta-Llama/Llama-2-7b-hf"),
            fold("meta-llama/Llama-2-7b-hf")
        );
        assert_eq!(skeleton("meta-IIama/x"), skeleton("meta-llama/x"));
        assert_eq!(skeleton("g00gle/x"), skeleton("google/x"));
        assert_eq!(skeleton("modem/x"), skeleton("rnodern/x"));
        assert_ne!(skeleton("meta-llama/x"), skeleton("meta-llama/y"));
    }

    #[test]
    fn sanitized_names_are_valid() {
        for raw in [
            "",
            "..",
            "-a-",
            "a--b",
            "x.gguf.",
            "ü/ß",
            &"n".repeat(300),
            ".hidden",
        ] {
            let n = sanitize_name(raw, "local".len());
            assert!(is_valid_model_id(&format!("local/{n}")), "{raw:?} -> {n:?}");
        }
    }
}
