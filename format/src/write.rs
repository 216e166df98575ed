//! What every writer of this crate shares: the format version and the
//! content checksum ([`crate::read::content_sha256`]) in the key-value
//! metadata, one batch encoded with fixed properties, and the atomic write.

use crate::schema::CONTENT_SHA256_KEY;
use crate::ResultsError;
use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterPropertiesBuilder;
use parquet::format::KeyValue;
use std::path::Path;

/// Encodes `batch` with `props` (compression, created-by, …) plus the
/// metadata entries `version_key` = `version` and the content checksum
/// (`optional`: the format's optional columns, see [`crate::read::Kind`]).
pub fn encode(
    batch: &RecordBatch,
    props: WriterPropertiesBuilder,
    version_key: &str,
    version: u32,
    optional: &[&str],
) -> Result<Vec<u8>, ParquetError> {
    let sha = crate::read::content_sha256(std::slice::from_ref(batch), optional);
    let props = props
        .set_key_value_metadata(Some(vec![
            KeyValue::new(version_key.to_string(), version.to_string()),
            KeyValue::new(CONTENT_SHA256_KEY.to_string(), sha),
        ]))
        .build();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props))?;
    w.write(batch)?;
    w.close()?;
    Ok(buf)
}

/// Writes encoded bytes to `path` atomically ([`crate::atomic`]); an
/// encoding error is reported against `path`.
pub fn write_file(path: &Path, bytes: Result<Vec<u8>, ParquetError>) -> Result<(), ResultsError> {
    let bytes = bytes.map_err(|e| ResultsError::File {
        path: path.to_path_buf(),
        message: format!("cannot encode Parquet: {e}"),
    })?;
    crate::atomic::write_atomic(path, &bytes)
}
