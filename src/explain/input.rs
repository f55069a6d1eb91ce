//! The saved document `explain --task-json` reads, read once from one handle (a FIFO or
//! `/dev/stdin` cannot be opened and read a second time), at most [`MAX_DOCUMENT_BYTES`].

use std::io::Read as _;
use std::path::Path;

use super::ExplainError;

/// The most of a document read: four times the daemon's default cap of one list answer, and a
/// bound on what a device such as `/dev/zero` can make us hold.
pub(super) const MAX_DOCUMENT_BYTES: u64 = 256 * 1024 * 1024;

/// The whole document.
pub(super) fn read(path: &Path) -> Result<Vec<u8>, ExplainError> {
    let error = |e| ExplainError::read(path, e);
    let file = std::fs::File::open(path).map_err(error)?;
    // A regular file's length is a good first guess; a pipe's is zero.
    let guess = file
        .metadata()
        .map_or(0, |meta| meta.len())
        .min(MAX_DOCUMENT_BYTES);
    let mut bytes = Vec::with_capacity(usize::try_from(guess).unwrap_or(0).saturating_add(1));
    file.take(MAX_DOCUMENT_BYTES.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(error)?;
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(error(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("it is larger than the limit of {MAX_DOCUMENT_BYTES} bytes"),
        )));
    }
    Ok(bytes)
}
