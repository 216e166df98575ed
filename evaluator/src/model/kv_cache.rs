//! The key/value cache of a causal LM: a plain value that the caller owns, clones and extends.
//!
//! Layout: for every layer, keys and values after rotary embedding, in buffers of shape
//! `[n_kv_heads, capacity, head_dim]` (model activation dtype, model device) of which the
//! first [`KvCache::len`] positions are this cache's. [`Clone`] is cheap (no copy): clones
//! share the buffers, and each stays independent because positions below a buffer's
//! *write mark* are never written again:
//!
//! - a cache extended at the mark (the buffer's newest owner, e.g. a decode step) writes
//!   the new positions in place when the capacity allows and moves the mark;
//! - a cache extended below the mark (a sibling: the mark moved on past it) copies its
//!   positions into a new buffer first (copy-on-write), as does one that outgrows the
//!   capacity;
//! - a sequence that is scored but not kept ([`crate::model::Seq::keep_cache`]) writes in
//!   place only at the mark and leaves the mark where it was (its positions are free for
//!   the next writer once its attention is computed), else it works on a copy.
//!
//! A new buffer is exactly as long as needed, except when the cache at the mark outgrows
//! its buffer: then up to [`GROWTH`] positions of room are added, so token-by-token
//! decoding copies the cache once per [`GROWTH`] steps instead of at every step; and
//! a cache given a [`KvCache::reserve`] (a generation: prompt plus token budget) gets its
//! whole length at once, and a cache given a smaller reserve gets just that.
//! This is what lets a caller run a shared prompt prefix once and score several
//! continuations from clones of its cache.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use candle_core::{Result, Tensor};

/// Most positions of room added when a cache at its buffer's mark outgrows the buffer
/// (at most the cache's own length: a short cache at most doubles).
pub const GROWTH: usize = 64;

/// One layer's key and value buffers, `[n_kv_heads, capacity, head_dim]`.
#[derive(Clone, Debug)]
struct Buffers {
    k: Tensor,
    v: Tensor,
    /// Positions below this hold some cache's data and are never written again.
    mark: Arc<AtomicUsize>,
}

impl Buffers {
    fn capacity(&self) -> usize {
        self.k.dims()[1]
    }

    /// New buffers holding `old[..len]` (if any) and `k`, `v` after it, with `room` free
    /// positions after those.
    fn new_with(old: Option<(&Self, usize)>, k: &Tensor, v: &Tensor, room: usize) -> Result<Self> {
        let (nkv, n, hd) = k.dims3()?;
        let len = old.map_or(0, |(_, l)| l);
        let build = |old: Option<Tensor>, new: &Tensor| -> Result<Tensor> {
            let mut parts: Vec<Tensor> = old.into_iter().collect();
            parts.push(new.clone());
            if room > 0 {
                parts.push(Tensor::zeros((nkv, room, hd), new.dtype(), new.device())?);
            }
            // One copy of every part into a new contiguous tensor.
            Tensor::cat(&parts, 1)?.contiguous()
        };
        let (ok, ov) = match old {
            Some((o, len)) if len > 0 => {
                let (k, v) = o.view(len)?;
                (Some(k), Some(v))
            }
            _ => (None, None),
        };
        Ok(Self {
            k: build(ok, k)?,
            v: build(ov, v)?,
            mark: Arc::new(AtomicUsize::new(len + n)),
        })
    }

    /// Writes `k`, `v` at position `len` in place; returns the first `len + n` positions.
    fn write_at(&self, len: usize, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
        self.k.slice_set(&k.contiguous()?, 1, len)?;
        self.v.slice_set(&v.contiguous()?, 1, len)?;
        self.view(len + k.dim(1)?)
    }

    /// The first `len` positions, as views.
    fn view(&self, len: usize) -> Result<(Tensor, Tensor)> {
        Ok((self.k.narrow(1, 0, len)?, self.v.narrow(1, 0, len)?))
    }
}

/// Keys and values of every layer for the tokens run so far (batch size 1).
#[derive(Clone, Debug)]
pub struct KvCache {
    layers: Vec<Option<Buffers>>,
    len: usize,
    /// Positions a new buffer is made to hold at least ([`Self::reserve`]).
    reserve: usize,
}

impl KvCache {
    /// An empty cache for a model with `n_layers` layers.
    pub fn new(n_layers: usize) -> Self {
        Self {
            layers: vec![None; n_layers],
            len: 0,
            reserve: 0,
        }
    }

    /// Makes the buffers this cache creates from now on hold `positions` positions
    /// (when that is at least what they must hold), instead of the [`GROWTH`] rule: a
    /// generation that knows its prompt and token budget allocates its cache once
    /// instead of regrowing it every [`GROWTH`] steps (each regrowth copies the cache
    /// into a slightly larger buffer, and the freed smaller ones fragment the heap); a
    /// prefix-trie node reserves just the room its longest child edge can write in place.
    /// Clones keep the reserve.
    pub fn reserve(&mut self, positions: usize) {
        self.reserve = positions;
    }

    /// Number of tokens held (the position of the next token).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no token has been run yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of layers this cache was made for.
    pub fn n_layers(&self) -> usize {
        self.layers.len()
    }

    /// Keeps only the first `len` tokens (no copy; a later extension copies, since the
    /// buffers' marks stay past `len`).
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        if len >= self.len {
            return Ok(());
        }
        if len == 0 {
            self.layers.iter_mut().for_each(|l| *l = None);
        }
        self.len = len;
        Ok(())
    }

    /// The cached keys and values of `layer` (`[n_kv_heads, len, head_dim]` views), if any
    /// token was run.
    pub fn get(&self, layer: usize) -> Option<(Tensor, Tensor)> {
        let b = self.layers.get(layer)?.as_ref()?;
        b.view(self.len).ok()
    }

    /// Appends `k`, `v` (`[n_kv_heads, n, head_dim]`) to `layer` and returns the full
    /// keys and values for that layer (views of `len + n` positions). The token count is
    /// advanced by [`Self::advance`] once every layer has been extended.
    pub(crate) fn append(
        &mut self,
        layer: usize,
        k: Tensor,
        v: Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let (len, n) = (self.len, k.dim(1)?);
        let slot = match self.layers.get_mut(layer) {
            None => candle_core::bail!("KV cache has no layer {layer}"),
            Some(s) => s,
        };
        let reserved = self.reserve.saturating_sub(len + n);
        let new = match slot.as_ref() {
            None => Buffers::new_with(None, &k, &v, reserved)?,
            Some(b) => {
                let fits = len + n <= b.capacity();
                let claimed = fits
                    && b.mark
                        .compare_exchange(len, len + n, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok();
                if claimed {
                    return b.write_at(len, &k, &v);
                }
                // Outgrowing the buffer: a reserve says how much room to add; without one,
                // a cache at its mark (decoding) gets room for what follows.
                let at_mark = b.mark.load(Ordering::Acquire) == len;
                let room = if self.reserve >= len + n {
                    reserved
                } else if at_mark {
                    (len + n).min(GROWTH)
                } else {
                    0
                };
                Buffers::new_with(Some((b, len)), &k, &v, room)?
            }
        };
        let out = new.view(len + n)?;
        *slot = Some(new);
        Ok(out)
    }

    /// The keys and values `layer` would hold after appending `k`, `v`, without storing
    /// them (the cache is unchanged). Written in place at the buffer's mark when there is
    /// room (the mark does not move: the views are valid until the next write to this
    /// buffer, i.e. for the caller's immediate use), else into a new tensor.
    pub(crate) fn extended(&self, layer: usize, k: Tensor, v: Tensor) -> Result<(Tensor, Tensor)> {
        let (len, n) = (self.len, k.dim(1)?);
        match self.layers.get(layer) {
            None => candle_core::bail!("KV cache has no layer {layer}"),
            Some(None) => Ok((k, v)),
            Some(Some(b)) => {
                if len + n <= b.capacity() && b.mark.load(Ordering::Acquire) == len {
                    return b.write_at(len, &k, &v);
                }
                let (pk, pv) = b.view(len)?;
                Ok((Tensor::cat(&[&pk, &k], 1)?, Tensor::cat(&[&pv, &v], 1)?))
            }
        }
    }

    /// Which buffer `layer` lives in (None: no buffer yet): caches that share one may
    /// write to the same positions of it ([`Self::extended`] at the mark), so their
    /// extensions must run one after the other, in batch order.
    pub(crate) fn buffer_key(&self, layer: usize) -> Option<usize> {
        let b = self.layers.get(layer)?.as_ref()?;
        Some(Arc::as_ptr(&b.mark) as usize)
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.len += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn kv(n: usize, val: f32) -> Tensor {
        (Tensor::ones((2, n, 4), DType::F32, &Device::Cpu).unwrap() * val as f64).unwrap()
    }

    fn capacity(c: &KvCache) -> usize {
        c.layers[0].as_ref().unwrap().capacity()
    }

    #[test]
    fn a_reserved_cache_is_allocated_once_and_reads_back() {
        let mut c = KvCache::new(1);
        c.reserve(10 + 200);
        c.append(0, kv(10, 1.0), kv(10, 1.0)).unwrap();
        c.advance(10);
        assert_eq!(capacity(&c), 210);
        for step in 0..200 {
            let (k, _) = c.append(0, kv(1, step as f32), kv(1, 0.0)).unwrap();
            c.advance(1);
            assert_eq!(k.dims(), &[2, 11 + step, 4]);
        }
        assert_eq!(capacity(&c), 210, "no regrowth within the reserve");
        let (k, _) = c.get(0).unwrap();
        let v: Vec<f32> = k
            .get(0)
            .unwrap()
            .narrow(0, 9, 3)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(
            v,
            [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
        );
        // Without a reserve the same decode regrows by GROWTH positions at a time.
        let mut d = KvCache::new(1);
        d.append(0, kv(10, 1.0), kv(10, 1.0)).unwrap();
        d.advance(10);
        assert_eq!(capacity(&d), 10);
        d.append(0, kv(1, 0.0), kv(1, 0.0)).unwrap();
        d.advance(1);
        assert_eq!(capacity(&d), 11 + 11);
    }
}
