//! Putting a freshly built site in place of the old one.
//!
//! A build writes everything into `.<name>.tmp-<pid>` beside the output folder
//! `<name>`, then installs it with one atomic step: on Linux,
//! `renameat2(RENAME_EXCHANGE)` swaps the two folders, so at every moment
//! `<name>` is either the complete old site or the complete new one; the old
//! site, now in the temp folder, is removed afterwards. Where the exchange is
//! not available (another OS, a file system without it) the old site is moved
//! aside and the new one moved in: two renames, with a moment without a site.
//!
//! A build that is killed leaves its temp folder behind; the next build removes
//! every `.<name>.tmp-<pid>` and `.<name>.old-<pid>` whose process is gone
//! ([`clean_stale`]) before it starts.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The temp folder this process builds `<parent>/<name>` in.
pub fn tmp_dir(parent: &Path, name: &str) -> PathBuf {
    parent.join(format!(".{name}.tmp-{}", std::process::id()))
}

/// Removes the temp and set-aside folders of builds of `<parent>/<name>` whose
/// process no longer runs. Returns how many it removed.
pub fn clean_stale(parent: &Path, name: &str) -> Result<usize> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Ok(0);
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let file_name = e.file_name();
        let Some(f) = file_name.to_str() else {
            continue;
        };
        let Some(pid) = [".tmp-", ".old-"].iter().find_map(|kind| {
            f.strip_prefix(&format!(".{name}{kind}"))
                .and_then(|p| p.parse::<u32>().ok())
        }) else {
            continue;
        };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        let p = e.path();
        std::fs::remove_dir_all(&p)
            .with_context(|| format!("removing {} (left by a stopped build)", p.display()))?;
        removed += 1;
    }
    Ok(removed)
}

/// Installs the complete site in `tmp` as `out` (see the module docs), leaving
/// no folder of this process behind.
pub fn install(tmp: &Path, out: &Path) -> Result<()> {
    if !out.exists() {
        return std::fs::rename(tmp, out)
            .with_context(|| format!("moving new site into {}", out.display()));
    }
    if !out.is_dir() || out.is_symlink() {
        bail!("output path {} exists and is not a folder", out.display());
    }
    if exchange(tmp, out)? {
        // `tmp` now holds the old site.
        return std::fs::remove_dir_all(tmp)
            .with_context(|| format!("removing the old site (moved to {})", tmp.display()));
    }
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned());
    let old = out.with_file_name(format!(
        ".{}.old-{}",
        name.unwrap_or_default(),
        std::process::id()
    ));
    std::fs::rename(out, &old)
        .with_context(|| format!("moving old site {} aside", out.display()))?;
    std::fs::rename(tmp, out).with_context(|| format!("moving new site into {}", out.display()))?;
    std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))
}

/// Swaps two folders atomically. `Ok(false)`: not supported here.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> Result<bool> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .with_context(|| format!("path {} holds a NUL byte", p.display()))
    };
    let (ca, cb) = (c(a)?, c(b)?);
    // SAFETY: two valid NUL-terminated paths; renameat2 reads them only.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Ok(false),
        _ => Err(e)
            .with_context(|| format!("swapping the new site {} with {}", a.display(), b.display())),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> Result<bool> {
    Ok(false)
}

/// Whether process `pid` still runs (a process we may not signal runs too).
#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_: u32) -> bool {
    true
}
