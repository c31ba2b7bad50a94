//! Replays every case under `corpus/`: seeds and regressions must run the same on both VMs
//! (or be on the known-divergence list).

use std::path::Path;

use eradiff::backend::{EraVm, ZkEvm};
use eradiff::case::Case;
use eradiff::differential::{check, explain, Verdict};
use eradiff::known::KnownDivergences;
use eradiff::report::finding_markdown;

#[test]
fn every_corpus_case_agrees() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let known = KnownDivergences::shipped();
    let mut replayed = 0;
    let mut failures = Vec::new();
    for target in std::fs::read_dir(&root).expect("corpus/ exists") {
        let target = target.unwrap().path();
        if !target.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&target).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let case = Case::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            replayed += 1;
            if let Verdict::Disagree(finding) = check(&case, &EraVm, &ZkEvm) {
                let explanation = explain(&case, &EraVm, &ZkEvm, finding);
                if known.reason(&explanation.signature).is_none() {
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
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}
