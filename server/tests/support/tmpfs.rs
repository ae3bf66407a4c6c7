//! A small tmpfs mounted on a directory, to give alertrun a disk that can be filled up.
//! Needs root (CAP_SYS_ADMIN); [`Tmpfs::mount`] says why when it cannot mount.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs; unmounted (and its mount point removed) on drop.
#[derive(Debug)]
pub(crate) struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `4m`) on the existing directory `path`.
    ///
    /// # Errors
    /// What `mount` said, when it failed (not root, no CAP_SYS_ADMIN, no `mount`).
    pub(crate) fn mount(path: &Path, size: &str) -> Result<Self, String> {
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "mount -t tmpfs on {} failed ({}): {}",
                path.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// Remounts it read-only (`true`) or read-write (`false`).
    ///
    /// # Panics
    /// When `mount -o remount` fails (e.g. read-only while a file is open for writing).
    pub(crate) fn set_read_only(&self, read_only: bool) {
        let mode = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        let output = Command::new("mount")
            .args(["-o", mode])
            .arg(&self.path)
            .output()
            .expect("run mount");
        assert!(
            output.status.success(),
            "mount -o {mode} {}: {}",
            self.path.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }

    /// Fills the file system with `filler` (created or extended) until a write fails with
    /// "no space left on device"; returns the bytes written.
    ///
    /// # Panics
    /// When a write fails for another reason.
    pub(crate) fn fill(&self, filler: &Path) -> u64 {
        let mut file: File = OpenOptions::new()
            .create(true)
            .append(true)
            .open(filler)
            .unwrap_or_else(|e| panic!("create {}: {e}", filler.display()));
        let chunk = vec![0xa5_u8; 4096];
        let mut written = 0;
        loop {
            match file.write(&chunk) {
                Ok(0) => return written,
                Ok(n) => written += n as u64,
                Err(e) if is_no_space(&e) => return written,
                Err(e) => panic!("fill {}: {e}", filler.display()),
            }
        }
    }
}

fn is_no_space(e: &io::Error) -> bool {
    e.raw_os_error() == Some(nix::libc::ENOSPC) || e.kind() == io::ErrorKind::StorageFull
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Still busy (a process holds a file): detach it now, it goes when released.
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
        let _ = fs::remove_dir(&self.path);
    }
}
