//! How much of the v1 leaderboard the evaluator can re-evaluate: over the bundled
//! archive's 7,169 runs, the share of those whose architecture is known that run an
//! architecture the evaluator supports (`leaderboard_format::architectures::HF`, the one
//! list the site's re-evaluable marker reads too). Printed with the counts per
//! architecture; issue 15 aims at 97%.

use leaderboard_format::schema::Run;
use std::collections::BTreeMap;
use std::path::Path;

fn archive() -> Vec<Run> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/open-llm-leaderboard-v1.parquet");
    leaderboard_format::read_file(&p).unwrap()
}

fn known(r: &Run) -> Option<&str> {
    r.architecture
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "?" && !a.eq_ignore_ascii_case("unknown"))
}

#[test]
fn share_of_known_architecture_v1_runs_the_evaluator_supports() {
    let runs = archive();
    assert_eq!(runs.len(), 7169);
    let mut per_arch: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut known_runs, mut supported) = (0usize, 0usize);
    for r in &runs {
        let Some(a) = known(r) else { continue };
        known_runs += 1;
        *per_arch.entry(a).or_default() += 1;
        if leaderboard::site::view::reevaluable(r) {
            supported += 1;
        }
    }
    let share = supported as f64 / known_runs as f64;
    let mut top: Vec<(&str, usize)> = per_arch.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    println!("known-architecture v1 runs: {known_runs} of {}", runs.len());
    for (a, n) in top.iter().take(20) {
        let mark = if leaderboard_format::architectures::is_supported_hf(a) {
            "supported"
        } else {
            ""
        };
        println!("  {a:<32} {n:>5}  {mark}");
    }
    println!(
        "supported: {supported} of {known_runs} = {:.1}%",
        share * 100.0
    );
    assert_eq!(known_runs, 6413);
    // Llama, Mistral, Mixtral, GPT-2, Qwen2, GPT-NeoX, Phi, Gemma, OPT, GPT-J, Bloom,
    // Cohere: 2,607 + 2,364 + 459 + 142 + 139 + 129 + 111 + 109 + 69 + 41 + 34 + 18, and one
    // run whose `architecture` lists two names, one of them supported: 97.0%.
    assert_eq!(supported, 6223);
    assert!(share >= 0.97, "{share}");
}
