//! # Writing a results file with pandas / pyarrow
//!
//! Anyone can write a results file that `check` accepts; nothing ties the
//! format to this project's binaries. With pyarrow's defaults (Snappy
//! compression, dictionary-encoded strings, millisecond timestamps, list
//! items named `element`) the file is read as documented in [`crate::read`].
//! What you must do yourself:
//!
//! - give the columns of [`crate::schema`] exactly (no more, no fewer;
//!   pandas' index is left out with `preserve_index=False`);
//! - store `scores` as a list of structs and `deviations` as a list of
//!   strings (an empty list, not null, when there are none);
//! - make timestamps UTC (`tz="UTC"`), or leave them null;
//! - put the format version in the file metadata:
//!   `leaderboard.format_version` = `1`.
//!
//! ```python
//! import os
//! import pandas as pd, pyarrow as pa, pyarrow.parquet as pq
//!
//! score = pa.struct([("task", pa.string()), ("metric", pa.string()),
//!                    ("value", pa.float64()), ("stderr", pa.float64()),
//!                    ("n_samples", pa.int64()), ("num_fewshot", pa.int32())])
//! schema = pa.schema([
//!     ("model_id", pa.string()), ("revision", pa.string()),
//!     ("precision", pa.string()), ("precision_detail", pa.string()),
//!     ("weight_type", pa.string()), ("base_model", pa.string()),
//!     ("model_type", pa.string()), ("architecture", pa.string()),
//!     ("params_billions", pa.float64()), ("params_truncated", pa.bool_()),
//!     ("license", pa.string()), ("is_merge", pa.bool_()), ("is_moe", pa.bool_()),
//!     ("available_on_hub", pa.bool_()), ("hub_likes", pa.int64()),
//!     ("submitted_at", pa.timestamp("s", tz="UTC")),
//!     ("evaluated_at", pa.timestamp("s", tz="UTC")),
//!     ("weights_sha256", pa.string()), ("tool", pa.string()),
//!     ("tool_version", pa.string()), ("suite", pa.string()),
//!     ("source_dataset", pa.string()), ("deviations", pa.list_(pa.string())),
//!     ("reported_average", pa.float64()), ("scores", pa.list_(score)),
//! ], metadata={"leaderboard.format_version": "1"})
//!
//! df = pd.DataFrame([{
//!     "model_id": "my-org/my-model", "revision": "0123456789abcdef0123456789abcdef01234567",
//!     "precision": "bfloat16", "precision_detail": None, "weight_type": "Original",
//!     "base_model": None, "model_type": "fine-tuned", "architecture": "LlamaForCausalLM",
//!     "params_billions": 6.74, "params_truncated": False, "license": "apache-2.0",
//!     "is_merge": False, "is_moe": False, "available_on_hub": True, "hub_likes": 3,
//!     "submitted_at": None, "evaluated_at": pd.Timestamp("2024-05-01", tz="UTC"),
//!     "weights_sha256": None, "tool": "lm-evaluation-harness", "tool_version": "0.4.2",
//!     "suite": "lm-eval-0.4", "source_dataset": None, "deviations": [],
//!     "reported_average": None,
//!     "scores": [{"task": "arc_challenge", "metric": "acc_norm", "value": 0.5307,
//!                 "stderr": 0.0146, "n_samples": 1172, "num_fewshot": 25}],
//! }])
//! os.makedirs("results/my-org/my-model", exist_ok=True)
//! pq.write_table(pa.Table.from_pandas(df, schema=schema, preserve_index=False),
//!                "results/my-org/my-model/run.parquet")
//! ```
//!
//! Then run `cargo run --release -- check`. The test
//! `format/tests/it/pyarrow.rs` runs this very example (with pyarrow from
//! PyPI, in a virtual environment `scripts/test` makes) and checks that
//! `check` accepts the file and reads back the values written.
//!
//! Files without the `leaderboard.content_sha256` entry (every file a tool
//! other than this crate writes) are read without the content checksum; a
//! pull request that changes such a file is compared by its diff alone.
