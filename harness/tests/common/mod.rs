#![allow(dead_code)]

use eradiff::backend::{EraVm, ZkEvm};
use eradiff::case::Case;
use eradiff::differential::{check, explain, Verdict};
use eradiff::observe::Run;
use eradiff::report::finding_markdown;

/// Runs `case` on both VMs; panics with the full report if they disagree.
pub fn agree(case: &Case) -> Run {
    match check(case, &EraVm, &ZkEvm) {
        Verdict::Agree(run) => *run,
        Verdict::Disagree(finding) => {
            let explanation = explain(case, &EraVm, &ZkEvm, finding);
            panic!(
                "eravm and zk_evm disagree:\n{}\ncase:\n{}",
                finding_markdown(case, &explanation, None),
                case.to_json()
            );
        }
    }
}
