//! Refuses to build the fuzz targets with debug assertions or overflow checks.
//!
//! `cargo fuzz` without `-O` (and OSS-Fuzz's `compile`, whatever the flags) passes
//! `-Cdebug-assertions` in RUSTFLAGS, which reaches every crate and beats any profile setting
//! in a Cargo.toml. zk_evm then checks `debug_assert!`s that a node (a release build) never
//! checks, and the targets report crashes of the reference that are no divergence. The
//! reference must be built as a node builds it, so such a build stops here, saying how to
//! build instead.

fn main() {
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    println!("cargo:rerun-if-changed=build.rs");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let checked = checks_enabled(flags.split('\x1f').filter(|f| !f.is_empty()));
    if !checked.is_empty() {
        eprintln!(
            "error: eradiff-fuzz must not be built with {} (RUSTFLAGS: {:?}).\n\
             They would reach zk_evm, whose debug_assert!s a node never checks, and every one \
             that fires would be reported as a crash of the reference.\n\
             Build as a node does: `cargo fuzz run -O <target> -s none` (cargo fuzz adds \
             -Cdebug-assertions unless given -O, and never with -a/--debug-assertions or -D); \
             on OSS-Fuzz/ClusterFuzzLite remove them from RUSTFLAGS (see \
             .clusterfuzzlite/build.sh).",
            checked.join(" and "),
            flags.replace('\x1f', " ")
        );
        std::process::exit(1);
    }
}

/// Which of debug assertions and overflow checks the rustc flags leave on (the last setting
/// of each counts, as in rustc).
fn checks_enabled<'a>(flags: impl Iterator<Item = &'a str>) -> Vec<&'static str> {
    let mut debug_assertions = false;
    let mut overflow_checks: Option<bool> = None;
    let mut flags = flags.peekable();
    while let Some(flag) = flags.next() {
        let option = match flag {
            "-C" | "--codegen" => match flags.next() {
                Some(next) => next.to_string(),
                None => break,
            },
            f if f.starts_with("-C") => f[2..].to_string(),
            f if f.starts_with("--codegen=") => f["--codegen=".len()..].to_string(),
            _ => continue,
        };
        let (name, value) = match option.split_once('=') {
            Some((n, v)) => (n.replace('_', "-"), Some(v.to_string())),
            None => (option.replace('_', "-"), None),
        };
        let on = value.map_or(true, |v| matches!(v.as_str(), "y" | "yes" | "on" | "true"));
        match name.as_str() {
            "debug-assertions" => debug_assertions = on,
            "overflow-checks" => overflow_checks = Some(on),
            _ => {}
        }
    }
    let mut enabled = Vec::new();
    if debug_assertions {
        enabled.push("debug assertions");
    }
    // rustc turns overflow checks on with debug assertions unless told otherwise.
    if overflow_checks.unwrap_or(debug_assertions) {
        enabled.push("overflow checks");
    }
    enabled
}
