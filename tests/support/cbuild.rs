//! Compiles C programs against `include/kino.h` and the freshly built
//! `libkino.so`, strictly (`-Wall -Wextra -Wpedantic -Werror`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cargo profile directory holding `libkino.so` (`target/debug`).
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test-binary>
    exe.parent()
        .and_then(Path::parent)
        .expect("profile dir")
        .to_path_buf()
}

/// The profile directory, checked to hold `libkino.so`, with the
/// `libkino.so.0` link that programs linked against it look for (the
/// SONAME) made if missing. Call before linking or running a program.
pub fn linkable_lib_dir() -> PathBuf {
    let lib = lib_dir();
    ensure_cdylib(&lib);
    match std::os::unix::fs::symlink("libkino.so", lib.join("libkino.so.0")) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => panic!("cannot link libkino.so.0 in {}: {e}", lib.display()),
    }
    lib
}

/// Builds `libkino.so` into the profile directory if it is not there:
/// `cargo test` compiles the library only as an rlib for the tests, so on
/// a fresh clone the shared library does not exist yet. Done once per test
/// process; a nested `cargo build` is safe here because cargo releases its
/// build lock before it runs the tests.
fn ensure_cdylib(lib: &Path) {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        if lib.join("libkino.so").exists() {
            return;
        }
        let profile = lib.file_name().and_then(|n| n.to_str()).unwrap_or("debug");
        let target_dir = lib.parent().expect("target dir");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        clean_env(&mut cmd)
            .current_dir(root())
            .args(["build", "--lib", "--quiet"])
            .arg("--target-dir")
            .arg(target_dir);
        if profile == "release" {
            cmd.arg("--release");
        }
        if !cfg!(feature = "http") {
            cmd.arg("--no-default-features");
        }
        let status = cmd.status().expect("run cargo build --lib");
        assert!(status.success(), "cargo build --lib failed ({status})");
    });
    assert!(
        lib.join("libkino.so").exists(),
        "libkino.so not found in {} even after cargo build --lib",
        lib.display()
    );
}

/// Where compiled C programs go.
pub fn out_dir() -> PathBuf {
    let dir = lib_dir().join("c-tests");
    std::fs::create_dir_all(&dir).expect("create c-tests dir");
    dir
}

/// Compiles `sources` (paths relative to the repo root) into an executable
/// named `name`, linked to the shared library, and returns its path.
/// `extra` adds flags (for example `-fsanitize=address`).
pub fn compile(name: &str, sources: &[&str], extra: &[&str]) -> PathBuf {
    let out = out_dir().join(name);
    // Build under a unique name, then rename: tests running in parallel may
    // compile the same program while another runs it ("text file busy").
    static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = out_dir().join(format!(".{name}.{}.{n}", std::process::id()));
    let lib = linkable_lib_dir();
    let mut cmd = Command::new("cc");
    cmd.args([
        "-std=c99",
        "-Wall",
        "-Wextra",
        "-Wpedantic",
        "-Werror",
        "-g",
        "-D_POSIX_C_SOURCE=200809L",
    ])
    .arg("-I")
    .arg(root().join("include"));
    for s in sources {
        cmd.arg(root().join(s));
    }
    cmd.args(extra)
        .arg("-o")
        .arg(&tmp)
        .arg(format!("-L{}", lib.display()))
        .arg("-lkino")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lpthread")
        .arg("-lm");
    let output = cmd.output().expect("run cc");
    assert!(
        output.status.success(),
        "compiling {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::rename(&tmp, &out).expect("move the program into place");
    out
}

/// Runs a compiled program with `env`, returning its output.
pub fn run(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args).env_remove("KINO_BEACON_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run C program")
}

/// Clears what `cargo test` put into this process's environment: a nested
/// cargo (make install, the demo script) must see the same environment as a
/// plain `cargo build`, or build scripts that watch these variables (ring
/// watches CARGO_MANIFEST_DIR) rebuild the release library each time.
/// Also LD_LIBRARY_PATH (target/debug) and any make jobserver of ours.
pub fn clean_env(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let from_cargo_test = name == "CARGO"
            || name == "OUT_DIR"
            || name == "CARGO_PRIMARY_PACKAGE"
            || name == "CARGO_TARGET_TMPDIR"
            || [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
            ]
            .iter()
            .any(|p| name.starts_with(p));
        let other = [
            "LD_LIBRARY_PATH",
            "MAKEFLAGS",
            "MFLAGS",
            "MAKELEVEL",
            "CARGO_MAKEFLAGS",
        ]
        .contains(&name);
        if from_cargo_test || other {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// The flags the C test programs are built with: ASan (with LeakSanitizer)
/// and UBSan, frames kept for their reports.
pub const SANITIZE: &[&str] = &["-fsanitize=address,undefined", "-fno-omit-frame-pointer"];

/// What a checking program (one using tests/c/check.h) printed.
pub struct Checked {
    pub stdout: String,
    /// Status, stdout and stderr, for assertion messages.
    pub report: String,
    /// The checks that passed, from its last line.
    pub passed: usize,
}

/// Runs `program` (built with [`SANITIZE`]) with `args` and `env` under
/// ASan, LeakSanitizer and UBSan, each with an exit code of its own, and
/// asserts that it exited 0 without a sanitizer report and that its last
/// line is "`name`: N passed, 0 failed".
pub fn run_checks(name: &str, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Checked {
    let mut env = env.to_vec();
    env.push((
        "ASAN_OPTIONS",
        "detect_leaks=1:abort_on_error=0:exitcode=86",
    ));
    env.push((
        "UBSAN_OPTIONS",
        "halt_on_error=1:print_stacktrace=1:exitcode=87",
    ));
    let output = run(program, args, &env);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report = format!(
        "status {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    assert!(output.status.success(), "{name} failed: {report}");
    assert!(!stderr.contains("Sanitizer"), "sanitizer report: {report}");
    let last = stdout.lines().last().unwrap_or_default();
    let counts: Vec<&str> = last.split_whitespace().collect();
    let prefix = format!("{name}:");
    assert!(
        counts.len() == 5
            && counts[0] == prefix
            && counts[2] == "passed,"
            && counts[3] == "0"
            && counts[4] == "failed",
        "last line {last:?}: {report}"
    );
    let passed = counts[1].parse().expect("pass count");
    Checked {
        stdout,
        report,
        passed,
    }
}
