//! `make install` into a temporary prefix, and a program from outside the
//! tree (tests/outside/main.c) built against what was installed, three
//! ways: pkg-config, CMake `find_package(kino)`, and statically with
//! libkino.a plus the native-static-libs line. Also: the header's version
//! macros agree with `kino_version()`.
//!
//! The prefix is `target/tmp/install-<pid>`: this test binary's own, so
//! runs in parallel never share one. It needs make, cc, pkg-config and
//! cmake (.ci/run installs them).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use support::cbuild::{self, clean_env};
use support::collector::Collector;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a program linking libkino.a also needs: the output of
/// `cargo rustc --release --lib --crate-type staticlib -- --print native-static-libs`
/// (`make native-static-libs`), as the Makefile, kino.pc and README give it.
const NATIVE_STATIC_LIBS: &str = "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc";

/// The installed tree and a scratch directory beside it.
struct Installed {
    prefix: PathBuf,
    work: PathBuf,
}

impl Installed {
    fn lib(&self) -> PathBuf {
        self.prefix.join("lib")
    }
    fn pkg_config_path(&self) -> PathBuf {
        self.lib().join("pkgconfig")
    }
}

/// Runs `cmd`, panicking with its output unless it succeeds.
fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A command that must exist: CI installs it, so its absence is a failure.
fn tool(name: &str, package: &str) -> Command {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{name} is needed by this test: apt-get install {package}"
    );
    let mut cmd = Command::new(name);
    clean_env(&mut cmd);
    cmd
}

/// Runs an outside program as a user would: no LD_LIBRARY_PATH, no
/// KINO_BEACON_URL.
fn run_program(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("KINO_BEACON_URL")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

/// `make install PREFIX=…` once per test binary, into a prefix of its own.
fn installed() -> &'static Installed {
    static INSTALLED: OnceLock<Installed> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        remove_stale_prefixes(&tmp);
        let base = tmp.join(format!("install-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let prefix = base.join("prefix");
        let work = base.join("work");
        std::fs::create_dir_all(&work).expect("create work dir");
        let out = run_ok(
            tool("make", "make")
                .arg("--no-print-directory")
                .arg("install")
                .arg(format!("PREFIX={}", prefix.display()))
                .current_dir(cbuild::root()),
            "make install",
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("installed kino {VERSION} into")),
            "{stdout}"
        );
        Installed { prefix, work }
    })
}

/// Prefixes left by earlier runs whose process is gone (they hold a copy of
/// libkino.a each, tens of MB).
fn remove_stale_prefixes(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("install-")) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// `ldd program`, as text.
fn ldd(program: &Path) -> String {
    let out = run_ok(tool("ldd", "libc-bin").arg(program), "ldd");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs an outside program twice — batches to a callback, then to a real
/// collector — and checks what it printed and what the collector got.
fn run_outside(program: &Path, how: &str) {
    let out = run_program(program, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("outside: ok") && stdout.contains("the callback"),
        "{how}: {} failed:\n{stdout}\n{}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );

    let collector = Collector::start();
    let url = collector.url();
    let out = run_program(program, &[url.as_str()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("outside: ok") && stdout.contains("the collector"),
        "{how}: {} {url} failed:\n{stdout}\n{}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(collector.wait_for_records(6, Duration::from_secs(5)));
    let names: Vec<String> = collector
        .accepted_records()
        .iter()
        .map(|r| r["event"].as_str().unwrap_or("?").to_string())
        .collect();
    assert_eq!(
        names,
        ["load", "quality_change", "play", "heartbeat", "end", "qoe"],
        "{how}"
    );
    eprintln!("{how}: {}", stdout.trim());
}

#[test]
fn header_version_macros_match_kino_version() {
    // In-tree header, freshly built library.
    let program = cbuild::compile("install_version", &["tests/outside/version.c"], &[]);
    let out = cbuild::run(&program, &[], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), format!("version: ok {VERSION}"));

    // And the generated macros are Cargo.toml's version.
    let header = std::fs::read_to_string(cbuild::root().join("include/kino.h")).unwrap();
    let mut parts = VERSION.split('.');
    for (name, value) in [
        ("KINO_VERSION_STRING", format!("\"{VERSION}\"")),
        ("KINO_VERSION_MAJOR", parts.next().unwrap().to_string()),
        ("KINO_VERSION_MINOR", parts.next().unwrap().to_string()),
        ("KINO_VERSION_PATCH", parts.next().unwrap().to_string()),
    ] {
        let line = format!("#define {name} {value}");
        assert!(header.lines().any(|l| l == line), "kino.h lacks `{line}`");
    }
}

#[test]
fn install_lays_out_the_libraries_headers_and_package_files() {
    let inst = installed();
    let lib = inst.lib();
    let real = format!("libkino.so.{VERSION}");
    let major = VERSION.split('.').next().unwrap();
    let soname = format!("libkino.so.{major}");

    for file in [
        "include/kino.h",
        "include/kino.hpp",
        "lib/libkino.a",
        "lib/pkgconfig/kino.pc",
        "lib/cmake/kino/kinoConfig.cmake",
        "lib/cmake/kino/kinoConfigVersion.cmake",
    ] {
        assert!(inst.prefix.join(file).is_file(), "{file} not installed");
    }
    let meta = std::fs::symlink_metadata(lib.join(&real)).expect("the real library");
    assert!(meta.file_type().is_file(), "{real} is the file itself");
    assert_eq!(
        std::fs::read_link(lib.join(&soname)).unwrap(),
        PathBuf::from(&real)
    );
    assert_eq!(
        std::fs::read_link(lib.join("libkino.so")).unwrap(),
        PathBuf::from(&soname)
    );
    assert_eq!(
        std::fs::read(inst.prefix.join("include/kino.h")).unwrap(),
        std::fs::read(cbuild::root().join("include/kino.h")).unwrap()
    );

    let dynamic = run_ok(
        tool("readelf", "binutils").arg("-d").arg(lib.join(&real)),
        "readelf",
    );
    let dynamic = String::from_utf8_lossy(&dynamic.stdout);
    assert!(
        dynamic.contains(&format!("Library soname: [{soname}]")),
        "{dynamic}"
    );

    let pc = |args: &[&str]| -> String {
        let out = run_ok(
            tool("pkg-config", "pkg-config")
                .args(args)
                .arg("kino")
                .env("PKG_CONFIG_PATH", inst.pkg_config_path()),
            "pkg-config",
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(pc(&["--modversion"]), VERSION);
    assert_eq!(
        pc(&["--cflags", "--libs"]),
        format!(
            "-I{}/include -L{} -lkino",
            inst.prefix.display(),
            lib.display()
        )
    );
    assert_eq!(
        pc(&["--static", "--libs"]),
        format!("-L{} -lkino {NATIVE_STATIC_LIBS}", lib.display())
    );
}

#[test]
fn outside_program_builds_with_pkg_config() {
    let inst = installed();
    let flags = run_ok(
        tool("pkg-config", "pkg-config")
            .args(["--cflags", "--libs", "kino"])
            .env("PKG_CONFIG_PATH", inst.pkg_config_path()),
        "pkg-config",
    );
    let flags = String::from_utf8_lossy(&flags.stdout).into_owned();
    let program = inst.work.join("outside-pkg-config");
    // cc main.c $(pkg-config --cflags --libs kino), with an rpath to run it.
    run_ok(
        tool("cc", "gcc")
            .args(["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"])
            .arg(cbuild::root().join("tests/outside/main.c"))
            .args(flags.split_whitespace())
            .arg(format!("-Wl,-rpath,{}", inst.lib().display()))
            .arg("-o")
            .arg(&program),
        "cc with pkg-config",
    );
    let deps = ldd(&program);
    assert!(
        deps.contains(&format!(
            "libkino.so.0 => {}/libkino.so.0",
            inst.lib().display()
        )),
        "the installed libkino.so.0 is the one loaded:\n{deps}"
    );
    run_outside(&program, "pkg-config");
}

#[test]
fn outside_program_builds_with_cmake_find_package() {
    let inst = installed();
    let build = inst.work.join("cmake-build");
    let _ = std::fs::remove_dir_all(&build);
    let configure = run_ok(
        tool("cmake", "cmake")
            .arg("-S")
            .arg(cbuild::root().join("tests/outside"))
            .arg("-B")
            .arg(&build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", inst.prefix.display()))
            .arg(format!("-DKINO_VERSION={VERSION}"))
            .arg("-DCMAKE_BUILD_TYPE=Release"),
        "cmake configure",
    );
    let configure = String::from_utf8_lossy(&configure.stdout);
    assert!(
        configure.contains(&format!(
            "outside: found kino {VERSION} in {}/lib/cmake/kino",
            inst.prefix.display()
        )),
        "{configure}"
    );
    run_ok(
        tool("cmake", "cmake").arg("--build").arg(&build),
        "cmake --build",
    );

    // kino::kino: linked to the installed shared library.
    let shared = build.join("outside");
    let deps = ldd(&shared);
    assert!(
        deps.contains(&format!(
            "libkino.so.0 => {}/libkino.so.0",
            inst.lib().display()
        )),
        "{deps}"
    );
    run_outside(&shared, "cmake kino::kino");

    // kino::kino_static: no libkino.so needed at all.
    let static_ = build.join("outside_static");
    let deps = ldd(&static_);
    assert!(!deps.contains("libkino"), "{deps}");
    run_outside(&static_, "cmake kino::kino_static");

    // The installed header's macros against the installed library.
    let out = run_program(&build.join("version"), &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("version: ok {VERSION}")
    );
}

#[test]
fn outside_program_links_statically_with_native_static_libs() {
    let inst = installed();
    let program = inst.work.join("outside-static");
    // cc main.c <prefix>/lib/libkino.a <native-static-libs>
    run_ok(
        tool("cc", "gcc")
            .args(["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"])
            .arg(format!("-I{}/include", inst.prefix.display()))
            .arg(cbuild::root().join("tests/outside/main.c"))
            .arg(inst.lib().join("libkino.a"))
            .args(NATIVE_STATIC_LIBS.split_whitespace())
            .arg("-o")
            .arg(&program),
        "cc with libkino.a",
    );
    let deps = ldd(&program);
    assert!(
        !deps.contains("libkino"),
        "a static build does not need libkino.so:\n{deps}"
    );
    let symbols = run_ok(
        tool("nm", "binutils").arg("--defined-only").arg(&program),
        "nm",
    );
    assert!(
        String::from_utf8_lossy(&symbols.stdout).contains(" kino_emitter_new"),
        "kino is inside the program"
    );
    run_outside(&program, "static");
}

/// The engine adapters `make install` put beside kino (the test machine has
/// both engines' development files: scripts/test-deps.sh installs them):
/// each example player builds from outside with `pkg-config kino-gst` /
/// `kino-mpv` alone, loads the installed adapter and libkino, and runs.
#[test]
fn installed_adapters_build_the_example_players_with_pkg_config() {
    let inst = installed();
    for (pc, example, needed) in [
        ("kino-gst", "examples-c/gst_play.c", "libkino-gst.so.0"),
        ("kino-mpv", "examples-c/mpv_play.c", "libkino-mpv.so.0"),
    ] {
        let flags = run_ok(
            tool("pkg-config", "pkg-config")
                .args(["--cflags", "--libs", pc])
                .env("PKG_CONFIG_PATH", inst.pkg_config_path()),
            "pkg-config",
        );
        let flags = String::from_utf8_lossy(&flags.stdout).into_owned();
        let program = inst.work.join(pc);
        run_ok(
            tool("cc", "gcc")
                .args(["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"])
                .arg("-D_POSIX_C_SOURCE=200809L")
                .arg(cbuild::root().join(example))
                .args(flags.split_whitespace())
                .arg(format!("-Wl,-rpath,{}", inst.lib().display()))
                .arg("-o")
                .arg(&program),
            "cc with the adapter's pkg-config",
        );
        let deps = ldd(&program);
        for lib in [needed, "libkino.so.0"] {
            assert!(
                deps.contains(&format!("{lib} => {}/{lib}", inst.lib().display())),
                "the installed {lib} is the one loaded:\n{deps}"
            );
        }
        // Without a URL it says how to call it: it loaded and ran.
        let out = run_program(&program, &[]);
        assert_eq!(out.status.code(), Some(2), "{pc}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("usage:"));
    }
}

/// Without an engine's development files, `make` and `make install` say
/// they skipped its adapter instead of failing (pkg-config made blind to
/// every package).
#[test]
fn adapters_are_skipped_without_engine_development_files() {
    let blind = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-pkg-config-dirs");
    std::fs::create_dir_all(&blind).unwrap();
    let out = run_ok(
        tool("make", "make")
            .args(["--no-print-directory", "adapters"])
            .env("PKG_CONFIG_LIBDIR", &blind)
            .env("PKG_CONFIG_PATH", &blind)
            .current_dir(cbuild::root()),
        "make adapters",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for engine in ["GStreamer", "mpv"] {
        assert!(
            stdout.contains(&format!("make: skipped the {engine} adapter")),
            "{stdout}"
        );
    }
    let prefix = blind.join(format!("prefix-{}", std::process::id()));
    let out = run_ok(
        tool("bash", "bash")
            .arg(cbuild::root().join("scripts/install.sh"))
            .arg("install")
            .env("PREFIX", &prefix)
            .env("PKG_CONFIG_LIBDIR", &blind)
            .env("PKG_CONFIG_PATH", &blind)
            .current_dir(cbuild::root()),
        "install.sh install",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("skipped the GStreamer adapter"), "{stdout}");
    assert!(stdout.contains("skipped the libmpv adapter"), "{stdout}");
    assert!(!prefix.join("include/kino_gst.h").exists());
    let _ = std::fs::remove_dir_all(&prefix);
}
