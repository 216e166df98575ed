//! Causal self-attention over a packed batch, each sequence against its own KV cache:
//! the part every architecture shares once its queries, keys and values are projected
//! (and rotated, where it uses rotary embeddings); and packing a batch of sequences into
//! rows ([`pack`]), keeping their caches ([`commit`]) and picking the rows to score
//! ([`last_rows`]).

use candle_core::{DType, Device, Result, Tensor};

use super::softmax::{causal_softmax, causal_softmax_alibi};
use super::unary::{self, Unary};
use super::{KvCache, Seq};
use crate::profile::time;

/// Query rows per attention block: a block of a long new segment multiplies against the
/// keys up to its own last position only.
pub(crate) const QUERY_BLOCK: usize = 128;

/// One sequence of a batched forward call ([`CausalLm::forward_batch`]).
pub(crate) struct Span {
    /// First row of this sequence in the packed `[total_tokens, hidden]` activations.
    pub row: usize,
    pub len: usize,
    /// Store this sequence's keys and values in its cache ([`Seq::keep_cache`]).
    pub keep: bool,
}

/// How a layer's attention scores are formed and masked, beyond the causal mask.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttnOpts<'a> {
    /// Scores are `q·k × scale` (usually 1/sqrt(head_dim); Gemma 2/3:
    /// `query_pre_attn_scalar^-0.5`).
    pub scale: f64,
    /// ALiBi: per-head slopes (`[nh]`, f32; multi-head only); `slope_h · j` is added for
    /// key position j.
    pub alibi: Option<&'a Tensor>,
    /// Sliding window: a query at position p sees keys `p - window + 1 ..= p` only.
    pub window: Option<usize>,
    /// Soft-capping (Gemma 2): scores become `cap · tanh(scores / cap)` before the mask.
    pub softcap: Option<f64>,
}

impl AttnOpts<'_> {
    /// Plain causal attention scaled by 1/sqrt(head_dim).
    pub fn plain(head_dim: usize) -> Self {
        AttnOpts {
            scale: 1.0 / (head_dim as f64).sqrt(),
            alibi: None,
            window: None,
            softcap: None,
        }
    }
}

/// Attention of every sequence of a packed batch: `q` `[nh, rows, hd]`, `k` and `v`
/// `[nkv, rows, hd]` (the rows of all sequences, `spans` saying whose), appended to (or,
/// for a sequence whose cache is not kept, read beside) layer `idx` of each sequence's
/// cache, scored as `opts` says, under each sequence's causal mask (and sliding window);
/// softmax in f32. Returns `[rows, nh * hd]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn attend(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    idx: usize,
    spans: &[Span],
    caches: &mut [KvCache],
    dtype: DType,
    nh: usize,
    hd: usize,
    opts: &AttnOpts<'_>,
) -> Result<Tensor> {
    let nkv = k.dim(0)?;
    let alibi = opts.alibi;
    if alibi.is_some() && nkv != nh {
        candle_core::bail!("ALiBi with grouped-query attention is not supported");
    }
    let single = spans.len() == 1;
    let part = |t: &Tensor, s: &Span| -> Result<Tensor> {
        if single {
            Ok(t.clone())
        } else {
            t.narrow(1, s.row, s.len)?.contiguous()
        }
    };
    let scale = opts.scale;
    let n_rep = nh / nkv;
    let alibi_in_softmax = match alibi {
        Some(s) if dtype == DType::F32 && s.device().is_cpu() && opts.window.is_none() => {
            Some(s.to_dtype(DType::F32)?.to_vec1::<f32>()?)
        }
        _ => None,
    };
    let one = |s: &Span, cache: &mut KvCache| -> Result<Tensor> {
        let seq = s.len;
        let (k, v) = time("└ kv cache append (thread s)", 0.0, || -> Result<_> {
            if s.keep {
                cache.append(idx, part(k, s)?, part(v, s)?)
            } else {
                cache.extended(idx, part(k, s)?, part(v, s)?)
            }
        })?;
        let total = k.dim(1)?;
        let offset = total - seq;
        // [nh, 1, total]: slope_h * j, in the activation dtype (as Bloom builds it);
        // none where the softmax op adds it itself (f32 on a CPU).
        let bias = match alibi {
            Some(slopes) if alibi_in_softmax.is_none() => {
                let j = Tensor::arange(0u32, total as u32, slopes.device())?
                    .to_dtype(DType::F32)?
                    .reshape((1, 1, total))?;
                Some(
                    slopes
                        .reshape((nh, 1, 1))?
                        .broadcast_mul(&j)?
                        .to_dtype(dtype)?,
                )
            }
            _ => None,
        };
        // [nh, seq, hd]. Query blocks: block [i0, i0 + b) sees keys lo..offset + i0 + b
        // only (lo: 0, or the first key its first query's sliding window holds), so a
        // long new segment does about half the work of a full score matrix.
        let q = time("└ attention copies (thread s)", 0.0, || part(q, s))?;
        let mut blocks = Vec::with_capacity(seq.div_ceil(QUERY_BLOCK));
        let mut i0 = 0;
        while i0 < seq {
            let b = (seq - i0).min(QUERY_BLOCK);
            let lo = opts
                .window
                .map_or(0, |w| (offset + i0 + 1).saturating_sub(w));
            let keys = offset + i0 + b - lo;
            let first = offset + i0 - lo;
            // (Narrowing to a whole axis is a view, not a copy.)
            let qb = time("└ attention copies (thread s)", 0.0, || {
                q.narrow(1, i0, b)?.contiguous()
            })?;
            let (kb, vb) = (k.narrow(1, lo, keys)?, v.narrow(1, lo, keys)?);
            // Grouped-query attention without copying K/V: the n_rep query heads that
            // share a key/value head are stacked along the row axis.
            let qb = qb.reshape((nkv, n_rep * b, hd))?;
            let flops = 2.0 * (nh * b * keys * hd) as f64;
            let att = time(
                "└ attention q·k (thread s)",
                flops,
                || match super::gemm::linear(&qb, &kb)? {
                    Some(att) => Ok(att),
                    None => qb.matmul(&kb.t()?),
                },
            )?;
            let win = opts.window;
            let softmax = time(
                "└ attention softmax (thread s)",
                0.0,
                || -> Result<Tensor> {
                    Ok(if let Some(slopes) = &alibi_in_softmax {
                        causal_softmax_alibi(&att, b, first, scale, slopes, lo)?
                    } else if let Some(bias) = &bias {
                        let att = (att * scale)?.broadcast_add(&bias.narrow(2, lo, keys)?)?;
                        causal_softmax(&att.to_dtype(DType::F32)?, b, first, 1.0, win)?
                            .to_dtype(dtype)?
                    } else if let Some(cap) = opts.softcap {
                        // Gemma 2: scaled, divided by the cap, tanh, times the cap, in the
                        // activation dtype; softmax in f32.
                        let att = (att * (scale / cap))?;
                        let att = (unary::apply(&att, Unary::Tanh)? * cap)?.to_dtype(DType::F32)?;
                        causal_softmax(&att, b, first, 1.0, win)?.to_dtype(dtype)?
                    } else if dtype == DType::F32 {
                        causal_softmax(&att, b, first, scale, win)?
                    } else {
                        // Scaled in the activation dtype, softmax in f32 (HF eager attention).
                        let att = (att * scale)?.to_dtype(DType::F32)?;
                        causal_softmax(&att, b, first, 1.0, win)?.to_dtype(dtype)?
                    })
                },
            );
            let att = softmax?;
            // [nkv, n_rep*b, hd] == [nh, b, hd]
            let out = time("└ attention ·v (thread s)", flops, || att.matmul(&vb))?;
            blocks.push(out.reshape((nh, b, hd))?);
            i0 += b;
        }
        let out = time(
            "└ attention copies (thread s)",
            0.0,
            || -> Result<Tensor> {
                let out = if blocks.len() == 1 {
                    blocks.pop().expect("one block")
                } else {
                    Tensor::cat(&blocks, 1)?
                };
                out.transpose(0, 1)?.reshape((seq, nh * hd))
            },
        )?;
        Ok(out)
    };
    // On a CPU the sequences run in parallel, each on one thread (its products are too
    // small to split well; a group with more than a thread's share of the work runs on
    // its own first), except that sequences whose caches share a buffer run one
    // after the other in batch order, as a group (siblings write their keys at the same
    // positions of it: see `KvCache::extended`); elsewhere all one after the other.
    let mut outs: Vec<Tensor> = time("attention (all sequences)", 0.0, || {
        if !q.device().is_cpu() || single {
            return spans
                .iter()
                .zip(caches.iter_mut())
                .map(|(s, cache)| one(s, cache))
                .collect::<Result<_>>();
        }
        use rayon::prelude::*;
        let mut groups: Vec<Vec<(usize, &mut KvCache)>> = Vec::new();
        let mut group_of: std::collections::HashMap<usize, usize> = Default::default();
        for (i, cache) in caches.iter_mut().enumerate() {
            match cache.buffer_key(idx) {
                Some(key) => {
                    let g = *group_of.entry(key).or_insert_with(|| {
                        groups.push(Vec::new());
                        groups.len() - 1
                    });
                    groups[g].push((i, cache));
                }
                None => groups.push(vec![(i, cache)]),
            }
        }
        // A group with more than its share of the work (a long context beside short
        // continuations) runs alone, its products split over the threads instead.
        let work = |g: &[(usize, &mut KvCache)]| -> usize {
            g.iter()
                .map(|(i, c)| spans[*i].len * (c.len() + spans[*i].len))
                .sum()
        };
        let total: usize = groups.iter().map(|g| work(g)).sum();
        let share = total / rayon::current_num_threads().max(1);
        let (heavy, light): (Vec<_>, Vec<_>) = groups.into_iter().partition(|g| work(g) > share);
        let run = |g: Vec<(usize, &mut KvCache)>| -> Result<Vec<(usize, Tensor)>> {
            g.into_iter()
                .map(|(i, cache)| Ok((i, one(&spans[i], cache)?)))
                .collect()
        };
        let mut done: Vec<Vec<(usize, Tensor)>> =
            heavy.into_iter().map(run).collect::<Result<_>>()?;
        done.extend(light.into_par_iter().map(run).collect::<Result<Vec<_>>>()?);
        let mut outs: Vec<Option<Tensor>> = vec![None; spans.len()];
        for (i, t) in done.into_iter().flatten() {
            outs[i] = Some(t);
        }
        Ok(outs
            .into_iter()
            .map(|t| t.expect("every span attended"))
            .collect())
    })?;
    time("attention copies", 0.0, || {
        if single {
            Ok(outs.pop().expect("one span"))
        } else {
            Tensor::cat(&outs, 0)
        }
    })
}

/// A batch packed row after row: token ids, each row's position, each sequence's span,
/// and a working copy of each sequence's cache (kept by [`commit`]).
pub(crate) struct Packed {
    pub ids: Vec<u32>,
    pub positions: Vec<usize>,
    pub spans: Vec<Span>,
    pub work: Vec<KvCache>,
}

/// Packs `batch`, refusing an empty batch or sequence, a cache of another layer count
/// or a token outside the vocabulary.
pub(crate) fn pack(batch: &[Seq<'_>], n_layers: usize, vocab: usize) -> Result<Packed> {
    let mut ids: Vec<u32> = Vec::new();
    let mut positions: Vec<usize> = Vec::new();
    let mut spans = Vec::with_capacity(batch.len());
    for s in batch.iter() {
        if s.tokens.is_empty() {
            candle_core::bail!("forward called with no tokens");
        }
        if s.cache.n_layers() != n_layers {
            candle_core::bail!(
                "KV cache made for {} layers, model has {n_layers}",
                s.cache.n_layers()
            );
        }
        let (seq, offset) = (s.tokens.len(), s.cache.len());
        if let Some(&bad) = s.tokens.iter().find(|&&t| t as usize >= vocab) {
            candle_core::bail!("token id {bad} is outside the vocabulary ({vocab})");
        }
        spans.push(Span {
            row: ids.len(),
            len: seq,
            keep: s.keep_cache,
        });
        ids.extend_from_slice(s.tokens);
        positions.extend(offset..offset + seq);
    }
    if spans.is_empty() {
        candle_core::bail!("forward called with an empty batch");
    }
    let work = batch.iter().map(|s| s.cache.clone()).collect();
    Ok(Packed {
        ids,
        positions,
        spans,
        work,
    })
}

/// Keeps the extended caches of the sequences that asked for it.
pub(crate) fn commit(batch: &mut [Seq<'_>], work: Vec<KvCache>, spans: &[Span]) {
    for ((s, mut w), span) in batch.iter_mut().zip(work).zip(spans) {
        if span.keep {
            w.advance(span.len);
            *s.cache = w;
        }
    }
}

/// The rows of `h` (all rows of the packed batch) that each sequence asks logits for
/// (its last `n_last`), in batch order; `None` when there are none.
pub(crate) fn last_rows(h: Tensor, batch: &[Seq<'_>], device: &Device) -> Result<Option<Tensor>> {
    let total = h.dim(0)?;
    let mut rows: Vec<u32> = Vec::new();
    let mut end = 0usize;
    for s in batch.iter() {
        end += s.tokens.len();
        let n = s.n_last.min(s.tokens.len());
        rows.extend((end - n..end).map(|r| r as u32));
    }
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(if rows.len() == total {
        h
    } else if batch.len() == 1 {
        h.narrow(0, total - rows.len(), rows.len())?.contiguous()?
    } else {
        let idx = Tensor::new(rows.as_slice(), device)?;
        h.index_select(&idx, 0)?
    }))
}

/// Rotary cos and sin for each of `positions`, `[positions.len(), inv_freq.len()]`, computed
/// HF-style in f32 (angle = position × inverse frequency), then cast to `dtype`.
pub(crate) fn rope_tables(
    inv_freq: &[f32],
    positions: &[usize],
    dtype: DType,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let half = inv_freq.len();
    let len = positions.len();
    let mut cos = Vec::with_capacity(len * half);
    let mut sin = Vec::with_capacity(len * half);
    for &p in positions {
        for &f in inv_freq {
            let a = p as f32 * f;
            cos.push(a.cos());
            sin.push(a.sin());
        }
    }
    let cos = Tensor::from_vec(cos, (len, half), device)?.to_dtype(dtype)?;
    let sin = Tensor::from_vec(sin, (len, half), device)?.to_dtype(dtype)?;
    Ok((cos, sin))
}

/// [`super::CausalLm::forward_last`] of a model whose [`super::CausalLm::forward_batch`]
/// packs: a batch of one.
pub(crate) fn forward_last_of_batch<M: super::CausalLm + ?Sized>(
    m: &M,
    tokens: &[u32],
    n_last: usize,
    cache: &mut KvCache,
) -> Result<Tensor> {
    let n_last = n_last.clamp(1, tokens.len().max(1));
    let mut batch = [Seq {
        tokens,
        n_last,
        cache,
        keep_cache: true,
    }];
    match m.forward_batch(&mut batch)? {
        Some(t) => Ok(t),
        None => candle_core::bail!("forward called with no tokens"),
    }
}
