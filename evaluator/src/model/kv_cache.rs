//! The key/value cache of a causal LM: a plain value that the caller owns, clones and extends.
//!
//! Layout: for every layer, keys and values after rotary embedding, each a tensor of shape
//! `[n_kv_heads, len, head_dim]` in the model's activation dtype, on the model's device.
//! Tensors are immutable and reference-counted, so [`Clone`] is cheap (no copy) and a
//! clone is independent: [`crate::model::CausalLm::forward`] replaces the cached tensors by
//! new, longer ones and never writes into shared storage. This is what lets a caller run a
//! shared prompt prefix once and score several continuations from clones of its cache.

use candle_core::{Result, Tensor};

/// Keys and values of every layer for the tokens run so far (batch size 1).
#[derive(Clone, Debug)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl KvCache {
    /// An empty cache for a model with `n_layers` layers.
    pub fn new(n_layers: usize) -> Self {
        Self {
            layers: vec![None; n_layers],
            len: 0,
        }
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

    /// Keeps only the first `len` tokens (no copy: the tensors become views).
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        if len >= self.len {
            return Ok(());
        }
        for layer in self.layers.iter_mut() {
            if let Some((k, v)) = layer.take() {
                if len > 0 {
                    *layer = Some((k.narrow(1, 0, len)?, v.narrow(1, 0, len)?));
                }
            }
        }
        self.len = len;
        Ok(())
    }

    /// The cached keys and values of `layer`, if any token was run.
    pub fn get(&self, layer: usize) -> Option<&(Tensor, Tensor)> {
        self.layers.get(layer).and_then(|l| l.as_ref())
    }

    /// Appends `k`, `v` (`[n_kv_heads, n, head_dim]`) to `layer` and returns the full
    /// keys and values for that layer. The token count is advanced by [`Self::advance`]
    /// once every layer has been extended.
    pub(crate) fn append(
        &mut self,
        layer: usize,
        k: Tensor,
        v: Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let (k, v) = self.extended(layer, k, v)?;
        self.layers[layer] = Some((k.clone(), v.clone()));
        Ok((k, v))
    }

    /// The keys and values `layer` would hold after appending `k`, `v`, without
    /// storing them (the cache is unchanged).
    pub(crate) fn extended(&self, layer: usize, k: Tensor, v: Tensor) -> Result<(Tensor, Tensor)> {
        match self.layers.get(layer) {
            None => candle_core::bail!("KV cache has no layer {layer}"),
            Some(None) => Ok((k, v)),
            Some(Some((pk, pv))) => Ok((Tensor::cat(&[pk, &k], 1)?, Tensor::cat(&[pv, &v], 1)?)),
        }
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.len += n;
    }
}
