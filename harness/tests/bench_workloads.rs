//! The benchmark workloads are valid: each runs to its end the same way on eravm and zk_evm
//! (and on vm2 where the feature builds it). Small sizes, so that this stays quick; nothing
//! is timed here.

use eradiff::bench::{check_workload, run_on, scaling, workload, workloads, BenchVm, Workload};

#[test]
fn every_workload_agrees_and_ends() {
    for w in workloads(0.02) {
        let cycles = check_workload(&w).unwrap_or_else(|e| panic!("{e}"));
        assert!(cycles > 10, "{}: only {cycles} cycles", w.name);
    }
}

#[test]
fn every_scaling_dimension_agrees_at_its_smallest_size() {
    for d in scaling::dimensions() {
        let w = Workload {
            id: "scaling",
            name: d.name,
            case: (d.build)(d.sizes[0]),
        };
        let cycles = check_workload(&w).unwrap_or_else(|e| panic!("{e}"));
        assert!(cycles >= d.sizes[0], "{}: only {cycles} cycles", d.name);
    }
}

#[test]
fn one_run_counts_the_same_cycles_on_both_vms() {
    for id in ["empty", "arith", "batch"] {
        let w = workload(id, 0.01).unwrap();
        let eravm = run_on(BenchVm::Eravm, &w.case).unwrap();
        assert_eq!(run_on(BenchVm::ZkEvm, &w.case).unwrap(), eravm, "{id}");
    }
    assert!(workload("no such workload", 1.0).is_none());
}

#[test]
fn vm2_runs_every_workload_it_hosts_as_eravm_does() {
    use eradiff::bench::vm2;
    for w in workloads(0.02) {
        match vm2::check(&w.case) {
            Ok(()) => {}
            // vm2 hosts batches of the production bootloader only.
            Err(why) if w.case.batch.is_some() => {
                assert!(why.contains("small bootloader"), "{why}")
            }
            Err(why) => panic!("{}: {why}", w.name),
        }
    }
}

#[test]
fn the_vm2_check_compares_something_that_moves() {
    use eradiff::bench::vm2;
    // Too few ergs: every VM panics alike, and the check still passes.
    let mut w = workload("arith", 0.01).unwrap();
    w.case.ergs = 5_000;
    assert_eq!(vm2::check(&w.case), Ok(()));
    // A vm2 that computes one register wrong does not pass.
    let w = workload("arith", 0.01).unwrap();
    let broken = eradiff::backend::projection_fault::with("vm2", || vm2::check(&w.case));
    assert!(broken.unwrap_err().contains("vm2"));
    // What vm2 cannot host is refused, not faked.
    let mut w = workload("arith", 0.01).unwrap();
    w.case.frame.is_static = true;
    assert!(vm2::check(&w.case).unwrap_err().contains("static"));
}
