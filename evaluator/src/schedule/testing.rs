//! Test fixtures of the scheduling modules: a deterministic stand-in model whose logits at a position are a fixed function of the whole prefix up to it, and task-shaped tries.
//!
//! With that model, shared and unshared execution must agree bit for bit; numerics on
//! the real model are `tests/schedule_equivalence.rs`'s job.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use candle_core::{Device, Tensor};

use super::execute::{execute, execute_unshared, Done, ExecStats};
use super::trie::Trie;
use crate::engine::Scored;
use crate::model::{CausalLm, KvCache, ModelInfo};

pub(super) const VOCAB: usize = 7;

pub(super) struct PrefixHashLm {
    info: ModelInfo,
    device: Device,
    pub(super) forwarded: AtomicU64,
    /// What [`CausalLm::batch_invariant`] says (its rows are a function of the prefix
    /// alone, so it is true; false makes resumed runs rerun whole batches).
    pub(super) invariant: bool,
}

impl PrefixHashLm {
    pub(super) fn new() -> Self {
        PrefixHashLm {
            info: ModelInfo {
                architecture: "prefix-hash".into(),
                vocab_size: VOCAB,
                max_length: 64,
                bos_token_id: None,
                eos_token_ids: vec![],
                precision: leaderboard_format::schema::Precision::Float32,
                precision_detail: None,
                params: 0,
                weights_sha256: "0".repeat(64),
                source_path: "prefix-hash".into(),
            },
            device: Device::Cpu,
            forwarded: AtomicU64::new(0),
            invariant: true,
        }
    }

    /// A model that does not claim [`CausalLm::batch_invariant`].
    pub(super) fn whole_batches() -> Self {
        PrefixHashLm {
            invariant: false,
            ..Self::new()
        }
    }
}

fn row(prefix: &[u32]) -> Vec<f32> {
    let mut h: u64 = 0xcbf29ce484222325;
    for &t in prefix {
        h = (h ^ t as u64).wrapping_mul(0x100000001b3);
    }
    (0..VOCAB as u64)
        .map(|v| {
            let x = (h ^ v.wrapping_mul(0x9e3779b97f4a7c15)).wrapping_mul(0xff51afd7ed558ccd);
            ((x >> 40) % 1000) as f32 / 97.0
        })
        .collect()
}

impl CausalLm for PrefixHashLm {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn device(&self) -> &Device {
        &self.device
    }
    fn new_cache(&self) -> KvCache {
        KvCache::new(1)
    }
    fn batch_invariant(&self) -> bool {
        self.invariant
    }
    fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> candle_core::Result<Tensor> {
        let mut prefix: Vec<u32> = match cache.get(0) {
            Some((k, _)) => k
                .flatten_all()?
                .to_vec1::<f32>()?
                .iter()
                .map(|&x| x as u32)
                .collect(),
            None => Vec::new(),
        };
        let mut rows = Vec::new();
        for &t in tokens {
            prefix.push(t);
            rows.extend(row(&prefix));
        }
        let n = tokens.len();
        let new: Vec<f32> = tokens.iter().map(|&t| t as f32).collect();
        let k = Tensor::from_vec(new, (1, n, 1), &self.device)?;
        cache.append(0, k.clone(), k)?;
        cache.advance(n);
        self.forwarded.fetch_add(n as u64, Ordering::Relaxed);
        Tensor::from_vec(rows, (n, VOCAB), &self.device)
    }
}

pub(super) fn run(
    m: &PrefixHashLm,
    trie: &Trie,
    shared: bool,
    needed: Option<&[bool]>,
) -> (Vec<Option<Scored>>, ExecStats) {
    run_batched(m, trie, shared, needed, 1)
}

pub(super) fn run_batched(
    m: &PrefixHashLm,
    trie: &Trie,
    shared: bool,
    needed: Option<&[bool]>,
    batch_tokens: usize,
) -> (Vec<Option<Scored>>, ExecStats) {
    let mut out = vec![None; trie.num_requests()];
    let mut cb = |d: Done| -> Result<()> {
        assert!(out[d.request as usize].is_none(), "request reported twice");
        out[d.request as usize] = Some(d.scored);
        Ok(())
    };
    let stats = if shared {
        execute(m, trie, needed, batch_tokens, &mut cb).unwrap()
    } else {
        execute_unshared(m, trie, needed, &mut cb).unwrap()
    };
    (out, stats)
}

pub(super) fn task_trie(n: usize, seed: u64) -> Trie {
    let reqs = crate::schedule::trie::tests::task_like_requests(n, seed, VOCAB as u64);
    let mut trie = Trie::new();
    for (c, k) in &reqs {
        trie.insert(c, k);
    }
    trie.finish();
    trie
}
