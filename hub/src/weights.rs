//! The weights hash of `schema::Run.weights_sha256`, for Hub and local models alike.
//!
//! * one `.gguf` file: the sha256 of that file;
//! * otherwise: the sha256 of the concatenated lines `"<sha256 hex>  <file name>\n"` of every
//!   `*.safetensors` weight file, sorted by file name (the `sha256sum` format). Other files
//!   (config, tokenizer, the shard index) do not count.

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The weights hash (lowercase hex) of a model given its files, as described in the module docs.
/// `files` may include non-weight files; they are skipped. Errors name the file.
pub fn weights_sha256(files: &[PathBuf]) -> anyhow::Result<String> {
    let ggufs: Vec<&PathBuf> = files.iter().filter(|p| has_ext(p, "gguf")).collect();
    let mut shards: Vec<(String, &PathBuf)> = files
        .iter()
        .filter(|p| has_ext(p, "safetensors"))
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, p)
        })
        .collect();
    match (ggufs.as_slice(), shards.is_empty()) {
        ([one], true) => file_sha256(one),
        ([], false) => {
            shards.sort();
            for w in shards.windows(2) {
                anyhow::ensure!(
                    w[0].0 != w[1].0,
                    "two weight files named {} ({} and {})",
                    w[0].0,
                    w[0].1.display(),
                    w[1].1.display()
                );
            }
            let mut lines = String::new();
            for (name, path) in &shards {
                lines.push_str(&format!("{}  {name}\n", file_sha256(path)?));
            }
            Ok(hex(&Sha256::digest(lines.as_bytes())))
        }
        ([], true) => anyhow::bail!(
            "no weight file (*.gguf or *.safetensors) among {}",
            names(files)
        ),
        _ => anyhow::bail!(
            "ambiguous weights: expected one .gguf file or only .safetensors files, got {}",
            names(files)
        ),
    }
}

/// sha256 (hex) of a file's bytes, read in 1 MiB blocks; files over 256 MiB show a progress
/// bar (bytes, rate, ETA) on stderr when it is a terminal.
pub fn file_sha256(path: &Path) -> anyhow::Result<String> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot open for hashing: {e}", path.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if len > 256 << 20 {
        let b = ProgressBar::new(len);
        b.set_style(
            ProgressStyle::with_template(
                "hashing {msg} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.set_message(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| anyhow::anyhow!("{}: read error while hashing: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok(hex(&h.finalize()))
}

fn has_ext(p: &Path, ext: &str) -> bool {
    p.extension().is_some_and(|e| e == ext)
}

fn names(files: &[PathBuf]) -> String {
    let v: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    if v.is_empty() {
        "no files".into()
    } else {
        v.join(", ")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes() {
        let dir = tempfile::tempdir().unwrap();
        let w = |n: &str, b: &[u8]| {
            let p = dir.path().join(n);
            std::fs::write(&p, b).unwrap();
            p
        };
        let g = w("m.gguf", b"abc");
        let c = w("config.json", b"{}");
        // sha256("abc")
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(weights_sha256(&[c.clone(), g.clone()]).unwrap(), abc);
        let b = w("model-00002.safetensors", b"");
        let a = w("model-00001.safetensors", b"abc");
        let lines = format!(
            "{abc}  model-00001.safetensors\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  model-00002.safetensors\n"
        );
        let want = hex(&Sha256::digest(lines.as_bytes()));
        assert_eq!(
            weights_sha256(&[b.clone(), c.clone(), a.clone()]).unwrap(),
            want
        );
        assert_eq!(weights_sha256(&[a, b]).unwrap(), want);
        assert!(weights_sha256(std::slice::from_ref(&c)).is_err());
        let missing = dir.path().join("gone.gguf");
        let e = weights_sha256(&[missing]).unwrap_err().to_string();
        assert!(e.contains("gone.gguf"), "{e}");
        let g2 = w("n.gguf", b"x");
        assert!(weights_sha256(&[g, g2]).is_err());
    }
}
