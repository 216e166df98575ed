//! Safe, collision-free file names for model pages.
//!
//! Rule (mirrored by `assets/app.js`, function `baseSlug`): every character of
//! the model id maps to the page name as follows — `a-z 0-9 . _ -` are kept,
//! `A-Z` are lowercased, `/` becomes `--`, anything else (including non-ASCII)
//! becomes `-`. Ids whose base slug is not usable as-is get a final slug that
//! differs from the rule and is shipped to the browser as an exception:
//! - several ids with the same base slug (ids differing only by case, or by
//!   replaced characters) each get `-` plus the first 10 hex digits of the
//!   sha256 of the id appended, so no two pages collide even on
//!   case-insensitive file systems;
//! - empty, dot-leading (`..`, `.hidden`), over-long (> 120 bytes) or
//!   Windows-reserved (`con`, `nul`, …) slugs are replaced by `m-` plus the hash.
//!
//! Pages live at `models/<slug>.html`.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const MAX_LEN: usize = 120;
const RESERVED: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// The base slug of a model id, by the rule in the module docs.
pub fn base_slug(id: &str) -> String {
    let mut s = String::with_capacity(id.len() + 2);
    for c in id.chars() {
        match c {
            'a'..='z' | '0'..='9' | '.' | '_' | '-' => s.push(c),
            'A'..='Z' => s.push(c.to_ascii_lowercase()),
            '/' => s.push_str("--"),
            _ => s.push('-'),
        }
    }
    s
}

fn hash10(id: &str) -> String {
    let d = Sha256::digest(id.as_bytes());
    d.iter().take(5).map(|b| format!("{b:02x}")).collect()
}

fn usable(slug: &str) -> bool {
    let stem = slug.split('.').next().unwrap_or("");
    !slug.is_empty() && !slug.starts_with('.') && slug.len() <= MAX_LEN && !RESERVED.contains(&stem)
}

/// Slugs for a set of model ids: id → slug, distinct even after case folding.
pub fn assign(ids: &[&str]) -> BTreeMap<String, String> {
    let mut by_base: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for id in ids {
        by_base.entry(base_slug(id)).or_default().push(id);
    }
    let mut out = BTreeMap::new();
    for (base, mut group) in by_base {
        group.sort_unstable();
        group.dedup();
        let unique = group.len() == 1;
        for id in group {
            let slug = if !usable(&base) {
                format!("m-{}", hash10(id))
            } else if unique {
                base.clone()
            } else {
                let keep = base.len().min(MAX_LEN - 11);
                let cut = (0..=keep)
                    .rev()
                    .find(|i| base.is_char_boundary(*i))
                    .unwrap_or(0);
                format!("{}-{}", &base[..cut], hash10(id))
            };
            out.insert(id.to_string(), slug);
        }
    }
    // A suffixed slug could in theory equal another id's base slug; the hash
    // makes that astronomically unlikely, but never write two pages to one file.
    let mut seen = std::collections::BTreeSet::new();
    for slug in out.values_mut() {
        while !seen.insert(slug.clone()) {
            let h = hash10(slug);
            *slug = format!("m-{h}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule() {
        assert_eq!(base_slug("EleutherAI/pythia-70m"), "eleutherai--pythia-70m");
        assert_eq!(
            base_slug("<script>alert(1)</script>"),
            "-script-alert-1----script-"
        );
        assert_eq!(base_slug("a b/ü.x"), "a-b---.x");
    }

    #[test]
    fn case_collisions_are_separated() {
        let ids = [
            "Weyaxi/Bagel-Hermes-2x34b",
            "Weyaxi/Bagel-Hermes-2x34B",
            "gpt2",
        ];
        let m = assign(&ids);
        let a = &m["Weyaxi/Bagel-Hermes-2x34b"];
        let b = &m["Weyaxi/Bagel-Hermes-2x34B"];
        assert_ne!(a.to_lowercase(), b.to_lowercase());
        assert!(a.starts_with("weyaxi--bagel-hermes-2x34b-"));
        assert_eq!(m["gpt2"], "gpt2");
    }

    #[test]
    fn hostile_ids_are_safe() {
        let ids = [
            "..",
            ".",
            "",
            "../../etc/passwd",
            "con",
            "x".repeat(300).leak() as &str,
        ];
        let m = assign(&ids);
        for (id, s) in &m {
            assert!(usable(s), "{id:?} -> {s:?}");
            assert!(s
                .chars()
                .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-')));
        }
        assert_eq!(
            m.values().collect::<std::collections::BTreeSet<_>>().len(),
            m.len()
        );
    }
}
