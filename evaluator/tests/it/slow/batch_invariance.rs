//! A sequence's logits and cache do not depend on the other sequences of a batched forward, bit for bit, on the real SmolLM2 GGUF; so a resumed run forwards only what is left and still matches an uninterrupted run exactly.
//!
//! `CausalLm::batch_invariant` is what lets a resumed run forward a subset of a planned
//! batch (`schedule::steps`). Checked here:
//! - the model (GGUF weights dequantized to f32 on the CPU, what `evaluator run` uses)
//!   claims it, and the same file kept quantized does not;
//! - a batch of six sequences (three after a shared prefix's cache, three from an empty
//!   one; some kept, some scored only; edges of 1 to 130 tokens, the last one longer
//!   than an attention query block) against every subset of it: each sequence's logits
//!   rows and kept cache are bit-identical, for every subset (those that would put one
//!   row through a product where the batch put more get the executor's one-token pad);
//! - on real ARC-Challenge 25-shot requests, interleaved by a small batch budget, a run
//!   resumed after 40 % of its requests forwards only the tokens of what is left (the
//!   unanswered requests' edges and the prefixes above them, plus a padding token per
//!   forward at most) and
//!   gives every remaining request exactly the uninterrupted run's scores.

use crate::support::model::test_model;

use candle_core::{DType, Device};
use evaluator::data::LocalDir;
use evaluator::engine::Scored;
use evaluator::model::{self, CausalLm, KvCache, Seq};
use evaluator::requests::Request;
use evaluator::schedule::steps::tokens_to_forward;
use evaluator::schedule::{execute, Done, Trie};
use evaluator::suite::Suite;
use evaluator::tasks::{self, BuildOptions};
use evaluator::tokenizer::harness::{self, Options};
use evaluator::tokenizer::Tokenizer;
use leaderboard_format::schema::Benchmark;

/// One sequence of the test batch.
struct Spec {
    tokens: Vec<u32>,
    n_last: usize,
    keep: bool,
    after_prefix: bool,
}

/// What a sequence produced: its logits rows and, when kept, every layer's keys and
/// values (all positions).
#[derive(PartialEq)]
struct Out {
    logits: Vec<u32>,
    cache: Vec<u32>,
}

fn bits(t: &candle_core::Tensor) -> Vec<u32> {
    t.flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|x| x.to_bits())
        .collect()
}

fn cache_bits(c: &KvCache) -> Vec<u32> {
    let mut out = Vec::new();
    for l in 0..c.n_layers() {
        let (k, v) = c.get(l).expect("a kept cache holds every layer");
        out.extend(bits(&k));
        out.extend(bits(&v));
    }
    out
}

/// Forwards the sequences `which` of `specs` in one batch, then, with `pad`, a one-token
/// sequence from an empty cache with that many logits rows (outputs dropped), as the
/// executor pads a subset whose products would have one row.
fn forward(
    m: &dyn CausalLm,
    prefix: &KvCache,
    specs: &[Spec],
    which: &[usize],
    pad: Option<usize>,
) -> Vec<Out> {
    let mut caches: Vec<KvCache> = which
        .iter()
        .map(|&i| {
            if specs[i].after_prefix {
                prefix.clone()
            } else {
                m.new_cache()
            }
        })
        .collect();
    let logits = {
        let mut seqs: Vec<Seq> = which
            .iter()
            .zip(caches.iter_mut())
            .map(|(&i, cache)| Seq {
                tokens: &specs[i].tokens,
                n_last: specs[i].n_last,
                cache,
                keep_cache: specs[i].keep,
            })
            .collect();
        let mut pad_cache = m.new_cache();
        let pad_token = [specs[which[0]].tokens[0]];
        if let Some(n_last) = pad {
            seqs.push(Seq {
                tokens: &pad_token,
                n_last,
                cache: &mut pad_cache,
                keep_cache: false,
            });
        }
        m.forward_batch(&mut seqs).unwrap()
    };
    let vocab = m.info().vocab_size;
    let flat = logits.as_ref().map(bits).unwrap_or_default();
    let mut row = 0;
    which
        .iter()
        .zip(&caches)
        .map(|(&i, cache)| {
            let n = specs[i].n_last;
            let out = Out {
                logits: flat[row * vocab..(row + n) * vocab].to_vec(),
                cache: if specs[i].keep {
                    cache_bits(cache)
                } else {
                    Vec::new()
                },
            };
            row += n;
            out
        })
        .collect()
}

#[test]
fn each_sequence_of_a_batch_is_computed_independently_of_the_others() {
    let path = test_model();
    let m = model::load(&path, &Device::Cpu, Some(DType::F32)).unwrap();
    assert!(
        m.batch_invariant(),
        "f32 weights on a CPU are batch invariant"
    );
    let q = model::gguf::load(&path, &Device::Cpu, None, model::Kernels::Quantized).unwrap();
    assert!(
        !q.batch_invariant(),
        "quantized weights switch kernels on the row count: not claimed"
    );
    drop(q);

    let vocab = m.info().vocab_size as u64;
    let mut s: u64 = 7;
    let mut ids = |n: usize| -> Vec<u32> {
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 33) % vocab) as u32
            })
            .collect()
    };
    let mut prefix = m.new_cache();
    m.forward(&ids(40), &mut prefix).unwrap();
    let specs = vec![
        Spec {
            tokens: ids(1),
            n_last: 1,
            keep: false,
            after_prefix: true,
        },
        Spec {
            tokens: ids(3),
            n_last: 3,
            keep: true,
            after_prefix: true,
        },
        Spec {
            tokens: ids(17),
            n_last: 0,
            keep: true,
            after_prefix: false,
        },
        Spec {
            tokens: ids(40),
            n_last: 5,
            keep: false,
            after_prefix: true,
        },
        Spec {
            tokens: ids(2),
            n_last: 1,
            keep: true,
            after_prefix: false,
        },
        Spec {
            tokens: ids(130),
            n_last: 2,
            keep: true,
            after_prefix: false,
        },
    ];
    let all: Vec<usize> = (0..specs.len()).collect();
    let whole = forward(m.as_ref(), &prefix, &specs, &all, None);
    let rows = |which: &[usize]| -> (usize, usize) {
        which.iter().fold((0, 0), |(t, r), &i| {
            (t + specs[i].tokens.len(), r + specs[i].n_last)
        })
    };
    let (all_tokens, all_rows) = rows(&all);
    let mut padded = 0;
    for mask in 1u32..(1 << specs.len()) - 1 {
        let which: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| mask & (1 << i) != 0)
            .collect();
        let (t, r) = rows(&which);
        // The proviso: a product with one row where the whole batch's had more.
        let one_logits_row = r == 1 && all_rows > 1;
        let pad =
            ((t == 1 && all_tokens > 1) || one_logits_row).then_some(usize::from(one_logits_row));
        padded += usize::from(pad.is_some());
        let got = forward(m.as_ref(), &prefix, &specs, &which, pad);
        for (&i, g) in which.iter().zip(&got) {
            assert!(
                *g == whole[i],
                "sequence {i} with {which:?} (pad {pad:?}) differs from the whole batch"
            );
        }
    }
    eprintln!(
        "{} subsets bit-identical to the whole batch ({padded} of them padded)",
        (1 << specs.len()) - 2
    );
    assert!(padded > 0);
}

#[test]
fn a_resumed_run_forwards_only_what_is_left_and_matches() {
    let path = test_model();
    let tok = Tokenizer::for_model(&path).unwrap();
    let m = model::load(&path, &Device::Cpu, None).unwrap();
    assert!(
        m.batch_invariant(),
        "the evaluator's default load (f32 copy on a CPU) is batch invariant"
    );
    let opts = Options::for_suite(Suite::OpenLlmV1, &tok, m.info().max_length);
    let data = LocalDir::new(crate::support::data_dir());
    let mut o = BuildOptions::new(Suite::OpenLlmV1);
    o.limit = Some(4);
    let tr = tasks::build(Benchmark::Arc, &data, &o).unwrap();
    let mut trie = Trie::new();
    for d in &tr.docs {
        for r in &d.requests {
            if let Request::LogLikelihood {
                context,
                continuation,
            } = r
            {
                let ll =
                    harness::loglikelihood_request(&tok, &opts, context, continuation).unwrap();
                trie.insert(&ll.ctx, &ll.cont);
            }
        }
    }
    trie.finish();
    // A budget under two contexts: batches mix answers of one question with the next
    // question's context, so whole-batch reruns would chain back to the first batch.
    let budget = 1024;
    let mut order = Vec::new();
    let mut all: Vec<Option<Scored>> = vec![None; trie.num_requests()];
    let full = execute(m.as_ref(), &trie, None, budget, &mut |d: Done| {
        order.push(d.request);
        all[d.request as usize] = Some(d.scored);
        Ok(())
    })
    .unwrap();
    let mut needed = vec![true; trie.num_requests()];
    for &r in &order[..order.len() * 2 / 5] {
        needed[r as usize] = false;
    }
    let mut some: Vec<Option<Scored>> = vec![None; trie.num_requests()];
    let part = execute(m.as_ref(), &trie, Some(&needed), budget, &mut |d: Done| {
        assert!(
            needed[d.request as usize],
            "request {} was answered",
            d.request
        );
        some[d.request as usize] = Some(d.scored);
        Ok(())
    })
    .unwrap();
    let whole_batches = tokens_to_forward(&trie, Some(&needed), budget, false);
    eprintln!(
        "{} requests, {} done before the stop: resumed run forwarded {} tokens in {} forwards; \
         uninterrupted {} in {}; rerunning whole batches would forward {whole_batches}",
        trie.num_requests(),
        order.len() * 2 / 5,
        part.tokens_forwarded,
        part.forwards,
        full.tokens_forwarded,
        full.forwards
    );
    assert_eq!(
        part.tokens_forwarded,
        tokens_to_forward(&trie, Some(&needed), budget, true)
    );
    // The least a resumed run can forward: the nodes whose subtree holds a request left.
    let mut left = vec![false; trie.num_nodes()];
    for &n in trie.preorder().iter().rev() {
        let node = trie.node(n);
        left[n as usize] = node.targets.iter().any(|t| needed[t.request as usize])
            || node.children.iter().any(|&c| left[c as usize]);
    }
    let least: u64 = (1..trie.num_nodes() as u32)
        .filter(|&n| left[n as usize])
        .map(|n| trie.edge(n).len() as u64)
        .sum();
    eprintln!(
        "least {least}; shared prefix edges under the root: {:?}",
        trie.node(Trie::ROOT)
            .children
            .iter()
            .map(|&c| trie.edge(c).len())
            .collect::<Vec<_>>()
    );
    assert!(part.tokens_forwarded >= least);
    // At most one padding token per forward.
    assert!(part.tokens_forwarded <= least + part.forwards as u64);
    assert!(part.tokens_forwarded < whole_batches);
    for r in 0..trie.num_requests() {
        if needed[r] {
            assert!(
                some[r] == all[r],
                "request {r}: resumed {:?} vs uninterrupted {:?}",
                some[r],
                all[r]
            );
        } else {
            assert!(some[r].is_none());
        }
    }
}
