//! zksync-era's own VM dumps (two real protocol-v26 transactions that ship inside the
//! `zksync_multivm` crate package, with the official bootloaders, DefaultAccount and system
//! contracts) replayed on eravm and zk_evm through the production bootloader: both VMs must
//! agree, and end as the dumps' README says a node ends.
//!
//! The dumps are never committed. `ci/fetch-vm-dumps.sh` obtains them with cargo and CI
//! points `ERADIFF_VM_DUMPS` at them; without it the test looks in cargo's registry, and says
//! loudly when it finds nothing.

use eradiff::backend::{EraVm, ZkEvm};
use eradiff::case::{BatchMode, Case};
use eradiff::differential::{Judge, Verdict};
use eradiff::dump::VmDump;
use eradiff::observe::FinalState;
use eravm::faults::{with_fault, Fault};

/// The case of a dump, or `None` (with a loud note) when the dumps are not here.
fn dump_case(name: &str, mode: BatchMode) -> Option<Case> {
    let Some(dir) = eradiff::dump::vm_dumps_dir() else {
        eprintln!(
            "SKIPPED: no VM dumps (run ci/fetch-vm-dumps.sh and set ERADIFF_VM_DUMPS); \
             the dump {name} was not replayed"
        );
        return None;
    };
    let path = dir.join(format!("{name}.json"));
    let mut case = VmDump::load(&path)
        .and_then(|d| d.to_case())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    case.batch.as_mut().expect("a dump is a batch").mode = mode;
    Some(case)
}

fn agreed(case: &Case) -> FinalState {
    match Judge::new(&[&EraVm, &ZkEvm]).check(case) {
        Verdict::Agree(run) => run.state,
        other => panic!("eravm and zk_evm must agree on the dump: {other:?}"),
    }
}

/// README: "Fee estimation step for a 0 base token transfer to self with a low gas limit"
/// — a node's result is a revert with an empty reason.
fn reverts_with_an_empty_reason(state: &FinalState) -> bool {
    let batch = state.batch.as_ref().expect("a batch view");
    let ended = batch.hooks.last().is_some_and(|h| h.hook == "TxHasEnded");
    ended && batch.results.len() == 1 && !batch.results[0].0 && batch.results[0].1.is_empty()
}

/// README: "Accesses adjacent storage slots in a mapping during account validation" — a
/// node validating it for its mempool finds it valid: validation ends (ValidationStepEnded)
/// without the bootloader rejecting the transaction.
fn passes_validation(state: &FinalState) -> bool {
    let batch = state.batch.as_ref().expect("a batch view");
    let last = batch.hooks.last().map(|h| h.hook.as_str());
    last == Some("ValidationStepEnded") && batch.results.is_empty()
}

#[test]
fn a_fee_estimate_of_a_transfer_to_self_reverts_with_an_empty_reason_on_both_vms() {
    let Some(case) = dump_case("estimate_fee_for_transfer_to_self", BatchMode::OneTx) else {
        return;
    };
    let state = agreed(&case);
    assert!(reverts_with_an_empty_reason(&state), "{:?}", state.batch);
}

#[test]
fn a_transaction_reading_adjacent_slots_passes_validation_on_both_vms() {
    let Some(case) = dump_case("validation_adjacent_storage_slots", BatchMode::Validation) else {
        return;
    };
    let state = agreed(&case);
    assert!(passes_validation(&state), "{:?}", state.batch);
}

/// The transaction encoding is shared by both operators, so no comparison sees a bug in it;
/// the production bootloader and the account's checks do: with the nonce encoded wrong,
/// validation no longer passes.
#[test]
fn a_bug_in_the_transaction_encoding_fails_validation() {
    let Some(case) = dump_case("validation_adjacent_storage_slots", BatchMode::Validation) else {
        return;
    };
    let state = with_fault(Fault::TxEncodingNonceOffByOne, || agreed(&case));
    assert!(!passes_validation(&state), "{:?}", state.batch);
}

/// The operator's refund is answered by each side's operator: a wrong one on eravm's side
/// is a divergence.
#[test]
fn a_bug_in_the_operators_refund_is_a_divergence() {
    let Some(case) = dump_case("estimate_fee_for_transfer_to_self", BatchMode::OneTx) else {
        return;
    };
    let verdict = with_fault(Fault::RefundOffByOne, || {
        Judge::new(&[&EraVm, &ZkEvm]).check(&case)
    });
    assert!(matches!(verdict, Verdict::Disagree(_)), "{verdict:?}");
}
