//! Durable file writes shared by the state, the heartbeat and the kept refresh token: atomic
//! replacement (temporary file, fsync, rename, directory fsync) and, when root writes into a
//! directory that belongs to another user (the service's `StateDirectory`), the new file is
//! given to that user so the service can still read and replace it afterwards.

use std::fs::{self, File};
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// The directory a file lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Gives a file that root just created to the owner of its directory, when that owner is
/// another user. Does nothing for files of other users or directories owned by root.
pub fn keep_directory_owner(path: &Path) -> std::io::Result<()> {
    let file = fs::symlink_metadata(path)?;
    if file.uid() != 0 {
        return Ok(());
    }
    let dir = fs::metadata(parent_dir(path))?;
    if dir.uid() == 0 {
        return Ok(());
    }
    std::os::unix::fs::chown(path, Some(dir.uid()), Some(dir.gid()))
}

/// Writes `bytes` to `path` so that readers see either the old or the new content, never a
/// mix; `mode` is the new file's permission bits.
pub fn write_atomically_with_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let parent = parent_dir(path);
    fs::create_dir_all(parent)?;
    let mut temp_name = path.as_os_str().to_owned();
    temp_name.push(format!(".tmp-{}", std::process::id()));
    let temp = PathBuf::from(temp_name);
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        keep_directory_owner(&temp)?;
        fs::rename(&temp, path)?;
        // Make the rename itself durable.
        File::open(parent)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// [`write_atomically_with_mode`] with mode 0644 (less the umask).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_with_mode(path, bytes, 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn root_writing_into_a_users_directory_keeps_that_user_as_owner() {
        let dir = tempfile::tempdir().unwrap();
        if fs::metadata(dir.path()).unwrap().uid() != 0 {
            eprintln!("SKIPPED: needs root to create files that belong to another user");
            return;
        }
        std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
        let path = dir.path().join("state.json");
        write_atomically(&path, b"{}").unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
    }
}
