//! The check a file passes before the parquet crate decodes it: the footer's
//! Thrift structure, the row and schema counts it declares, and every page of
//! every column chunk (header, encoding, checksum, and a decompression
//! bounded by the declared size). What it returns bounds the memory that
//! decoding can take, so a file over the limits is refused here, before
//! anything large is allocated.

use super::thrift::{self, Compact};
use super::Limits;
use parquet::basic::{Compression, Type as PhysicalType};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use std::io::Read;

/// What a refusal is about: corruption, or a documented limit.
#[derive(Debug)]
pub enum Refusal {
    Corrupt(String),
    Limit(String),
}

type Result<T> = std::result::Result<T, Refusal>;

fn corrupt(m: impl Into<String>) -> Refusal {
    Refusal::Corrupt(m.into())
}

/// Facts of the footer read before the parquet crate parses it.
struct FooterFacts {
    num_rows: i64,
    row_groups: u64,
    schema_elements: u64,
    depth: u32,
}

/// The footer's byte range and its parsed metadata.
pub struct Checked {
    pub metadata: ParquetMetaData,
    /// Where the footer starts: data pages lie in `4..footer_start`.
    pub footer_start: usize,
}

/// Checks `bytes` (a whole file) and returns its metadata.
pub fn check(bytes: &[u8], limits: &Limits) -> Result<Checked> {
    if bytes.len() < 12 || &bytes[..4] != b"PAR1" {
        return Err(corrupt(
            "does not start with the Parquet magic bytes `PAR1`",
        ));
    }
    let n = bytes.len();
    if &bytes[n - 4..] == b"PARE" {
        return Err(corrupt(
            "is an encrypted Parquet file; expected a plain one",
        ));
    }
    if &bytes[n - 4..] != b"PAR1" {
        return Err(corrupt(
            "does not end with the Parquet magic bytes `PAR1` (truncated?)",
        ));
    }
    let len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().expect("4 bytes")) as usize;
    if len > n - 12 {
        return Err(corrupt(format!(
            "footer length {len} is larger than the file ({n} bytes)"
        )));
    }
    if len > limits.footer_bytes {
        return Err(Refusal::Limit(format!(
            "footer of {len} bytes; at most {} bytes (limit `footer_bytes`)",
            limits.footer_bytes
        )));
    }
    let footer_start = n - 8 - len;
    let footer = &bytes[footer_start..n - 8];
    let facts = walk_footer(footer).map_err(|e| corrupt(format!("footer: {e}")))?;
    if facts.num_rows < 0 {
        return Err(corrupt(format!("footer: {} rows", facts.num_rows)));
    }
    if facts.num_rows as u64 > limits.rows as u64 {
        return Err(Refusal::Limit(format!(
            "{} rows; at most {} rows per file (limit `rows`)",
            facts.num_rows, limits.rows
        )));
    }
    if facts.row_groups > limits.row_groups as u64 {
        return Err(Refusal::Limit(format!(
            "{} row groups; at most {} (limit `row_groups`)",
            facts.row_groups, limits.row_groups
        )));
    }
    if facts.schema_elements > limits.schema_elements as u64 || facts.depth > 8 {
        return Err(Refusal::Limit(format!(
            "a schema of {} elements nested {} deep; at most {} elements, 8 deep",
            facts.schema_elements, facts.depth, limits.schema_elements
        )));
    }
    let metadata = ParquetMetaDataReader::decode_metadata(footer)
        .map_err(|e| corrupt(format!("footer: {e}")))?;
    let checked = Checked {
        metadata,
        footer_start,
    };
    check_pages(bytes, &checked, limits)?;
    Ok(checked)
}

/// Walks the footer (Thrift `FileMetaData`): every count bounded, and the
/// row count, row groups and schema shape read.
fn walk_footer(footer: &[u8]) -> thrift::Result<FooterFacts> {
    let mut c = Compact::new(footer);
    let mut facts = FooterFacts {
        num_rows: 0,
        row_groups: 0,
        schema_elements: 0,
        depth: 0,
    };
    c.fields(&mut |c, id, ty| match (id, ty) {
        (2, thrift::LIST) => {
            let (ety, n) = c.list_header()?;
            if ety != thrift::STRUCT {
                return Err("schema is not a list of structs".into());
            }
            facts.schema_elements = n;
            // Depth from each element's num_children (field 5), as a stack of
            // children still expected per level.
            let mut open: Vec<i64> = Vec::new();
            for _ in 0..n {
                let mut children = 0i64;
                c.nested_fields(&mut |c, id, ty| {
                    if (id, ty) == (5, thrift::I32) {
                        children = i64::from(c.i32()?);
                        Ok(true)
                    } else {
                        Ok(false)
                    }
                })?;
                if let Some(top) = open.last_mut() {
                    *top -= 1;
                }
                if children > 0 {
                    open.push(children);
                    facts.depth = facts.depth.max(open.len() as u32);
                    if open.len() > 64 {
                        return Err("schema nested deeper than 64 levels".into());
                    }
                }
                while open.last() == Some(&0) {
                    open.pop();
                }
            }
            Ok(true)
        }
        (3, thrift::I64) => {
            facts.num_rows = c.i64()?;
            Ok(true)
        }
        (4, thrift::LIST) => {
            let (ety, n) = c.list_header()?;
            facts.row_groups = n;
            for _ in 0..n {
                c.skip_element(ety)?;
            }
            Ok(true)
        }
        _ => Ok(false),
    })?;
    if c.pos != footer.len() {
        return Err(format!(
            "{} bytes after the end of the file metadata",
            footer.len() - c.pos
        ));
    }
    Ok(facts)
}

/// One page header's fields that matter here.
#[derive(Default)]
struct PageHeader {
    kind: i32,
    uncompressed: i32,
    compressed: i32,
    crc: Option<i32>,
    num_values: i32,
    encoding: i32,
    levels_bytes: i64,
    values_compressed: bool,
}

fn read_page_header(c: &mut Compact) -> thrift::Result<PageHeader> {
    let mut h = PageHeader {
        values_compressed: true,
        kind: -1,
        ..Default::default()
    };
    c.fields(&mut |c, id, ty| {
        Ok(match (id, ty) {
            (1, thrift::I32) => {
                h.kind = c.i32()?;
                true
            }
            (2, thrift::I32) => {
                h.uncompressed = c.i32()?;
                true
            }
            (3, thrift::I32) => {
                h.compressed = c.i32()?;
                true
            }
            (4, thrift::I32) => {
                h.crc = Some(c.i32()?);
                true
            }
            // data_page_header, dictionary_page_header: 1 num_values, 2 encoding.
            (5, thrift::STRUCT) | (7, thrift::STRUCT) => {
                c.nested_fields(&mut |c, id, ty| {
                    Ok(match (id, ty) {
                        (1, thrift::I32) => {
                            h.num_values = c.i32()?;
                            true
                        }
                        (2, thrift::I32) => {
                            h.encoding = c.i32()?;
                            true
                        }
                        _ => false,
                    })
                })?;
                true
            }
            // data_page_header_v2: 1 num_values, 4 encoding, 5 and 6 level
            // byte lengths, 7 is_compressed.
            (8, thrift::STRUCT) => {
                c.nested_fields(&mut |c, id, ty| {
                    Ok(match (id, ty) {
                        (1, thrift::I32) => {
                            h.num_values = c.i32()?;
                            true
                        }
                        (4, thrift::I32) => {
                            h.encoding = c.i32()?;
                            true
                        }
                        (5, thrift::I32) | (6, thrift::I32) => {
                            h.levels_bytes += i64::from(c.i32()?);
                            true
                        }
                        (7, thrift::BOOL_TRUE) => {
                            h.values_compressed = true;
                            true
                        }
                        (7, thrift::BOOL_FALSE) => {
                            h.values_compressed = false;
                            true
                        }
                        _ => false,
                    })
                })?;
                true
            }
            _ => false,
        })
    })?;
    Ok(h)
}

const DATA_PAGE: i32 = 0;
const DICTIONARY_PAGE: i32 = 2;
const DATA_PAGE_V2: i32 = 3;

/// Encodings a page may use: PLAIN, PLAIN_DICTIONARY, RLE, BIT_PACKED,
/// DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY,
/// RLE_DICTIONARY, BYTE_STREAM_SPLIT.
fn encoding_ok(e: i32) -> bool {
    matches!(e, 0 | 2..=9)
}

/// DELTA_BYTE_ARRAY: each string is a prefix of the previous one plus a
/// suffix, so none is longer than the page's bytes, but a page of `n`
/// values can decode to `n` times that.
const DELTA_BYTE_ARRAY: i32 = 7;

fn check_pages(bytes: &[u8], checked: &Checked, limits: &Limits) -> Result<()> {
    let meta = &checked.metadata;
    let mut decoded: u64 = 0;
    let mut values: u64 = 0;
    let mut rows: i64 = 0;
    for (g, rg) in meta.row_groups().iter().enumerate() {
        rows = rows.saturating_add(rg.num_rows());
        for (k, col) in rg.columns().iter().enumerate() {
            let name = col.column_path().string();
            let at = |m: String| corrupt(format!("row group {g}, column `{name}`: {m}"));
            let codec = col.compression();
            if !matches!(
                codec,
                Compression::UNCOMPRESSED
                    | Compression::SNAPPY
                    | Compression::GZIP(_)
                    | Compression::ZSTD(_)
            ) {
                return Err(Refusal::Limit(format!(
                    "row group {g}, column `{name}`: compression {codec} is not accepted; \
                     expected zstd, snappy, gzip or none"
                )));
            }
            let start = match col.dictionary_page_offset() {
                Some(d) if d > 0 => d,
                _ => col.data_page_offset(),
            };
            let size = col.compressed_size();
            let end = start.checked_add(size).unwrap_or(-1);
            if start < 4 || size < 0 || end < start || end as usize > checked.footer_start {
                return Err(at(format!(
                    "pages at bytes {start}..{end} lie outside the data section 4..{}",
                    checked.footer_start
                )));
            }
            let chunk_values = col.num_values();
            if chunk_values < 0 {
                return Err(at(format!("{chunk_values} values")));
            }
            values += chunk_values as u64;
            if values > limits.values as u64 {
                return Err(Refusal::Limit(format!(
                    "more than {} values in all columns (limit `values`)",
                    limits.values
                )));
            }
            let strings = col.column_type() == PhysicalType::BYTE_ARRAY;
            let mut pos = start as usize;
            let end = end as usize;
            let mut page_values: i64 = 0;
            let mut longest_entry: u64 = 0;
            while pos < end {
                let first = pos == start as usize;
                let mut c = Compact::new(&bytes[pos..end]);
                let h = read_page_header(&mut c)
                    .map_err(|e| at(format!("page header at byte {pos}: {e}")))?;
                let body = pos + c.pos;
                let here = |m: String| at(format!("page at byte {pos}: {m}"));
                if h.compressed < 0 || h.uncompressed < 0 || h.num_values < 0 {
                    return Err(here("negative size or count".into()));
                }
                let body_end = body + h.compressed as usize;
                if body_end > end {
                    return Err(here(format!(
                        "{} bytes run past the column chunk's end",
                        h.compressed
                    )));
                }
                if h.uncompressed as u64 > limits.page_bytes as u64 {
                    return Err(Refusal::Limit(format!(
                        "row group {g}, column `{name}`: a page of {} bytes decoded; at most {} (limit `page_bytes`)",
                        h.uncompressed, limits.page_bytes
                    )));
                }
                let payload = &bytes[body..body_end];
                if let Some(crc) = h.crc {
                    let mut sum = flate2::Crc::new();
                    sum.update(payload);
                    if sum.sum() != crc as u32 {
                        return Err(here("page checksum (CRC32) does not match".into()));
                    }
                }
                match h.kind {
                    DICTIONARY_PAGE if first => {
                        if !matches!(h.encoding, 0 | 2) {
                            return Err(here(format!("dictionary encoding {}", h.encoding)));
                        }
                        let plain =
                            decompress(codec, payload, h.uncompressed as usize).map_err(here)?;
                        if strings {
                            longest_entry = longest_plain_string(&plain, h.num_values as usize)
                                .map_err(|e| here(format!("dictionary: {e}")))?;
                            if longest_entry > limits.string_bytes as u64 {
                                return Err(Refusal::Limit(format!(
                                    "column `{name}`: a string of {longest_entry} bytes; at most {} bytes per string (limit `string_bytes`)",
                                    limits.string_bytes
                                )));
                            }
                        }
                    }
                    DATA_PAGE | DATA_PAGE_V2 => {
                        if !encoding_ok(h.encoding) {
                            return Err(Refusal::Limit(format!(
                                "row group {g}, column `{name}`: page encoding {} is not accepted; \
                                 expected plain, dictionary, RLE or delta-binary encodings",
                                h.encoding
                            )));
                        }
                        page_values += i64::from(h.num_values);
                        if h.encoding == DELTA_BYTE_ARRAY {
                            decoded += h.num_values as u64
                                * (h.uncompressed as u64).min(limits.string_bytes as u64);
                        }
                        if h.kind == DATA_PAGE_V2 {
                            let levels = h.levels_bytes;
                            if levels < 0 || levels > i64::from(h.compressed.min(h.uncompressed)) {
                                return Err(here(format!("level bytes {levels}")));
                            }
                            let levels = levels as usize;
                            let rest = &payload[levels..];
                            let want = h.uncompressed as usize - levels;
                            if h.values_compressed {
                                decompress(codec, rest, want).map_err(here)?;
                            } else if rest.len() != want {
                                return Err(here("uncompressed values of the wrong size".into()));
                            }
                        } else {
                            decompress(codec, payload, h.uncompressed as usize).map_err(here)?;
                        }
                    }
                    other => {
                        return Err(here(format!("unexpected page type {other}")));
                    }
                }
                decoded += h.uncompressed as u64;
                pos = body_end;
            }
            if page_values != chunk_values {
                return Err(at(format!(
                    "pages hold {page_values} values; the footer says {chunk_values}"
                )));
            }
            // Dictionary-encoded strings decode to one copy of an entry per value.
            decoded += chunk_values as u64 * (16 + longest_entry);
            if decoded > limits.decoded_bytes as u64 {
                return Err(Refusal::Limit(format!(
                    "decodes to more than {} bytes (limit `decoded_bytes`; reached at column `{name}`, chunk {k} of row group {g})",
                    limits.decoded_bytes
                )));
            }
        }
    }
    if rows != meta.file_metadata().num_rows() {
        return Err(corrupt(format!(
            "row groups hold {rows} rows; the footer says {}",
            meta.file_metadata().num_rows()
        )));
    }
    Ok(())
}

/// Decompresses `input`, which must give exactly `want` bytes (never more is
/// produced: the output is bounded by `want`).
fn decompress(
    codec: Compression,
    input: &[u8],
    want: usize,
) -> std::result::Result<Vec<u8>, String> {
    let mismatch = |got: usize| format!("decompresses to {got} bytes; its header says {want}");
    let bounded = |r: &mut dyn Read| -> std::result::Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(want.min(1 << 20));
        r.take(want as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("cannot decompress: {e}"))?;
        if out.len() != want {
            return Err(mismatch(out.len()));
        }
        Ok(out)
    };
    match codec {
        Compression::UNCOMPRESSED => {
            if input.len() != want {
                return Err(mismatch(input.len()));
            }
            Ok(input.to_vec())
        }
        Compression::SNAPPY => {
            let n = snap::raw::decompress_len(input).map_err(|e| format!("snappy: {e}"))?;
            if n != want {
                return Err(mismatch(n));
            }
            let mut out = vec![0; n];
            snap::raw::Decoder::new()
                .decompress(input, &mut out)
                .map_err(|e| format!("snappy: {e}"))?;
            Ok(out)
        }
        Compression::GZIP(_) => bounded(&mut flate2::read::MultiGzDecoder::new(input)),
        Compression::ZSTD(_) => {
            let mut d =
                zstd::stream::read::Decoder::new(input).map_err(|e| format!("zstd: {e}"))?;
            bounded(&mut d)
        }
        other => Err(format!("compression {other}")),
    }
}

/// Longest entry of `n` PLAIN-encoded byte arrays (4-byte length, bytes).
fn longest_plain_string(buf: &[u8], n: usize) -> std::result::Result<u64, String> {
    let mut pos = 0;
    let mut longest = 0;
    for i in 0..n {
        let len = buf
            .get(pos..pos + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
            .ok_or_else(|| format!("entry {i} ends early"))?;
        pos += 4;
        if len > buf.len() - pos {
            return Err(format!("entry {i} of {len} bytes runs past the page"));
        }
        pos += len;
        longest = longest.max(len as u64);
    }
    Ok(longest)
}
