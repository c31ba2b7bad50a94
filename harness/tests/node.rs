//! The node as an oracle (docs/node-oracle.md): zksync-era's own operators, vm_latest
//! (node-vm1) and vm_fast (node-fast), run real batches beside eravm, zk_evm and vm2, and
//! see what no comparison among our VMs can: a bug in the protocol code our operators share.
//!
//! Needs the node binary (`cargo build --release --manifest-path node/Cargo.toml`, or
//! `ERADIFF_NODE`); the dump tests need zksync-era's two VM dumps (`ERADIFF_VM_DUMPS`, see
//! `ci/fetch-vm-dumps.sh`), the generated batches a bundle (`ERADIFF_CONTRACTS`). Each test
//! says SKIPPED when what it needs is not here.

use eradiff::backend::node::{NODE_FAST, NODE_VM1};
use eradiff::backend::{projection_fault, Backend, EraVm, Vm2, ZkEvm};
use eradiff::case::{BatchMode, Case};
use eradiff::differential::{Finding, Judge, Verdict, OUR_OPERATORS};
use eradiff::dump::VmDump;
use eradiff::generator::{generate_seeded_for, Target};
use eravm::faults::{with_fault, Fault};

const WITH_THE_NODE: [&dyn Backend; 5] = [&EraVm, &ZkEvm, &Vm2, &NODE_VM1, &NODE_FAST];

fn node_built() -> bool {
    match eradiff::backend::node::binary() {
        Ok(_) => true,
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            false
        }
    }
}

fn dump_case(name: &str) -> Option<Case> {
    if !node_built() {
        return None;
    }
    let Some(dir) = eradiff::dump::vm_dumps_dir() else {
        eprintln!("SKIPPED: no VM dumps (ci/fetch-vm-dumps.sh, ERADIFF_VM_DUMPS); {name} not run");
        return None;
    };
    let path = dir.join(format!("{name}.json"));
    let mut case = VmDump::load(&path)
        .and_then(|d| d.to_case())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    case.batch.as_mut().expect("a dump is a batch").mode = BatchMode::OneTx;
    Some(case)
}

/// The realbatches generator's settings, when the node binary is built and a bundle named.
fn node_and_bundle() -> Option<eradiff::generator::Settings> {
    if !node_built() {
        return None;
    }
    let settings = eradiff::generator::realbatches::settings_from_env()
        .expect("the bundle ERADIFF_CONTRACTS names holds a batch's contracts");
    if settings.is_none() {
        eprintln!("SKIPPED: ERADIFF_CONTRACTS is not set; no real batch went to the node");
    }
    settings
}

/// A generated real batch the node can seal: the benchmark's, which keeps no legacy
/// transaction signed without a chain id (the node's known finding,
/// `corpus/trophies/node/`).
fn real_batch() -> Option<Case> {
    node_and_bundle().map(|settings| eradiff::bench::real_batch(&settings).case)
}

/// The trophy of `corpus/trophies/node/`: seed 1, iteration 23.
fn trophy() -> Option<Case> {
    node_and_bundle().map(|s| generate_seeded_for(Target::Realbatches, 1, 23, &s))
}

fn all_agree(judge: Judge<'_>, case: &Case) {
    match judge.check(case) {
        Verdict::Agree(_) => {}
        other => panic!("{} must agree: {other:?}", judge.names()),
    }
}

fn groups_of(verdict: Verdict) -> (Vec<Vec<String>>, Option<String>, String) {
    match verdict {
        Verdict::Disagree(Finding::Divergence {
            groups, odd, diff, ..
        }) => (groups, odd, diff.field),
        other => panic!("expected a divergence: {other:?}"),
    }
}

#[test]
fn the_crates_io_dumps_agree_on_eravm_zk_evm_and_both_node_operators() {
    for name in [
        "estimate_fee_for_transfer_to_self",
        "validation_adjacent_storage_slots",
    ] {
        let Some(case) = dump_case(name) else { return };
        all_agree(Judge::new(&[&EraVm, &ZkEvm, &NODE_VM1, &NODE_FAST]), &case);
    }
}

/// The refund rule is protocol code all our operators share: eravm and zk_evm agree on a
/// wrong refund, and only the node's operators, agreeing with each other, see it.
#[test]
fn a_bug_in_the_refund_rule_our_operators_share_is_caught_by_the_node() {
    let Some(case) = dump_case("estimate_fee_for_transfer_to_self") else {
        return;
    };
    let judge = Judge::new(&[&EraVm, &ZkEvm, &NODE_VM1, &NODE_FAST]);
    let (groups, odd, _) = groups_of(with_fault(Fault::SharedRefundOffByOne, || {
        judge.check(&case)
    }));
    assert_eq!(odd.as_deref(), Some(OUR_OPERATORS), "{groups:?}");
    assert!(groups.contains(&vec!["node-vm1".to_string(), "node-fast".to_string()]));
}

#[test]
fn a_generated_real_batch_agrees_on_all_five() {
    let Some(case) = real_batch() else { return };
    all_agree(Judge::new(&WITH_THE_NODE), &case);
}

/// The pubdata encoding is shared too, and the real L1 messenger does not check the state
/// diffs when no DA validator is named: a dropped diff seals on every VM of ours, and only
/// the node's pubdata differs.
#[test]
fn a_bug_in_the_pubdata_our_operators_share_is_caught_by_the_node() {
    let Some(case) = real_batch() else { return };
    let judge = Judge::new(&WITH_THE_NODE);
    let (groups, _, field) = groups_of(with_fault(Fault::SharedPubdataDropsLastDiff, || {
        judge.check(&case)
    }));
    assert_eq!(field, "batch.pubdata", "{groups:?}");
    assert!(groups.contains(&vec!["node-vm1".to_string(), "node-fast".to_string()]));
}

/// A disagreement of vm_fast alone (injected into its projection) names node-fast, and
/// is a finding in the node, not against eravm.
#[test]
fn a_disagreement_of_vm_fast_alone_is_the_nodes_finding() {
    let Some(case) = real_batch() else { return };
    let judge = Judge::new(&WITH_THE_NODE);
    let Verdict::Disagree(finding) = projection_fault::with("node-fast", || judge.check(&case))
    else {
        panic!("a wrong refund on node-fast is a disagreement");
    };
    let signature = eradiff::differential::signature(&finding, None);
    assert_eq!(signature, "node-fast:batch.results@end");
    assert_eq!(
        eradiff::differential::reference_at_fault(&signature),
        Some("node-fast")
    );
}

/// The trophy in `corpus/trophies/node/`: a legacy transaction signed without a chain id
/// makes both node operators panic when the closing block starts, while eravm and zk_evm
/// seal the batch. (A fix in zksync-era shows up here as a failing test to update.)
#[test]
fn the_pre_eip155_legacy_trophy_still_crashes_both_node_operators() {
    let Some(case) = trophy() else { return };
    let known = eradiff::known::KnownDivergences::shipped();
    for node in [&NODE_VM1 as &dyn Backend, &NODE_FAST] {
        let verdict = Judge::new(&[&EraVm, &ZkEvm, node]).check(&case);
        let Verdict::Disagree(finding @ Finding::Crash { .. }) = verdict else {
            panic!("{} must crash on the trophy: {verdict:?}", node.name());
        };
        let signature = eradiff::differential::signature(&finding, None);
        assert!(
            known.reason(&signature).is_some(),
            "{signature} is on the known list"
        );
    }
    all_agree(Judge::new(&[&EraVm, &ZkEvm]), &case);
}

/// A crash of a reference does not hide a finding against eravm: on the trophy, where the
/// node crashes, a bug injected into eravm's operator alone is still the verdict.
#[test]
fn a_crashing_node_does_not_hide_a_finding_against_eravm() {
    let Some(case) = trophy() else { return };
    let judge = Judge::new(&[&EraVm, &ZkEvm, &Vm2, &NODE_VM1]);
    let verdict = with_fault(Fault::FictiveBlockTimestampOffByOne, || judge.check(&case));
    let Verdict::Disagree(finding @ Finding::Divergence { .. }) = verdict else {
        panic!("eravm's late closing block must be the finding: {verdict:?}");
    };
    let signature = eradiff::differential::signature(&finding, None);
    assert_eq!(
        eradiff::differential::reference_at_fault(&signature),
        None,
        "{signature}"
    );
}

/// Naming a node backend without the node binary is an input error (exit 2) that says how
/// to build it, before any case runs.
#[test]
fn a_node_backend_without_the_binary_is_an_input_error_naming_the_build() {
    let case = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/zasm");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eradiff"))
        .args(["--node", "replay"])
        .arg(&case)
        .env("ERADIFF_NODE", "/nonexistent/eradiff-node")
        .output()
        .expect("eradiff runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--manifest-path"), "{stderr}");
}

/// A node that never answers is given up on after `ERADIFF_NODE_TIMEOUT` seconds: the case
/// is a crash finding of that node, not a campaign that hangs.
#[test]
fn a_node_that_hangs_is_a_crash_finding() {
    let Some(dumps) = eradiff::dump::vm_dumps_dir() else {
        eprintln!("SKIPPED: no VM dumps (ci/fetch-vm-dumps.sh, ERADIFF_VM_DUMPS)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("eradiff-hung-node-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("eradiff-node");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 600\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eradiff"))
        .args(["--backends", "eravm,node-vm1", "replay-dump"])
        .arg(dumps.join("estimate_fee_for_transfer_to_self.json"))
        .env("ERADIFF_NODE", &script)
        .env("ERADIFF_NODE_TIMEOUT", "1")
        .output()
        .expect("eradiff runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stdout.contains("crash:node-vm1:the node did not answer"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
