//! Entry points for coverage-guided fuzzers (`cargo fuzz`): bytes in, a case out through the
//! same generator as `eradiff fuzz`, every backend, and a finding written to disk before it
//! is reported. The fuzzer stops on a finding against eravm; one in a reference is kept on
//! disk and the fuzzer goes on.

use std::path::PathBuf;

use arbitrary::Unstructured;
use sha2::{Digest, Sha256};

use crate::case::Case;
use crate::differential::{Judge, Verdict};
use crate::generator::{Settings, Target};
use crate::known::KnownDivergences;
use crate::report::finding_markdown;

/// Where findings of fuzz targets go: `$ERADIFF_FINDINGS`, or `findings/cargo-fuzz`.
pub fn findings_dir() -> PathBuf {
    std::env::var_os("ERADIFF_FINDINGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("findings/cargo-fuzz"))
}

/// The `opcodes` target. Returns the report of a finding (already written to disk as a case
/// file) as the error.
pub fn opcodes(data: &[u8]) -> Result<(), String> {
    run(Target::Opcodes, data)
}

/// The `calls` target.
pub fn calls(data: &[u8]) -> Result<(), String> {
    run(Target::Calls, data)
}

/// The `instructions` target: a few instructions from a start state built directly.
pub fn instructions(data: &[u8]) -> Result<(), String> {
    run(Target::Instructions, data)
}

/// The `batches` target.
pub fn batches(data: &[u8]) -> Result<(), String> {
    run(Target::Batches, data)
}

/// The `realbatches` target: real batches on the bundle `ERADIFF_CONTRACTS` names (protocol
/// `ERADIFF_PROTOCOL`, default v26). Without a usable bundle it says so once and does nothing.
pub fn realbatches(data: &[u8]) -> Result<(), String> {
    static SETTINGS: std::sync::OnceLock<Option<Settings>> = std::sync::OnceLock::new();
    let settings = SETTINGS.get_or_init(|| {
        crate::generator::realbatches::settings_from_env().unwrap_or_else(|e| {
            eprintln!("realbatches: no usable bundle in ERADIFF_CONTRACTS ({e}); nothing runs");
            None
        })
    });
    let Some(settings) = settings else {
        return Ok(());
    };
    let mut u = Unstructured::new(data);
    match Target::Realbatches.generate(&mut u, settings) {
        Ok(case) => run_case(&case),
        Err(_) => Ok(()),
    }
}

/// The `case` target: the bytes are a case file (inputs that do not parse are skipped), so
/// that a case can be replayed through the cargo-fuzz build of both VMs.
pub fn case(data: &[u8]) -> Result<(), String> {
    let Ok(case) = std::str::from_utf8(data)
        .map_err(|_| ())
        .and_then(|text| Case::from_json(text).map_err(|_| ()))
    else {
        return Ok(());
    };
    run_case(&case)
}

/// Any target: bytes to a case, both VMs, and on a finding the case on disk first.
pub fn run(target: Target, data: &[u8]) -> Result<(), String> {
    let mut u = Unstructured::new(data);
    let Ok(case) = target.generate(&mut u, &Settings::default()) else {
        return Ok(());
    };
    run_case(&case)
}

fn run_case(case: &Case) -> Result<(), String> {
    // A generated case beyond the protocol's limits is an input error, not a finding: the
    // fuzzer moves on (an `eradiff fuzz` campaign counts these as generator defects).
    if case.validate().is_err() {
        return Ok(());
    }
    // Backend panics are caught and become findings, and print nothing; anything else
    // keeps libFuzzer's own handling.
    let judge = Judge::default();
    let Verdict::Disagree(finding) = judge.check(case) else {
        return Ok(());
    };
    let json = case.to_json();
    let dir = findings_dir();
    let path = dir.join(format!(
        "{}.json",
        hex::encode(&Sha256::digest(json.as_bytes())[..8])
    ));
    let written =
        std::fs::create_dir_all(&dir).and_then(|_| crate::findings::write_atomic(&path, &json));
    let explanation = judge.explain(case, finding);
    if KnownDivergences::shipped()
        .reason(&explanation.signature)
        .is_some()
    {
        return Ok(());
    }
    // A finding in a reference (zk_evm or vm2 the odd one out) stays on disk for `eradiff
    // triage`, a few of each signature; the fuzzer stops only on findings against eravm.
    if crate::differential::reference_at_fault(&explanation.signature).is_some() {
        if !keep_reference_finding(&explanation.signature) {
            let _ = std::fs::remove_file(&path);
        }
        return Ok(());
    }
    let mut report = finding_markdown(case, &explanation, Some(&path.display().to_string()));
    if let Err(e) = written {
        report.push_str(&format!(
            "\n(could not write {}: {e}; the case follows)\n{json}\n",
            path.display()
        ));
    }
    Err(report)
}

/// How many cases of one reference finding's signature a fuzzing process keeps:
/// `ERADIFF_KEEP_PER_REFERENCE_SIGNATURE`, or 20. vm2's known disagreements (see
/// `corpus/trophies/`) are reached thousands of times a minute; the first few of each are
/// what triage needs.
pub fn kept_per_reference_signature() -> usize {
    std::env::var("ERADIFF_KEEP_PER_REFERENCE_SIGNATURE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

/// Counts a reference finding's signature; whether its case is among the first kept.
fn keep_reference_finding(signature: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};
    static SEEN: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Default::default);
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let count = seen.entry(signature.to_string()).or_default();
    *count += 1;
    *count <= kept_per_reference_signature()
}
