//! Replays every case under `corpus/`: seeds and regressions must give no finding against
//! eravm (or one on the known-divergence list). Findings in a reference (zk_evm or vm2 the
//! odd one out) are counted and printed, not failures: `trophies.rs` pins those it keeps.

use std::path::Path;

use eradiff::case::Case;
use eradiff::differential::{reference_at_fault, Judge, Verdict};
use eradiff::known::KnownDivergences;
use eradiff::report::finding_markdown;

#[test]
fn every_corpus_case_agrees() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let known = KnownDivergences::shipped();
    let mut replayed = 0;
    let mut failures = Vec::new();
    let mut in_references = Vec::new();
    for target in std::fs::read_dir(&root).expect("corpus/ exists") {
        let target = target.unwrap().path();
        if !target.is_dir() || target.ends_with("trophies") {
            continue;
        }
        for entry in std::fs::read_dir(&target).unwrap() {
            let path = entry.unwrap().path();
            if !eradiff::case::is_case_file(&path) {
                continue;
            }
            let case = Case::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            replayed += 1;
            if let Verdict::Disagree(finding) = Judge::default().check(&case) {
                let explanation = Judge::default().explain(&case, finding);
                if reference_at_fault(&explanation.signature).is_some() {
                    in_references.push(format!("{}: {}", path.display(), explanation.signature));
                } else if known.reason(&explanation.signature).is_none() {
                    failures.push(finding_markdown(
                        &case,
                        &explanation,
                        Some(&path.display().to_string()),
                    ));
                }
            }
        }
    }
    assert!(replayed > 0, "the corpus holds cases");
    println!(
        "{} of {replayed} corpus cases give a finding in a reference:\n  {}",
        in_references.len(),
        in_references.join("\n  ")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}
