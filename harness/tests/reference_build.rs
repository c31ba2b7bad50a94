//! The reference is compiled as a node compiles it: without debug assertions or overflow
//! checks (root Cargo.toml's profile for tests and `eradiff`, `cargo fuzz -O` and
//! fuzz/build.rs for the fuzz targets).

use eradiff::asm::{op, Program};
use eradiff::backend::{run_isolated, ZkEvm};
use eradiff::case::Case;
use eradiff::differential::{Judge, Verdict};
use eradiff::observe::RunEnd;
use eravm::{Opcode, TaggedWord, U256};

/// `st.1.inc` whose offset register carries the pointer tag: zk_evm's heap write checks
/// `debug_assert_eq!(src0_is_ptr, false)` (uma.rs) before writing the incremented offset.
/// A node never checks it; the first `cargo fuzz` campaign without `-O` reported it as
/// `crash:zk_evm:assertion left == right failed`.
fn heap_write_inc_with_tagged_offset() -> Case {
    let mut case = Program::new()
        .register(
            1,
            TaggedWord {
                value: U256::from(0x20),
                is_pointer: true,
            },
        )
        .register(
            2,
            TaggedWord {
                value: U256::from(7),
                is_pointer: false,
            },
        )
        .push(op(Opcode::HeapWrite).src0(1).src1(2).m0().dst(3))
        .push(op(Opcode::RetOk))
        .case(10_000);
    case.note = "zk_evm checks debug_assert_eq!(src0_is_ptr, false) here (uma.rs); a node \
                 does not: must agree"
        .into();
    case
}

#[test]
fn a_state_zk_evm_guards_with_debug_assert_agrees() {
    let case = heap_write_inc_with_tagged_offset();
    let reference = run_isolated(&ZkEvm, &case, false)
        .unwrap_or_else(|e| panic!("zk_evm was built with debug assertions? {e}"));
    assert_eq!(reference.state.end, RunEnd::Ok);
    assert!(
        reference
            .state
            .heap
            .iter()
            .any(|(word, v)| *word == 1 && v.value == U256::from(7)),
        "st.1.inc wrote r2 at offset 0x20: {:?}",
        reference.state.heap
    );
    // Every backend that hosts it agrees (vm2 declines: the offset register is a pointer).
    assert!(matches!(Judge::default().check(&case), Verdict::Agree(_)));
}

#[test]
fn the_corpus_holds_the_case_that_tripped_cargo_fuzz() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../corpus/opcodes/debug-assert-uma-inc-tagged-offset.json"
    );
    if std::env::var_os("ERADIFF_WRITE_CORPUS").is_some() {
        std::fs::write(path, heap_write_inc_with_tagged_offset().to_json() + "\n").unwrap();
    }
    let case = Case::load(std::path::Path::new(path)).expect("the regression case is in corpus/");
    assert_eq!(
        case,
        heap_write_inc_with_tagged_offset(),
        "regenerate with ERADIFF_WRITE_CORPUS=1"
    );
}

/// Every `cargo fuzz` command the project documents or runs builds with `-O`: without it
/// cargo-fuzz passes `-Cdebug-assertions` to every crate, zk_evm included (fuzz/build.rs
/// then refuses to build).
#[test]
fn every_cargo_fuzz_command_builds_the_reference_as_a_node_does() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = vec![
        root.join("README.md"),
        root.join(".ci/run"),
        root.join(".clusterfuzzlite/build.sh"),
    ];
    for dir in ["docs", "ci", ".github/workflows", "fuzz/fuzz_targets"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    let mut commands = 0;
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let Some(at) = line.find("cargo fuzz ") else {
                continue;
            };
            let words: Vec<&str> = line[at..]
                .split(|c: char| c.is_whitespace() || c == '`')
                .filter(|w| !w.is_empty())
                .take_while(|w| *w != "--" && *w != "#")
                .collect();
            let builds = ["run", "build", "cmin", "tmin", "coverage"];
            if !words.get(2).is_some_and(|w| builds.contains(w)) {
                continue;
            }
            commands += 1;
            let release = words.iter().any(|w| *w == "-O" || *w == "--release");
            let checked = words
                .iter()
                .any(|w| ["-a", "--debug-assertions", "-D", "--dev"].contains(w));
            if !release || checked {
                wrong.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(commands >= 8, "found only {commands} cargo fuzz commands");
    assert!(
        wrong.is_empty(),
        "cargo fuzz without -O:\n{}",
        wrong.join("\n")
    );
}

/// The cargo-fuzz build itself (slow: it builds both VMs with coverage instrumentation; run
/// with `--ignored`, as `.ci/run` does when cargo-fuzz is installed): refused without `-O`,
/// and with `-O` its `case` target agrees with `eradiff` on the case above.
#[test]
#[ignore]
fn the_cargo_fuzz_build_agrees_on_the_debug_assert_case() {
    use std::process::Command;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target_dir = root.join("target/fuzz-build-test");
    let cargo_fuzz = |extra: &[&str]| {
        let mut cmd = Command::new("cargo");
        cmd.current_dir(&root)
            .args(["fuzz", "build", "case", "-s", "none", "--target-dir"])
            .arg(&target_dir)
            .args(extra)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR");
        cmd.output()
            .expect("cargo fuzz runs (cargo install cargo-fuzz --locked)")
    };
    let refused = cargo_fuzz(&[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a build without -O must fail");
    assert!(
        stderr.contains("must not be built with debug assertions"),
        "{stderr}"
    );

    let built = cargo_fuzz(&["-O"]);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let case = root.join("corpus/opcodes/debug-assert-uma-inc-tagged-offset.json");
    let findings = target_dir.join("findings");
    let run = Command::new(target_dir.join("x86_64-unknown-linux-gnu/release/case"))
        .arg(&case)
        .env("ERADIFF_FINDINGS", &findings)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!findings.exists(), "no finding written");
}
