//! What kino tells about the platform it runs on, without any permission:
//! the metadata keys `kino_version`, `os_name`, `os_version` and `arch`.
//! Read once per process.

use std::sync::{Arc, OnceLock};

use crate::metadata::Map;

/// kino's own metadata keys: `kino_version` (this crate's version),
/// `os_name` and `arch` (the compile-time target: `linux`, `android`,
/// `macos`, `ios`, `windows`…; `x86_64`, `aarch64`, `arm`…), and
/// `os_version` where the platform tells it without a permission (the
/// kernel release from `uname(2)` on Linux and Android; absent elsewhere).
pub fn kino_keys() -> Arc<Map> {
    static KEYS: OnceLock<Arc<Map>> = OnceLock::new();
    Arc::clone(KEYS.get_or_init(|| {
        let mut m = Map::new();
        m.insert("kino_version".into(), env!("CARGO_PKG_VERSION").into());
        m.insert("os_name".into(), std::env::consts::OS.into());
        m.insert("arch".into(), std::env::consts::ARCH.into());
        if let Some(release) = os_version() {
            m.insert("os_version".into(), release);
        }
        Arc::new(m)
    }))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn os_version() -> Option<String> {
    // SAFETY: utsname is plain data; uname fills it and cannot fail on
    // Linux with a valid pointer.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    let bytes: Vec<u8> = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8(bytes).ok().filter(|s| !s.is_empty())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn os_version() -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kino_fills_its_four_keys() {
        let k = kino_keys();
        assert_eq!(k["kino_version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(k["os_name"], std::env::consts::OS);
        assert_eq!(k["arch"], std::env::consts::ARCH);
        if cfg!(target_os = "linux") {
            let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
            assert_eq!(k["os_version"], release.trim());
        }
    }
}
