//! Generates the C header with cbindgen into `$OUT_DIR/kino.h`.
//!
//! The committed `include/kino.h` must be byte-identical to it: CI compares
//! the two, and `make header` copies the fresh one over. The build never
//! writes into the source tree.

use std::env;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");

    // A SONAME, so programs link against the ABI version, not the file.
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("version");
    if target_os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libkino.so.{major}");
    } else if target_os == "android" {
        // An APK ships only files named lib*.so: no version suffix there.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libkino.so");
    } else if target_os == "macos" || target_os == "ios" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libkino.{major}.dylib");
    }

    let mut config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let version = env::var("CARGO_PKG_VERSION").expect("version");
    let after = config.after_includes.take().unwrap_or_default();
    config.after_includes = Some(
        after
            .replace("@VERSION@", &version)
            .replace("@MAJOR@", &major)
            .replace(
                "@MINOR@",
                &env::var("CARGO_PKG_VERSION_MINOR").expect("version"),
            )
            .replace(
                "@PATCH@",
                &env::var("CARGO_PKG_VERSION_PATCH").expect("version"),
            ),
    );
    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(out_dir.join("kino.h"));
        }
        Err(e) => panic!("cbindgen failed: {e}"),
    }
}
