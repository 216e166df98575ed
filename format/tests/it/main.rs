//! The format crate's integration tests, in one binary: reading and writing
//! ([`io`]), `check` on good and hostile folders ([`check`]), the consistency
//! rules ([`rules`]), seeded corruptions ([`fuzz`]) and a file written by pyarrow
//! ([`pyarrow`]). Files built to exhaust a reader are run through both
//! binaries by the evaluator's `check_cli` test.

mod check;
mod fuzz;
mod io;
mod pyarrow;
mod requests;
mod rules;
