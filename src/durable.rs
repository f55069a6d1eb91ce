//! The one way the daemon opens its own files (state, journal, lock, heartbeat, kept refresh
//! token, fetched lists' copies), and durable writes to them.
//!
//! Root may run `once` or `forget` beside the service, in a directory the service's user owns,
//! so that user could plant links to make root write elsewhere. Hence every file here is opened
//! without following a symbolic link (`O_NOFOLLOW`; a link is refused, never followed), and
//! without blocking on a FIFO (`O_NONBLOCK`); anything that is not a regular file (a FIFO, a
//! device such as `/dev/zero`, a directory) is refused; a file written in place (journal, lock)
//! must have one link; reads are capped; atomic replacement writes a temporary file created
//! exclusively under an unpredictable name (`tempfile`), fsyncs it, renames it over the target
//! (a rename replaces a planted link, never writes through it) and fsyncs the directory.
//!
//! When root writes into a directory that belongs to another user (the service's
//! `StateDirectory`), the new file is given to that user, through its open handle, so the
//! service can still read and replace it afterwards.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{
    FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::path::Path;

use nix::libc;

/// The directory a file lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Gives a file that root just created to the owner of its directory, when that owner is
/// another user. Does nothing for files of other users or directories owned by root. Works on
/// the open file, so a name swapped meanwhile changes nothing.
pub fn keep_directory_owner(file: &File, path: &Path) -> std::io::Result<()> {
    if file.metadata()?.uid() != 0 {
        return Ok(());
    }
    let dir = fs::metadata(parent_dir(path))?;
    if dir.uid() == 0 {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, Some(dir.uid()), Some(dir.gid()))
}

/// Options that never follow a link and never wait for a FIFO's other end.
fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    options
}

/// Opens with `options`, saying plainly when the name is a symbolic link.
fn open(options: &OpenOptions, path: &Path) -> std::io::Result<File> {
    options.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            std::io::Error::other(
                "it is a symbolic link, which is never followed for this file; remove it",
            )
        } else {
            e
        }
    })
}

/// Refuses an open file that is not a regular file, or (`in_place`: one written in place)
/// that has other names, through which a planted hard link would make us write elsewhere.
fn check_regular(file: &File, in_place: bool) -> std::io::Result<()> {
    let meta = file.metadata()?;
    let kind = meta.file_type();
    let what = if kind.is_file() {
        if in_place && meta.nlink() > 1 {
            return Err(std::io::Error::other(format!(
                "it has {} hard links, so writing it could change another file; give it a single name",
                meta.nlink()
            )));
        }
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(std::io::Error::other(format!(
        "it is {what}, not a regular file; refusing to use it"
    )))
}

/// Reads a whole regular file of at most `cap` bytes (more is an error naming the limit).
pub fn read_capped(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    let file = open(options().read(true), path)?;
    check_regular(&file, false)?;
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("it is larger than the limit of {cap} bytes"),
        ));
    }
    Ok(bytes)
}

/// Opens (creating it if missing) a regular file for writing in place, its content kept.
fn open_in_place(path: &Path, append: bool) -> std::io::Result<File> {
    fs::create_dir_all(parent_dir(path))?;
    let mut options = options();
    options.create(true);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(false);
    }
    let file = open(&options, path)?;
    check_regular(&file, true)?;
    keep_directory_owner(&file, path)?;
    Ok(file)
}

/// Opens a journal for appending, creating it if missing.
pub fn open_append(path: &Path) -> std::io::Result<File> {
    open_in_place(path, true)
}

/// Opens a lock file for writing, creating it if missing; its content is kept.
pub fn open_lock(path: &Path) -> std::io::Result<File> {
    open_in_place(path, false)
}

/// Opens an existing regular file for writing in place (to set its length or times); its
/// content is kept.
pub fn open_existing(path: &Path) -> std::io::Result<File> {
    let file = open(options().write(true), path)?;
    check_regular(&file, true)?;
    Ok(file)
}

/// Empties a file in place (creating it if missing) and fsyncs it.
pub fn empty(path: &Path) -> std::io::Result<()> {
    let file = open_in_place(path, false)?;
    file.set_len(0)?;
    file.sync_all()
}

/// Whether `file` is still the file named `path` (the same device and inode): false when the
/// name was removed or now names another file.
pub fn still_named(file: &File, path: &Path) -> std::io::Result<bool> {
    let held = file.metadata()?;
    match fs::symlink_metadata(path) {
        Ok(named) => Ok(named.dev() == held.dev() && named.ino() == held.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to `path` so that readers see either the old or the new content, never a
/// mix; `mode` is the new file's permission bits.
pub fn write_atomically_with_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let parent = parent_dir(path);
    fs::create_dir_all(parent)?;
    let mut prefix = path.file_name().unwrap_or_default().to_owned();
    prefix.push(".tmp-");
    // Exclusive creation (`O_EXCL`, so never through a planted link) under a random name; the
    // file is removed if anything below fails.
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(parent)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    keep_directory_owner(temp.as_file(), path)?;
    temp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable.
    File::open(parent)?.sync_all()
}

/// [`write_atomically_with_mode`] with mode 0644 (less the umask).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_with_mode(path, bytes, 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A file of ours that a planted link points at, with what it holds.
    fn victim(dir: &Path) -> PathBuf {
        let victim = dir.join("victim");
        fs::write(&victim, "precious").unwrap();
        victim
    }

    #[test]
    fn an_atomic_write_replaces_a_planted_link_and_leaves_its_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let victim = victim(dir.path());
        let path = dir.path().join("state.json");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        // The old predictable temporary name, planted too.
        let planted_temp = dir
            .path()
            .join(format!("state.json.tmp-{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted_temp).unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(fs::symlink_metadata(&path).unwrap().file_type().is_file());
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn files_written_in_place_refuse_links_and_leave_the_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let victim = victim(dir.path());
        let link = dir.path().join("state.json.journal");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        for result in [
            open_append(&link).map(drop),
            open_lock(&link).map(drop),
            open_existing(&link).map(drop),
            empty(&link),
            read_capped(&link, 100).map(drop),
        ] {
            let e = result.unwrap_err();
            assert!(e.to_string().contains("symbolic link"), "{e}");
        }
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        // A second name of a file (a hard link) is refused for writing in place.
        let hard = dir.path().join("hard");
        fs::hard_link(&victim, &hard).unwrap();
        let e = open_append(&hard).unwrap_err();
        assert!(e.to_string().contains("hard links"), "{e}");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn anything_but_a_regular_file_is_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Neither call may block on the FIFO's missing other end.
        let e = read_capped(&fifo, 100).unwrap_err();
        assert!(e.to_string().contains("a FIFO, not a regular file"), "{e}");
        // Opening a FIFO with no reader for writing fails at once (ENXIO) rather than waits.
        assert!(open_append(&fifo).is_err());
        let e = read_capped(Path::new("/dev/zero"), 100).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let e = read_capped(dir.path(), 100).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
    }

    #[test]
    fn reads_are_capped_and_the_error_names_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"12345").unwrap();
        assert_eq!(read_capped(&path, 5).unwrap(), b"12345");
        let e = read_capped(&path, 4).unwrap_err();
        assert!(e.to_string().contains("limit of 4 bytes"), "{e}");
    }

    #[test]
    fn a_held_file_knows_when_its_name_was_removed_or_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let file = open_lock(&path).unwrap();
        assert!(still_named(&file, &path).unwrap());
        fs::remove_file(&path).unwrap();
        assert!(!still_named(&file, &path).unwrap());
        drop(open_lock(&path).unwrap());
        assert!(!still_named(&file, &path).unwrap());
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
