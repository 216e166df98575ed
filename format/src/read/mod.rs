//! Reading a Parquet file of this format without trusting it.
//!
//! # How a file is read
//!
//! Contributed files are untrusted, and the parquet crate is not written for
//! hostile input: a corrupt count makes it reserve gigabytes or abort, gzip
//! and zstd pages decompress without bound, and some corruptions panic. So a
//! file is read in four steps, each of which refuses what fails it with the
//! file's path and what was expected:
//!
//! 1. **Size**: at most [`Limits::file_bytes`]; the file is read into memory.
//! 2. **Prescan** (before the parquet crate sees it): the magic bytes; the
//!    footer's Thrift structure, walked by a bounded walker (every length and
//!    count fits in the bytes left; nesting ≤ 32), with the declared rows,
//!    row groups and schema size held to the limits; then every page of every
//!    column chunk: header, encoding, CRC32 where the writer stored one, and a
//!    decompression bounded by, and equal to, the size the header declares;
//!    the longest string of each dictionary. From these the decoded size is
//!    bounded (page bytes + values × (16 + longest dictionary string)) and
//!    held to [`Limits::decoded_bytes`]. This is what keeps memory bounded:
//!    a 1,000,000-row file of 137 KB is refused by its footer's row count.
//! 3. **Decode**, with any panic inside the parquet / arrow crates contained
//!    (`catch_unwind`, the message kept): a panic becomes "not a readable
//!    Parquet file" naming the file. The prescan makes such panics unlikely;
//!    containing them makes a missed case a refusal instead of a crash. (The
//!    workspace must therefore not build with `panic = "abort"`.)
//! 4. **Normalize** ([`normalize`]): the types ordinary tools write become
//!    the documented ones; then, where the file carries
//!    [`CONTENT_SHA256_KEY`](crate::schema::CONTENT_SHA256_KEY), the sha256 of
//!    the decoded content ([`content_sha256`]) must equal it, so a file this
//!    crate wrote is either read back exactly or refused.
//!
//! # Accepted encodings
//!
//! Compression: zstd, Snappy, gzip or none (LZ4 and Brotli are refused).
//! Page encodings: plain, dictionary, RLE, bit-packed, delta-binary-packed,
//! delta-length-byte-array, delta-byte-array, byte-stream-split. Data pages
//! v1 and v2. Types: see [`normalize`]. Delta-byte-array strings share
//! prefixes, so the prescan counts each value at the page's size (at most
//! [`Limits::string_bytes`]): a large file in that encoding can reach
//! `decoded_bytes` although it would fit; write it with dictionary or plain
//! encoding (pyarrow's default) instead.
//!
//! # Limits
//!
//! [`Limits::RESULTS`] and [`Limits::DETAILS`] give the numbers; each
//! refusal names the limit it hit.

pub mod normalize;
pub mod prescan;
pub mod thrift;

use crate::ResultsError;
use arrow_array::{
    Array, BooleanArray, Float64Array, Int32Array, Int64Array, ListArray, RecordBatch, StringArray,
    StructArray, TimestampSecondArray,
};
use arrow_schema::{DataType, Schema};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use sha2::{Digest, Sha256};
use std::cell::{Cell, RefCell};
use std::path::Path;

/// Bounds on what a reader accepts from one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the file.
    pub file_bytes: u64,
    /// Bytes of the Parquet footer (file metadata).
    pub footer_bytes: usize,
    /// Rows in the file.
    pub rows: usize,
    /// Row groups in the file.
    pub row_groups: usize,
    /// Elements of the Parquet schema (columns and their nested fields).
    pub schema_elements: usize,
    /// Leaf values in all columns together.
    pub values: usize,
    /// Decoded bytes of one page.
    pub page_bytes: usize,
    /// Decoded bytes of the whole file (the bound of the prescan).
    pub decoded_bytes: usize,
    /// Bytes of one string value.
    pub string_bytes: usize,
    /// Entries of one list value (scores of a run, deviations, …).
    pub list_items: usize,
}

impl Limits {
    /// Limits of a results file. The v1 archive (7,169 runs in one file) is
    /// far inside them; 100,000 runs of 70 scores each still fit.
    pub const RESULTS: Limits = Limits {
        file_bytes: 64 << 20,
        footer_bytes: 1 << 20,
        rows: 100_000,
        row_groups: 1_000,
        schema_elements: 256,
        values: 16_000_000,
        page_bytes: 64 << 20,
        decoded_bytes: 512 << 20,
        string_bytes: 4096,
        list_items: 1024,
    };

    /// Limits of a details file: one row per document (the six v1
    /// benchmarks have 28,659), GSM8K generations as strings.
    pub const DETAILS: Limits = Limits {
        rows: 1_000_000,
        string_bytes: 64 << 10,
        ..Limits::RESULTS
    };
}

/// What [`read`] needs to know of a format.
pub struct Kind {
    /// Human name, for messages ("results file").
    pub name: &'static str,
    /// Key-value metadata key of the version, and the version read.
    pub version_key: &'static str,
    pub version: u32,
    /// The documented Arrow schema.
    pub schema: Schema,
    /// Nullable columns added after the format's version was published: a file
    /// without one reads as if the column were all null.
    pub optional_columns: &'static [&'static str],
    pub limits: Limits,
}

/// Reads and checks one file (see the module docs): batches of the
/// documented types, every field nullable (see [`normalize`]).
pub fn read(path: &Path, kind: &Kind) -> Result<Vec<RecordBatch>, ResultsError> {
    let p = || path.to_path_buf();
    let corrupt = |message: String| ResultsError::Corrupt { path: p(), message };
    let limit = |message: String| ResultsError::Limit { path: p(), message };
    let len = std::fs::metadata(path)
        .map_err(|source| ResultsError::Io { path: p(), source })?
        .len();
    if len > kind.limits.file_bytes {
        return Err(limit(format!(
            "{len} bytes; a {} has at most {} bytes (limit `file_bytes`)",
            kind.name, kind.limits.file_bytes
        )));
    }
    let bytes =
        Bytes::from(std::fs::read(path).map_err(|source| ResultsError::Io { path: p(), source })?);
    let outcome = contained(|| -> Result<Vec<RecordBatch>, ResultsError> {
        let checked = prescan::check(&bytes, &kind.limits).map_err(|r| match r {
            prescan::Refusal::Corrupt(m) => corrupt(m),
            prescan::Refusal::Limit(m) => limit(m),
        })?;
        let kv = checked
            .metadata
            .file_metadata()
            .key_value_metadata()
            .cloned();
        let value = |key: &str| {
            kv.iter()
                .flatten()
                .find(|e| e.key == key)
                .map(|e| e.value.clone())
        };
        check_version(kind, value(kind.version_key))
            .map_err(|message| ResultsError::File { path: p(), message })?;
        let meta = ArrowReaderMetadata::try_new(checked.metadata.into(), Default::default())
            .map_err(|e| corrupt(e.to_string()))?;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(bytes.clone(), meta)
            .with_batch_size(8192)
            .build()
            .map_err(|e| corrupt(e.to_string()))?;
        let mut batches = Vec::new();
        for b in reader {
            let b = b.map_err(|e| corrupt(e.to_string()))?;
            let b = normalize::batch(&b, &kind.schema, kind.optional_columns)
                .map_err(|message| ResultsError::File { path: p(), message })?;
            check_strings(&b, &kind.limits).map_err(limit)?;
            batches.push(b);
        }
        if let Some(want) = value(crate::schema::CONTENT_SHA256_KEY).flatten() {
            if content_sha256(&batches, kind.optional_columns) != want {
                return Err(corrupt(format!(
                    "its content does not match the sha256 recorded in its metadata \
                     (`{}`): the file was changed or damaged after it was written",
                    crate::schema::CONTENT_SHA256_KEY
                )));
            }
        }
        Ok(batches)
    });
    match outcome {
        Ok(r) => r,
        Err(panic) => Err(corrupt(format!(
            "the Parquet reader failed on it ({panic})"
        ))),
    }
}

/// The version entry must be plain decimal digits naming `kind.version`.
fn check_version(kind: &Kind, value: Option<Option<String>>) -> Result<(), String> {
    let key = kind.version_key;
    let want = kind.version;
    let Some(Some(v)) = value else {
        return Err(format!(
            "file metadata has no `{key}` entry; expected `{want}` (is this a {} written by \
             `leaderboard`, the evaluator, or a tool following the format's guide?)",
            kind.name
        ));
    };
    let digits = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) && !v.starts_with('0');
    match v.parse::<u32>() {
        Ok(n) if digits && n == want => Ok(()),
        Ok(n) if digits && n > want => Err(format!(
            "format version {n} is newer than this reader's ({want}); upgrade `leaderboard`"
        )),
        _ => Err(format!(
            "file metadata `{key}` = {:?}; expected exactly `{want}`",
            crate::ids::shorten(&v)
        )),
    }
}

/// Every string value within [`Limits::string_bytes`], every list within
/// [`Limits::list_items`].
fn check_strings(b: &RecordBatch, limits: &Limits) -> Result<(), String> {
    fn walk(a: &dyn Array, path: &str, limits: &Limits) -> Result<(), String> {
        if let Some(s) = a.as_any().downcast_ref::<StringArray>() {
            let offsets = s.value_offsets();
            for (i, w) in offsets.windows(2).enumerate() {
                let len = (w[1] - w[0]) as usize;
                if len > limits.string_bytes && s.is_valid(i) {
                    return Err(format!(
                        "column `{path}`: a string of {len} bytes; at most {} bytes per string (limit `string_bytes`)",
                        limits.string_bytes
                    ));
                }
            }
        } else if let Some(l) = a.as_any().downcast_ref::<ListArray>() {
            for w in l.value_offsets().windows(2) {
                let n = (w[1] - w[0]) as usize;
                if n > limits.list_items {
                    return Err(format!(
                        "column `{path}`: a list of {n} entries; at most {} (limit `list_items`)",
                        limits.list_items
                    ));
                }
            }
            walk(l.values().as_ref(), &format!("{path}[]"), limits)?;
        } else if let Some(s) = a.as_any().downcast_ref::<StructArray>() {
            let DataType::Struct(fields) = s.data_type() else {
                unreachable!()
            };
            for (f, c) in fields.iter().zip(s.columns()) {
                walk(c.as_ref(), &format!("{path}.{}", f.name()), limits)?;
            }
        }
        Ok(())
    }
    for (f, c) in b.schema().fields().iter().zip(b.columns()) {
        walk(c.as_ref(), f.name(), limits)?;
    }
    Ok(())
}

/// sha256 (hex) of batches' content: for each row, each column in schema
/// order, a canonical encoding of the value (null: `0`; else `1` and the
/// value: strings as u64 length + bytes, integers and timestamps little
/// endian, floats as their IEEE bits, booleans as one byte, lists as u64
/// count + items, structs as their fields in order); a null in one of the
/// `optional` columns adds nothing, as if the column were absent. It depends on
/// the values only, not on compression, encoding, row groups or writer.
pub fn content_sha256(batches: &[RecordBatch], optional: &[&str]) -> String {
    let mut h = Sha256::new();
    for b in batches {
        let schema = b.schema();
        for row in 0..b.num_rows() {
            for (f, c) in schema.fields().iter().zip(b.columns()) {
                // A null in an optional column hashes as its absence, so a file written
                // before the column existed keeps its hash.
                if c.is_null(row) && optional.contains(&f.name().as_str()) {
                    continue;
                }
                hash_value(&mut h, c.as_ref(), row);
            }
        }
    }
    format!("{:x}", h.finalize())
}

fn hash_value(h: &mut Sha256, a: &dyn Array, i: usize) {
    if a.is_null(i) {
        h.update([0u8]);
        return;
    }
    h.update([1u8]);
    let any = a.as_any();
    if let Some(s) = any.downcast_ref::<StringArray>() {
        let v = s.value(i).as_bytes();
        h.update((v.len() as u64).to_le_bytes());
        h.update(v);
    } else if let Some(x) = any.downcast_ref::<Int64Array>() {
        h.update(x.value(i).to_le_bytes());
    } else if let Some(x) = any.downcast_ref::<Int32Array>() {
        h.update(x.value(i).to_le_bytes());
    } else if let Some(x) = any.downcast_ref::<Float64Array>() {
        h.update(x.value(i).to_bits().to_le_bytes());
    } else if let Some(x) = any.downcast_ref::<BooleanArray>() {
        h.update([x.value(i) as u8]);
    } else if let Some(x) = any.downcast_ref::<TimestampSecondArray>() {
        h.update(x.value(i).to_le_bytes());
    } else if let Some(l) = any.downcast_ref::<ListArray>() {
        let o = l.value_offsets();
        let (start, end) = (o[i] as usize, o[i + 1] as usize);
        h.update(((end - start) as u64).to_le_bytes());
        for j in start..end {
            hash_value(h, l.values().as_ref(), j);
        }
    } else if let Some(s) = any.downcast_ref::<StructArray>() {
        for c in s.columns() {
            hash_value(h, c.as_ref(), i);
        }
    } else {
        panic!(
            "content_sha256: type {} is not part of the format",
            a.data_type()
        );
    }
}

thread_local! {
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
    static PANIC_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f`, turning a panic inside it into `Err(message)`. The panic hook is
/// wrapped once so that a contained panic prints nothing (any other panic is
/// reported by the previous hook as before).
pub fn contained<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CONTAINED.with(Cell::get) {
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                let at = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                PANIC_MESSAGE.with(|m| *m.borrow_mut() = Some(format!("{msg}{at}")));
            } else {
                previous(info)
            }
        }));
    });
    let was = CONTAINED.with(|c| c.replace(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(was));
    r.map_err(|_| {
        PANIC_MESSAGE
            .with(|m| m.borrow_mut().take())
            .unwrap_or_else(|| "panic".into())
    })
}
