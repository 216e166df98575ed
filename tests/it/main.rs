//! The root crate's integration tests, in one binary: the v1 import ([`import_v1`]), the
//! committed fixture results ([`results_fixture`]), the site built from the fixture
//! ([`site_fixture`]) and from the whole v1 archive ([`site_archive`]), and the site in
//! headless Chromium ([`browser`]); killed builds ([`site_swap`]); the queue page ([`site_queue`]). Helpers in [`support`]; data from the repository's
//! `data/leaderboard` and `results/`.

mod architecture_coverage;
mod browser;
mod import_lighteval_details;
mod import_lm_eval;
mod import_samples;
mod import_v1;
mod results_fixture;
mod site_archive;
mod site_compare;
mod site_fixture;
mod site_queue;
mod site_reader;
mod site_swap;
mod site_verified;
mod submit;
mod support;
