//! Helpers shared by the fuzz targets (see docs/FUZZING.md).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Whether every character of `part` occurs in `whole`, in order (so
/// `part` holds nothing `whole` did not).
pub fn is_subsequence(part: &str, whole: &str) -> bool {
    let mut rest = whole.chars();
    part.chars().all(|c| rest.any(|w| w == c))
}

/// A fresh directory for one fuzz input, on a tmpfs when there is one
/// (`/dev/shm`), removed on drop.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Creates `<tmpfs or temp dir>/kino-fuzz-<pid>-<n>`.
    pub fn new() -> ScratchDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!(
            "kino-fuzz-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        ScratchDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Default for ScratchDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Maps fuzzer bytes onto an alphabet, so structured inputs stay in the
/// characters a part of a URL, date or header is made of.
pub fn from_alphabet(bytes: &[u8], alphabet: &str) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    bytes
        .iter()
        .map(|&b| chars[usize::from(b) % chars.len()])
        .collect()
}
