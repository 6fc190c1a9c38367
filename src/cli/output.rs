//! Output files. A regular file is written to a temporary name beside it
//! and renamed into place, so an interrupted or failed run never leaves a
//! truncated file. A symlink is written through: the temp file goes beside
//! its target and replaces the target, the link stays. A FIFO or a
//! character device (`/dev/stdout`, `/dev/null`) is streamed to, never
//! replaced. [`check_output`] looks at every output path before a command
//! runs, so a bad path is an exit 2 with nothing written.

use super::UsageError;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// Where the bytes for `path` really go.
enum Dest {
    /// A regular file (or a new one): atomic replace of this path.
    File(PathBuf),
    /// A FIFO, character device or socket: opened and written in place.
    Stream(PathBuf),
}

/// Follow symlinks from `path` to the path that is written (the target
/// may not exist yet). At most 40 links, as the kernel allows.
fn resolve(path: &Path) -> io::Result<Dest> {
    match fs::metadata(path) {
        Ok(m) => {
            let t = m.file_type();
            if t.is_fifo() || t.is_char_device() || t.is_socket() {
                // Opened through the link (`/dev/stdout` → `pipe:[..]`).
                return Ok(Dest::Stream(path.to_path_buf()));
            }
            if t.is_dir() {
                return Err(io::Error::other("is a directory"));
            }
            return Ok(Dest::File(fs::canonicalize(path)?));
        }
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    // Nothing there yet, or a dangling link: follow links by hand to the
    // file that will be created.
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(Dest::File(p)),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// The temporary name used while `path` is being written.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Remove temp files of `path` left by an earlier process that was killed
/// (`.NAME.PID.tmp` whose PID is no longer running).
fn clean_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    // Without /proc we cannot tell a live writer from a dead one.
    if !Path::new("/proc/self").exists() {
        return;
    }
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = n
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".tmp"))
            .and_then(|r| r.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Check, before anything runs, that `path` can be written: not a
/// directory, its folder exists or can be made, and the folder (or the
/// stream) accepts writes. Also removes stale temp files of `path`. The
/// error names the path and `what` it is for.
pub fn check_output(path: &Path, what: &str) -> Result<(), UsageError> {
    let bad = |msg: String| {
        UsageError(format!(
            "error: {}: cannot write {what}: {msg}",
            crate::escape::path(path)
        ))
    };
    match resolve(path).map_err(|e| bad(e.to_string()))? {
        Dest::Stream(p) => {
            // Opening a FIFO for writing blocks until a reader comes; a
            // stream is checked by its type only.
            let m = fs::metadata(&p).map_err(|e| bad(e.to_string()))?;
            if m.permissions().readonly() {
                return Err(bad("not writable".into()));
            }
            Ok(())
        }
        Dest::File(p) => {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            // The nearest folder that exists must be a folder and writable.
            let mut existing = dir;
            while !existing.exists() {
                match existing.parent() {
                    Some(up) if !up.as_os_str().is_empty() => existing = up,
                    _ => {
                        existing = Path::new(".");
                        break;
                    }
                }
            }
            let m = fs::metadata(existing)
                .map_err(|e| bad(format!("{}: {e}", crate::escape::path(existing))))?;
            if !m.is_dir() {
                return Err(bad(format!(
                    "{} is not a directory",
                    crate::escape::path(existing)
                )));
            }
            let probe = existing.join(format!(".agentsim-probe.{}", std::process::id()));
            match fs::File::create(&probe) {
                Ok(_) => {
                    let _ = fs::remove_file(&probe);
                }
                Err(e) => {
                    return Err(bad(format!(
                        "folder {} is not writable: {e}",
                        crate::escape::path(existing)
                    )))
                }
            }
            if p.exists() {
                fs::OpenOptions::new()
                    .append(true)
                    .open(&p)
                    .map_err(|e| bad(e.to_string()))?;
            }
            clean_stale_temps(&p);
            Ok(())
        }
    }
}

/// Write `bytes` to `path`: atomically (temp file, fsync, rename) for a
/// regular file or a symlink to one, streamed for a FIFO or device.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let target = match resolve(path)? {
        Dest::Stream(p) => {
            let mut f = fs::OpenOptions::new().write(true).open(p)?;
            return match f.write_all(bytes).and_then(|()| f.flush()) {
                // The reader is gone (`| head`): not an error, as for stdout.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                r => r,
            };
        }
        Dest::File(p) => p,
    };
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let tmp = temp_path(&target);
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A file being streamed to a temp name; [`Staged::commit`] renames it
/// into place, dropping it uncommitted removes it. A FIFO or device is
/// written directly (commit does nothing).
pub struct Staged {
    path: PathBuf,
    tmp: Option<PathBuf>,
    committed: bool,
}

impl Staged {
    /// Create the temp file for `path` and return it with its writer.
    pub fn create(path: &Path) -> io::Result<(Staged, fs::File)> {
        let target = match resolve(path)? {
            Dest::Stream(p) => {
                let f = fs::OpenOptions::new().write(true).open(&p)?;
                let staged = Staged {
                    path: p,
                    tmp: None,
                    committed: false,
                };
                return Ok((staged, f));
            }
            Dest::File(p) => p,
        };
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let tmp = temp_path(&target);
        let f = fs::File::create(&tmp)?;
        Ok((
            Staged {
                path: target,
                tmp: Some(tmp),
                committed: false,
            },
            f,
        ))
    }

    /// Move the finished file into place.
    pub fn commit(mut self) -> io::Result<()> {
        if let Some(tmp) = &self.tmp {
            fs::rename(tmp, &self.path)?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let (false, Some(tmp)) = (self.committed, &self.tmp) {
            let _ = fs::remove_file(tmp);
        }
    }
}
