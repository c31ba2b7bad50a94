//! The `eradiff` command as a user runs it: exit statuses, input errors, closed pipes, many
//! cases at once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn eradiff() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_eradiff"));
    cmd.current_dir(root());
    cmd
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const AGREEING: &str = "corpus/opcodes/debug-assert-uma-inc-tagged-offset.json";

/// Runs `args` with stdout a pipe whose reader is already gone.
// std::io::pipe is newer than the declared rust-version (1.80), as `Option::is_none_or` in
// tests/corpus.rs is: the tests already need a newer toolchain than the crates do.
#[allow(clippy::incompatible_msrv)]
fn with_closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    eradiff()
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn every_printing_command_ends_quietly_when_stdout_goes_away() {
    let findings = scratch("pipe-findings");
    let out = findings.to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec!["run", AGREEING],
        vec!["run", AGREEING, "--backend", "zk_evm"],
        vec!["replay", AGREEING, "--verbose"],
        vec!["replay", "corpus/opcodes"],
        vec!["disasm", AGREEING],
        vec!["generate", "--target", "calls"],
        vec!["coverage", "corpus/opcodes"],
        vec!["fuzz", "--iterations", "5", "--no-progress", "--out", out],
        vec!["report", out],
    ];
    for args in commands {
        let output = with_closed_stdout(&args);
        let stderr = text(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn input_errors_exit_2_naming_the_field() {
    let dir = scratch("input-errors");
    let good = std::fs::read_to_string(root().join(AGREEING)).unwrap();
    let mut batch: serde_json::Value = serde_json::from_str(&good).unwrap();
    batch["batch"] = serde_json::json!({
        "transactions": vec![serde_json::json!({ "to": "0x10000", "gas_limit": 1 }); 10_001]
    });
    let cases = [
        (
            write(&dir, "trailing.json", &format!("{good}\n{{}}")),
            "(top level)",
        ),
        (
            write(&dir, "batch.json", &batch.to_string()),
            "batch.transactions[10000]",
        ),
        (
            write(&dir, "decimal.json", &good.replace("\"0x7\"", "\"1234\"")),
            "registers[1].value",
        ),
    ];
    for (path, field) in &cases {
        let path = path.to_str().unwrap();
        for args in [
            vec!["replay", path],
            vec!["run", path],
            vec!["run", path, "--backend", "zk_evm"],
            vec!["disasm", path],
            vec!["minimize", path],
        ] {
            let output = eradiff().args(&args).output().unwrap();
            let stderr = text(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(
                stderr.contains(&format!("field `{field}`")),
                "{args:?}: {stderr}"
            );
        }
    }
}

#[test]
fn triage_of_a_mistyped_folder_is_an_error() {
    let missing = scratch("triage").join("no-such-folder");
    let output = eradiff()
        .args(["triage", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(!missing.exists(), "triage created the folder");
}

#[test]
fn replay_of_many_cases_prints_a_line_each_and_a_summary() {
    let dir = scratch("many");
    for name in ["a.json", "b.json"] {
        std::fs::copy(root().join(AGREEING), dir.join(name)).unwrap();
    }
    let replay = |extra: &[&str]| {
        let output = eradiff()
            .arg("replay")
            .arg(&dir)
            .args(extra)
            .output()
            .unwrap();
        (output.status.code(), text(&output.stdout))
    };
    let (status, stdout) = replay(&[]);
    assert_eq!(status, Some(0), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.contains(": agree")).count(),
        2,
        "{stdout}"
    );
    assert!(stdout.contains("2 cases: 2 agree, 0 diverge"), "{stdout}");

    // A divergence (the known one in the corpus) makes the status 1; files and folders mix.
    let known = "corpus/calls/known-decommit-twice.json";
    let (status, stdout) = replay(&[known]);
    assert_eq!(status, Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("{known}: DIVERGES crash:zk_evm:")),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 cases: 2 agree, 1 diverge (1 on the known list, 1 in a reference)"),
        "{stdout}"
    );

    // A file that is no case: named with its error, status 2.
    write(&dir, "broken.json", "{");
    let (status, stdout) = replay(&[]);
    assert_eq!(status, Some(2), "{stdout}");
    assert!(stdout.contains("broken.json: input error"), "{stdout}");
    assert!(stdout.contains("1 not valid case files"), "{stdout}");
}
