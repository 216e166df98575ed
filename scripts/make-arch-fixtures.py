"""Builds the architecture fixtures of `evaluator/tests/fixtures/arch/`: for each
architecture (and variant: rotary scaling, sequential or parallel residual), a tiny
random-weight model made by Hugging Face transformers from a seeded config (2 layers,
hidden 64, vocabulary 256), saved as a Hugging Face folder
(config.json + model.safetensors, float32), and transformers' float32 per-token
log-probabilities on three fixed token sequences (7, 33 and 130 tokens: the last
longer than the evaluator's 128-row attention block) in `expected.json`, with the largest
deviation of transformers' own bf16 and f16 runs from those values.

A developer tool, run by `scripts/make-arch-fixtures.sh` in the venv it makes
(torch + transformers from PyPI); CI never runs it. The test
`model_architectures` (evaluator) loads each folder with the evaluator's own code
and compares.

Weights: transformers' own initialisation is tiny (std 0.02), which would make every
log-probability about -log(256); they are redrawn here, seeded, so that logits spread
over several nats: linear weights and embeddings N(0, 1/fan_in), norm weights
1 + N(0, 0.1^2), biases N(0, 0.1^2); the seed is the CRC-32 of the fixture's name, so
adding an architecture leaves the others' files as they were.
"""

import json
import math
import os
import sys
import zlib

import torch
import transformers

OUT = sys.argv[1] if len(sys.argv) > 1 else "evaluator/tests/fixtures/arch"
# (`--bench DIR` writes the speed benchmark's larger models instead: see `bench`.)
VOCAB = 256
COMMON = dict(
    vocab_size=VOCAB,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
    rms_norm_eps=1e-5,
    rope_theta=10000.0,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=None,
    torch_dtype="float32",
)

GPT2 = dict(
    vocab_size=VOCAB,
    n_embd=64,
    n_layer=2,
    n_head=4,
    n_positions=512,
    activation_function="gelu_new",
    layer_norm_epsilon=1e-5,
    bos_token_id=1,
    eos_token_id=2,
    torch_dtype="float32",
)
NEOX = dict(
    vocab_size=VOCAB,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    max_position_embeddings=512,
    rotary_emb_base=10000,
    layer_norm_eps=1e-5,
    hidden_act="gelu",
    bos_token_id=1,
    eos_token_id=2,
    tie_word_embeddings=False,
    torch_dtype="float32",
)

PHI = dict(
    vocab_size=VOCAB,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    max_position_embeddings=512,
    partial_rotary_factor=0.5,
    rope_theta=10000.0,
    layer_norm_eps=1e-5,
    hidden_act="gelu_new",
    bos_token_id=1,
    eos_token_id=2,
    torch_dtype="float32",
)
GPTJ = dict(
    vocab_size=VOCAB,
    n_embd=64,
    n_layer=2,
    n_head=4,
    n_positions=512,
    rotary_dim=8,
    activation_function="gelu_new",
    layer_norm_epsilon=1e-5,
    bos_token_id=1,
    eos_token_id=2,
    tie_word_embeddings=False,
    torch_dtype="float32",
)

GEMMA = dict(
    COMMON,
    head_dim=32,
    num_key_value_heads=1,
    hidden_act="gelu_pytorch_tanh",
    hidden_activation="gelu_pytorch_tanh",
    tie_word_embeddings=True,
)
OPT = dict(
    vocab_size=VOCAB,
    hidden_size=64,
    ffn_dim=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=512,
    word_embed_proj_dim=64,
    do_layer_norm_before=True,
    activation_function="relu",
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
    torch_dtype="float32",
)

COHERE = dict(COMMON, logit_scale=0.25, layer_norm_eps=1e-5, tie_word_embeddings=True)
COHERE.pop("rms_norm_eps")

BLOOM = dict(
    vocab_size=VOCAB,
    hidden_size=64,
    n_layer=2,
    n_head=4,
    layer_norm_epsilon=1e-5,
    bos_token_id=1,
    eos_token_id=2,
    torch_dtype="float32",
)

ARCHS = {
    "bloom": ("BloomConfig", "BloomForCausalLM", BLOOM),
    "cohere": ("CohereConfig", "CohereForCausalLM", COHERE),
    "gemma": ("GemmaConfig", "GemmaForCausalLM", GEMMA),
    # Gemma 2: query_pre_attn_scalar unlike head_dim, a 16-position window on layer 0,
    # small soft-caps so that tanh bends the scores and the logits.
    "gemma2": (
        "Gemma2Config",
        "Gemma2ForCausalLM",
        dict(
            GEMMA,
            head_dim=16,
            num_key_value_heads=2,
            query_pre_attn_scalar=24,
            sliding_window=16,
            attn_logit_softcapping=2.0,
            final_logit_softcapping=5.0,
        ),
    ),
    # Gemma 3 text: q/k norms, layer 0 local (window 16, rope 10000), layer 1 global
    # (rope 1e6, linear scaling 2).
    "gemma3": (
        "Gemma3TextConfig",
        "Gemma3ForCausalLM",
        dict(
            GEMMA,
            head_dim=16,
            num_key_value_heads=2,
            query_pre_attn_scalar=16,
            sliding_window=16,
            sliding_window_pattern=2,
            rope_theta=1000000.0,
            rope_local_base_freq=10000.0,
            rope_scaling=dict(rope_type="linear", factor=2.0),
        ),
    ),
    # Mistral with a 16-position sliding window (the 130-token sequence crosses it).
    "mistral-swa": (
        "MistralConfig",
        "MistralForCausalLM",
        dict(COMMON, tie_word_embeddings=False, sliding_window=16),
    ),
    "opt": ("OPTConfig", "OPTForCausalLM", OPT),
    "phi": ("PhiConfig", "PhiForCausalLM", PHI),
    "gptj": ("GPTJConfig", "GPTJForCausalLM", GPTJ),
    # name: (config class, model class, the config's arguments)
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", GPT2),
    "gpt-neox": (
        "GPTNeoXConfig",
        "GPTNeoXForCausalLM",
        dict(NEOX, rotary_pct=0.25, use_parallel_residual=True),
    ),
    "gpt-neox-sequential": (
        "GPTNeoXConfig",
        "GPTNeoXForCausalLM",
        dict(NEOX, rotary_pct=1.0, use_parallel_residual=False),
    ),
    "llama": ("LlamaConfig", "LlamaForCausalLM", dict(COMMON, tie_word_embeddings=False)),
    "llama3-rope": (
        "LlamaConfig",
        "LlamaForCausalLM",
        dict(
            COMMON,
            tie_word_embeddings=False,
            rope_theta=500000.0,
            rope_scaling=dict(
                rope_type="llama3",
                factor=8.0,
                low_freq_factor=1.0,
                high_freq_factor=4.0,
                original_max_position_embeddings=64,
            ),
        ),
    ),
    "mistral": (
        "MistralConfig",
        "MistralForCausalLM",
        dict(COMMON, tie_word_embeddings=False, sliding_window=512),
    ),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", dict(COMMON, tie_word_embeddings=True)),
    "mixtral": (
        "MixtralConfig",
        "MixtralForCausalLM",
        dict(
            COMMON,
            tie_word_embeddings=False,
            intermediate_size=96,
            num_local_experts=4,
            num_experts_per_tok=2,
            sliding_window=None,
            router_jitter_noise=0.0,
        ),
    ),
}


def redraw(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            norm = "norm" in name or ".ln_" in name or name.startswith("transformer.ln_f")
            if norm and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif any(c in name for c in ("c_attn", "c_proj", "c_fc")):
                # GPT-2's Conv1D stores [in, out].
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[0]))
            else:
                # Linear [out, in] and embeddings [rows, hidden].
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[-1]))


def main():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1234)
    sequences = [torch.randint(3, VOCAB, (n,), generator=g).tolist() for n in (7, 33, 130)]
    for name, (cfg_cls, model_cls, extra) in sorted(ARCHS.items()):
        cfg = getattr(transformers, cfg_cls)(**extra, attn_implementation="eager")
        cfg.architectures = [model_cls]
        model = getattr(transformers, model_cls)(cfg).float().eval()
        redraw(model, zlib.crc32(name.encode()))
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        model.save_pretrained(folder, safe_serialization=True)
        for extra_file in ("generation_config.json",):
            p = os.path.join(folder, extra_file)
            if os.path.exists(p):
                os.remove(p)
        logprobs = []
        with torch.no_grad():
            for seq in sequences:
                ids = torch.tensor([seq])
                logits = model(ids, use_cache=False).logits[0].float()
                lp = torch.log_softmax(logits, dim=-1)
                logprobs.append([None] + [lp[t - 1, seq[t]].item() for t in range(1, len(seq))])
        # transformers' own half-precision runs against its f32 values: how sensitive
        # this fixture is to rounding (the evaluator's test allows as much).
        half = {}
        for dt_name, dt in (("bfloat16", torch.bfloat16), ("float16", torch.float16)):
            m = getattr(transformers, model_cls).from_pretrained(
                folder, torch_dtype=dt, attn_implementation="eager"
            ).eval()
            worst = 0.0
            with torch.no_grad():
                for seq, want in zip(sequences, logprobs):
                    lp = torch.log_softmax(m(torch.tensor([seq]), use_cache=False).logits[0].float(), dim=-1)
                    for t in range(1, len(seq)):
                        worst = max(worst, abs(lp[t - 1, seq[t]].item() - want[t]))
            half[dt_name] = worst
        expected = {
            "architecture": model_cls,
            "transformers_half_precision_max_abs_diff": half,
            "made_by": f"transformers {transformers.__version__}, torch {torch.__version__}, float32, eager attention, CPU",
            "sequences": sequences,
            "logprobs": logprobs,
        }
        with open(os.path.join(folder, "expected.json"), "w") as f:
            json.dump(expected, f, indent=1)
            f.write("\n")
        spread = [x for row in logprobs for x in row if x is not None]
        print(f"{name}: {model_cls}, {sum(p.numel() for p in model.parameters())} parameters, "
              f"log-probabilities {min(spread):.2f} .. {max(spread):.2f}", file=sys.stderr)


# Keys scaled by BENCH_SCALE for the speed benchmark's models (every width, the
# vocabulary); the layer count set to BENCH_LAYERS; heads, experts and positions kept.
BENCH_SCALE = 8
BENCH_LAYERS = 4
SCALED = ("hidden_size", "n_embd", "intermediate_size", "ffn_dim", "n_inner", "head_dim",
          "word_embed_proj_dim", "rotary_dim", "vocab_size")


def bench(out):
    """Writes, for `examples/arch_bench.rs`, each fixture's architecture at a realistic
    width (hidden 512, 4 layers, vocabulary 2048), random weights (transformers' own
    initialisation, seed 0), float32: speed only, no expected values."""
    for name, (cfg_cls, model_cls, extra) in sorted(ARCHS.items()):
        extra = dict(extra)
        for k in SCALED:
            if extra.get(k) is not None:
                extra[k] = extra[k] * BENCH_SCALE
        for k in ("num_hidden_layers", "n_layer"):
            if k in extra:
                extra[k] = BENCH_LAYERS
        torch.manual_seed(0)
        cfg = getattr(transformers, cfg_cls)(**extra, attn_implementation="eager")
        cfg.architectures = [model_cls]
        model = getattr(transformers, model_cls)(cfg).float().eval()
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        model.save_pretrained(folder, safe_serialization=True)
        print(f"{name}: {model_cls}, {sum(p.numel() for p in model.parameters())} parameters",
              file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--bench":
        bench(sys.argv[2])
    else:
        main()
