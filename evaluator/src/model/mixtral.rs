//! Mixtral (`MixtralForCausalLM`): Mistral's decoder ([`super::llama`]) whose MLP is a
//! sparse mixture of experts, [`SparseMoe`], as Hugging Face `modeling_mixtral` computes it.
//!
//! Per token: router logits `gate(x)` (`[n_experts]`, in the activation dtype), softmax in
//! f32, the `top_k` largest (ties: the lower expert index first, as `torch.topk` on CPU),
//! their weights divided by their sum and cast to the activation dtype; the output is the
//! weighted sum of the chosen experts' SwiGLU MLPs (`w2(silu(w1 x) * w3 x)`), added in
//! expert-index order. Only the chosen experts run, each once per call on the rows routed
//! to it (gathered, multiplied, scattered back), so a packed batch costs what its tokens
//! route to, not `n_experts` dense MLPs.
//!
//! Batch invariance is not claimed: an expert's product sees however many rows the batch
//! routes to it, and one row goes to a different GEMM kernel than two (see
//! [`super::CausalLm::batch_invariant`]); packed and one-at-a-time values agree to float
//! rounding, which `tests/it/model_architectures.rs` bounds.

use candle_core::{DType, Result, Tensor};

use super::decoder::Ffn;
use super::llama::Linear;

/// The sparse mixture-of-experts block of one layer.
#[derive(Debug, Clone)]
pub struct SparseMoe {
    /// Router, `[n_experts, hidden]`.
    pub router: Linear,
    /// SwiGLU MLPs: HF's `w1` is the gate, `w3` up, `w2` down.
    pub experts: Vec<Ffn>,
    /// Experts per token (`num_experts_per_tok`).
    pub top_k: usize,
}

/// The `k` largest of `p` (index order on ties), their weights renormalized to sum to 1.
fn top_k(p: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    idx.truncate(k);
    let sum: f32 = idx.iter().map(|&e| p[e]).sum();
    idx.into_iter().map(|e| (e, p[e] / sum)).collect()
}

impl SparseMoe {
    /// `x`: `[rows, hidden]` → `[rows, hidden]`.
    pub fn forward(&self, x: &Tensor, dequantize_large: bool) -> Result<Tensor> {
        let logits = self
            .router
            .forward(x, dequantize_large)?
            .to_dtype(DType::F32)?;
        let probs = candle_nn::ops::softmax_last_dim(&logits)?.to_vec2::<f32>()?;
        // Per expert: the rows routed to it and their weights.
        let mut routed: Vec<(Vec<u32>, Vec<f32>)> =
            vec![(Vec::new(), Vec::new()); self.experts.len()];
        for (row, p) in probs.iter().enumerate() {
            for (e, w) in top_k(p, self.top_k) {
                routed[e].0.push(row as u32);
                routed[e].1.push(w);
            }
        }
        let mut out = x.zeros_like()?;
        for (expert, (rows, weights)) in self.experts.iter().zip(&routed) {
            if rows.is_empty() {
                continue;
            }
            let idx = Tensor::new(rows.as_slice(), x.device())?;
            let xe = x.index_select(&idx, 0)?;
            let y = expert.forward(&xe, dequantize_large)?;
            let w = Tensor::new(weights.as_slice(), x.device())?
                .to_dtype(x.dtype())?
                .reshape((rows.len(), 1))?;
            out = out.index_add(&idx, &y.broadcast_mul(&w)?, 0)?;
        }
        Ok(out)
    }

    /// Every linear layer of the block.
    pub fn linears_mut(&mut self) -> impl Iterator<Item = &mut Linear> {
        std::iter::once(&mut self.router).chain(self.experts.iter_mut().flat_map(|e| {
            let Ffn { gate, up, down, .. } = e;
            gate.iter_mut().chain([up, down])
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::top_k;

    #[test]
    fn top_k_takes_the_largest_lower_index_first_and_renormalizes() {
        let t = top_k(&[0.1, 0.4, 0.1, 0.4], 2);
        assert_eq!(t, vec![(1, 0.5), (3, 0.5)]);
        let t = top_k(&[0.2, 0.1, 0.6, 0.1], 2);
        assert_eq!(t.iter().map(|x| x.0).collect::<Vec<_>>(), vec![2, 0]);
        assert!((t[0].1 - 0.75).abs() < 1e-6 && (t[1].1 - 0.25).abs() < 1e-6);
    }
}
