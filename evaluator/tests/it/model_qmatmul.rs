//! candle's quantized matrix products must not depend on how many rows are multiplied at
//! once (the KV cache relies on it): each GGUF weight type of the test model, a batch of
//! rows vs the same rows one at a time.

use crate::support::model::*;
use candle_core::quantized::QMatMul;
use candle_core::{Device, Module, Tensor};
use evaluator::model::gguf::GgufFile;

#[test]
fn quantized_matmul_is_row_independent() {
    let mut g = GgufFile::open(&test_model()).unwrap();
    let mut worst = 0f32;
    // One 2-D tensor of every (type, shape) in the file.
    let mut seen = std::collections::BTreeMap::new();
    for (name, ti) in &g.content.tensor_infos {
        if ti.shape.rank() == 2 {
            seen.entry((format!("{:?}", ti.ggml_dtype), ti.shape.dims().to_vec()))
                .or_insert_with(|| name.clone());
        }
    }
    for name in seen.into_values() {
        let name = name.as_str();
        let q = g.tensor(name, &Device::Cpu).unwrap();
        let (n, k) = q.shape().dims2().unwrap();
        let dt = q.dtype();
        let mm = QMatMul::from_qtensor(q).unwrap();
        let x = Tensor::randn(0f32, 1.0, (46, k), &Device::Cpu).unwrap();
        let all = mm.forward(&x).unwrap();
        let mut max = 0f32;
        for (lo, len) in [(0, 1), (5, 1), (0, 17), (17, 29), (45, 1), (3, 8)] {
            let part = mm
                .forward(&x.narrow(0, lo, len).unwrap().contiguous().unwrap())
                .unwrap();
            let d = max_abs_diff(&part, &all.narrow(0, lo, len).unwrap());
            max = max.max(d);
        }
        println!("{name} {dt:?} [{n}, {k}]: max |batch - rows| {max:.3e}");
        worst = worst.max(max);
    }
    assert!(
        worst <= 1e-4,
        "quantized product depends on the batch: {worst}"
    );
}
