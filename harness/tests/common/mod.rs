#![allow(dead_code)]

use eradiff::backend::{Backend, EraVm, ZkEvm};
use eradiff::case::Case;
use eradiff::differential::{reference_at_fault, Judge, Verdict};
use eradiff::observe::Run;
use eradiff::report::finding_markdown;

/// Runs `case` on every VM; panics with the full report on a finding against eravm. A
/// finding in a reference (vm2 or zk_evm the odd one out) is printed, and eravm's run, which
/// zk_evm's agrees with, is returned.
pub fn agree(case: &Case) -> Run {
    let judge = Judge::default();
    match judge.check(case) {
        Verdict::Agree(run) => *run,
        Verdict::Unsupported(why) => panic!("nothing to compare: {why}"),
        Verdict::Disagree(finding) => {
            let explanation = judge.explain(case, finding);
            if let Some(reference) = reference_at_fault(&explanation.signature) {
                println!("(a finding in {reference}: {})", explanation.signature);
                let pair: [&dyn Backend; 2] = [&EraVm, &ZkEvm];
                if let Verdict::Agree(run) = Judge::new(&pair).check(case) {
                    return *run;
                }
            }
            panic!(
                "the VMs disagree:\n{}\ncase:\n{}",
                finding_markdown(case, &explanation, None),
                case.to_json()
            );
        }
    }
}
