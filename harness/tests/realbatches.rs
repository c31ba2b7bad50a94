//! Generated real batches (the production `proved_batch` bootloader, a bundle's system
//! contracts at genesis, signed transactions over several L2 blocks, the closing block) on
//! eravm and zk_evm: both VMs agree, the batch seals (the real L1 messenger accepts the
//! pubdata), rejected transactions are rolled back, and an injected bug in eravm's closing
//! block is caught.
//!
//! The bundle is never committed: set `ERADIFF_CONTRACTS` (and `ERADIFF_PROTOCOL`, default
//! v26) to a folder holding it (docs/contracts.md); without it the test says loudly that it
//! was skipped.

use eradiff::backend::{EraVm, ZkEvm};
use eradiff::case::Case;
use eradiff::differential::{Judge, Verdict};
use eradiff::generator::realbatches;
use eradiff::generator::{generate_seeded_for, Settings, Target};
use eradiff::observe::{CallEvent, FinalState};
use eravm::faults::{with_fault, Fault};

fn settings() -> Option<Settings> {
    let settings = eradiff::generator::realbatches::settings_from_env()
        .expect("the bundle ERADIFF_CONTRACTS names holds a batch's contracts");
    if settings.is_none() {
        eprintln!(
            "SKIPPED: ERADIFF_CONTRACTS is not set; no real batch was run \
             (see docs/contracts.md for a bundle)"
        );
    }
    settings
}

fn agreed(case: &Case) -> FinalState {
    match Judge::new(&[&EraVm, &ZkEvm]).check(case) {
        Verdict::Agree(run) => run.state,
        other => panic!("eravm and zk_evm must agree on a real batch: {other:?}"),
    }
}

/// vm2 hosts real batches through its own operator adapter and agrees with the others; a
/// bug in that adapter (vm2's refund one gas too high) makes vm2 the odd one out.
#[test]
fn vm2_runs_real_batches_and_a_bug_in_its_operator_is_vm2s_finding() {
    use eradiff::backend::projection_fault;
    use eradiff::differential::Finding;
    let Some(settings) = settings() else { return };
    let judge = Judge::default();
    let case = generate_seeded_for(Target::Realbatches, 1, 0, &settings);
    let eradiff::differential::Checked {
        verdict, declined, ..
    } = judge.check_counted(&case);
    assert!(declined.is_empty(), "vm2 hosts the batch: {declined:?}");
    assert!(matches!(verdict, Verdict::Agree(_)), "{verdict:?}");
    let found = projection_fault::with("vm2", || match judge.check(&case) {
        Verdict::Disagree(finding) => judge.explain(&case, finding),
        other => panic!("the injected vm2 operator bug must show: {other:?}"),
    });
    let Finding::Divergence { odd, .. } = &found.finding else {
        panic!("{:?}", found.finding)
    };
    assert_eq!(odd.as_deref(), Some("vm2"), "{}", found.signature);
}

fn sealed(state: &FinalState) -> bool {
    state.end == eradiff::observe::RunEnd::Ok
        && state.batch.as_ref().is_some_and(|b| b.pubdata.is_some())
}

#[test]
fn generated_real_batches_seal_and_agree() {
    let Some(settings) = settings() else { return };
    let mut rejected = 0;
    for iteration in 0..4 {
        let case = generate_seeded_for(Target::Realbatches, 1, iteration, &settings);
        let state = agreed(&case);
        assert!(
            sealed(&state),
            "iteration {iteration} did not seal: {:?}",
            state.end
        );
        rejected += state.batch.as_ref().map_or(0, |b| b.rejected.len());
    }
    assert!(
        rejected > 0,
        "some transaction was rejected and rolled back"
    );
}

/// Deploys through the ContractDeployer land where the generator expects them (their code
/// hash in the account code storage), and calls into them run the deployed code.
#[test]
fn deploys_land_at_their_create_addresses_and_are_called() {
    let Some(settings) = settings() else { return };
    let deployer = eravm::H160::from_low_u64_be(eradiff::genesis::CONTRACT_DEPLOYER);
    let code_hash = eradiff::world::bytecode_hash(&realbatches::deployable(), false);
    let (mut deployed, mut called) = (0, 0);
    for iteration in 0..6 {
        let case = generate_seeded_for(Target::Realbatches, 1, iteration, &settings);
        let state = agreed(&case);
        let mut nonces = std::collections::HashMap::new();
        let txs = case
            .batch
            .iter()
            .flat_map(|b| &b.blocks)
            .flat_map(|b| &b.transactions);
        for tx in txs.filter(|tx| tx.to.0 == deployer && !tx.rollback) {
            let nonce = nonces.entry(tx.from.0).or_insert(0);
            let address = realbatches::created_address(tx.from.0, *nonce);
            *nonce += 1;
            let stored = state.world.storage.iter().find(|s| {
                s.address == eravm::H160::from_low_u64_be(eradiff::world::ACCOUNT_CODE_STORAGE)
                    && s.key == eravm::U256::from_big_endian(address.as_bytes())
            });
            assert_eq!(
                stored.map(|s| s.value),
                Some(code_hash),
                "iteration {iteration}: the contract deployed at {address:#x}"
            );
            deployed += 1;
            called += state.world.calls.iter().any(|c| {
                // The constructor runs through a mimic call from the deployer.
                matches!(c, CallEvent::Call { this, kind, .. }
                    if *this == address && !kind.contains("mimic"))
            }) as u32;
        }
    }
    assert!(deployed > 0, "some deploy was kept");
    assert!(called > 0, "some deployed contract was called");
}

/// The closing block is operator code on both sides; eravm's written one second late
/// publishes another L2 block timestamp, which the comparison sees.
#[test]
fn a_late_closing_block_on_eravm_is_caught() {
    let Some(settings) = settings() else { return };
    let case = generate_seeded_for(Target::Realbatches, 1, 0, &settings);
    let verdict = with_fault(Fault::FictiveBlockTimestampOffByOne, || {
        Judge::new(&[&EraVm, &ZkEvm]).check(&case)
    });
    assert!(
        !matches!(verdict, Verdict::Agree(_)),
        "the injected closing-block bug must make the VMs disagree"
    );
}

/// The real-batch workload of `eradiff bench` is checked as every workload is: both VMs
/// agree on it and run it for the same number of cycles, and it runs the whole batch.
#[test]
fn the_real_batch_bench_workload_runs_the_same_on_both_vms() {
    let Some(settings) = settings() else { return };
    let workload = eradiff::bench::real_batch(&settings);
    let cycles = eradiff::bench::check_workload(&workload).expect("a checked workload");
    assert!(
        cycles > 1_000_000,
        "a real batch runs the block tip: {cycles}"
    );
    assert!(
        sealed(&agreed(&workload.case)),
        "the workload's batch seals"
    );
}

/// The campaign's check of what each transaction was meant to do sees a transaction that
/// did otherwise: here a kept transaction whose expectation is turned around.
#[test]
fn a_transaction_that_does_not_do_what_was_meant_is_a_generator_defect() {
    use eradiff::case::{Expected, Outcome};
    let Some(settings) = settings() else { return };
    let mut case = generate_seeded_for(Target::Realbatches, 1, 0, &settings);
    let state = agreed(&case);
    let count = |case: &Case| {
        let mut stats = eradiff::observe::BatchStats::default();
        stats.count(state.batch.as_ref().unwrap(), case.batch.as_ref());
        stats.unexpected
    };
    assert!(
        count(&case).is_empty(),
        "the generated batch does what it means"
    );
    let tx = case.batch.as_mut().unwrap().blocks[0]
        .transactions
        .iter_mut()
        .find(|tx| !tx.rollback && tx.expected.is_some())
        .expect("a kept transaction");
    let meant = tx.expected.unwrap();
    tx.expected = Some(match meant.outcome() {
        Outcome::Success => Expected::Revert,
        _ => Expected::Success,
    });
    let unexpected = count(&case);
    assert_eq!(unexpected.values().sum::<u64>(), 1, "{unexpected:?}");
}
