//! Atomic writes: bytes go to a hidden temporary file in the target's folder
//! (`.<name>.tmp-<pid>`), are synced, then renamed over the target, so a
//! failure or a kill never leaves a half-written file. A kill between write
//! and rename leaves the temporary file; [`remove_stale_temps`] (called by
//! every write of the same target) removes such leftovers.

use crate::ResultsError;
use std::io::Write;
use std::path::{Path, PathBuf};

fn temp_prefix(name: &str) -> String {
    format!(".{name}.tmp-")
}

fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to `path` (creating its folder) through a temporary file
/// and a rename; removes stale temporary files of `path` first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| ResultsError::Io { path: p, source }
    };
    let dir = folder_of(path);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    remove_stale_temps(path).map_err(io(&dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!("{}{}", temp_prefix(&name), std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(path)(e));
    }
    Ok(())
}

/// Removes the temporary files an interrupted [`write_atomic`] of `path`
/// left in its folder (any process's: the target name is what they share).
/// Returns how many were removed; a missing folder is not an error.
pub fn remove_stale_temps(path: &Path) -> std::io::Result<usize> {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(0);
    };
    let prefix = temp_prefix(&name);
    let entries = match std::fs::read_dir(folder_of(path)) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for e in entries {
        let e = e?;
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(&prefix) && e.file_type()?.is_file() {
            std::fs::remove_file(e.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_temps_are_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/run.parquet");
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        let stale = target.with_file_name(".run.parquet.tmp-99999");
        std::fs::write(&stale, b"half").unwrap();
        let other = target.with_file_name(".other.parquet.tmp-1");
        std::fs::write(&other, b"x").unwrap();
        write_atomic(&target, b"whole").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"whole");
        assert!(!stale.exists());
        assert!(other.exists(), "another target's temp file is not ours");
    }
}
