//! vm2 in the benchmarks: the timed run is the driver's bare run on vm2 with the empty
//! tracer; before it is timed, vm2 must agree with eravm on the workload, by the same
//! comparison every differential run makes.

use crate::backend::{run_vm2_bare, Backend, EraVm, Vm2};
use crate::case::Case;
use crate::differential::{Judge, Verdict};

/// Runs the case once on vm2, unobserved (vm2 counts no cycles: 0). `Err` says why vm2
/// cannot host the case.
pub fn run(case: &Case) -> Result<u64, String> {
    run_vm2_bare(case)
}

/// Whether vm2 runs the case as eravm does; `Err` says why not, or why vm2 cannot host it.
pub fn check(case: &Case) -> Result<(), String> {
    let backends: [&dyn Backend; 2] = [&EraVm, &Vm2];
    match Judge::new(&backends).check(case) {
        Verdict::Agree(_) => Ok(()),
        Verdict::Disagree(finding) => Err(format!("{finding:?}")),
        Verdict::Unsupported(why) => Err(why),
    }
}
