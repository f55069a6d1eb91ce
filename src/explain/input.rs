//! The saved document `explain --task-json` reads, opened once: a FIFO or `/dev/stdin` cannot
//! be opened and read a second time, so the whole text for the fallback (a document the pieces
//! cannot be followed in) comes from the same handle: a regular file is read again from its
//! start, anything else was kept while it was read. Either way at most [`MAX_DOCUMENT_BYTES`].

use std::fs::File;
use std::io::{Read as _, Seek as _};
use std::path::Path;

use super::ExplainError;

/// The most of a document read: four times the daemon's default cap of one list answer, and a
/// bound on what a device such as `/dev/zero` can make us hold.
pub(super) const MAX_DOCUMENT_BYTES: u64 = 256 * 1024 * 1024;

/// An opened document.
pub(super) struct Input<'p> {
    path: &'p Path,
    file: File,
    /// A regular file, read again from its start for the whole text.
    seekable: bool,
    /// What was read so far, kept when the input cannot be read again.
    kept: Vec<u8>,
    read: u64,
}

impl<'p> Input<'p> {
    /// Opens the document.
    pub(super) fn open(path: &'p Path) -> Result<Self, ExplainError> {
        let file = File::open(path).map_err(|e| ExplainError::read(path, e))?;
        let seekable = file.metadata().is_ok_and(|meta| meta.file_type().is_file());
        Ok(Self {
            path,
            file,
            seekable,
            kept: Vec::new(),
            read: 0,
        })
    }

    fn too_large(&self) -> ExplainError {
        ExplainError::read(
            self.path,
            std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                format!("it is larger than the limit of {MAX_DOCUMENT_BYTES} bytes"),
            ),
        )
    }

    /// The next piece (empty at the end).
    pub(super) fn piece<'b>(&mut self, buffer: &'b mut [u8]) -> Result<&'b [u8], ExplainError> {
        loop {
            match self.file.read(buffer) {
                Ok(read) => {
                    let piece = buffer.get(..read).unwrap_or_default();
                    self.read += read as u64;
                    if self.read > MAX_DOCUMENT_BYTES {
                        return Err(self.too_large());
                    }
                    if !self.seekable {
                        self.kept.extend_from_slice(piece);
                    }
                    return Ok(piece);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ExplainError::read(self.path, e)),
            }
        }
    }

    /// The whole text, from the start, whatever was read of it before.
    pub(super) fn whole(mut self) -> Result<Vec<u8>, ExplainError> {
        let error = |e| ExplainError::read(self.path, e);
        let mut bytes = if self.seekable {
            self.file.rewind().map_err(error)?;
            Vec::new()
        } else {
            std::mem::take(&mut self.kept)
        };
        let left = MAX_DOCUMENT_BYTES.saturating_sub(bytes.len() as u64);
        (&mut self.file)
            .take(left.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(error)?;
        if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
            return Err(self.too_large());
        }
        Ok(bytes)
    }
}
