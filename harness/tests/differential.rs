//! The differential suite: generated programs must run the same on eravm and zk_evm.

mod common;

use arbitrary::Unstructured;
use eradiff::differential::{reference_at_fault, Judge, Verdict};
use eradiff::generator::{generate, generate_seeded, generate_seeded_for, Settings, Target};
use eradiff::known::KnownDivergences;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn generated_programs_agree(bytes in prop::collection::vec(any::<u8>(), 64..4096)) {
        let mut u = Unstructured::new(&bytes);
        let case = generate(&mut u, &Settings::default()).expect("generation never fails");
        common::agree(&case);
    }
}

#[test]
fn a_seeded_campaign_agrees() {
    for iteration in 0..2_000 {
        common::agree(&generate_seeded(7, iteration, &Settings::default()));
    }
}

/// Runs `count` seeded cases of `target`; every disagreement must be on the known list.
/// Returns the runs that agreed.
fn seeded_campaign_agrees(target: Target, count: u64) -> Vec<eradiff::observe::Run> {
    let known = KnownDivergences::shipped();
    let mut agreed = Vec::new();
    for iteration in 0..count {
        let case = generate_seeded_for(target, 7, iteration, &Settings::default());
        match Judge::default().check(&case) {
            Verdict::Agree(run) => agreed.push(*run),
            Verdict::Unsupported(why) => panic!("nothing to compare: {why}"),
            Verdict::Disagree(finding) => {
                let explanation = Judge::default().explain(&case, finding);
                if reference_at_fault(&explanation.signature).is_some() {
                    // eravm and zk_evm agree; the finding is in vm2.
                    agreed.push(common::agree(&case));
                    continue;
                }
                assert!(
                    known.reason(&explanation.signature).is_some(),
                    "{target:?} iteration {iteration}: {}\n{}",
                    explanation.signature,
                    case.to_json()
                );
            }
        }
    }
    agreed
}

/// Worlds of contracts calling each other. A finding on the known-divergence list is allowed
/// (it is a reference limitation); anything else fails.
#[test]
fn a_seeded_calls_campaign_agrees() {
    let agreed = seeded_campaign_agrees(Target::Calls, 400).len();
    assert!(
        agreed > 350,
        "only {agreed} of 400 cases ran to a comparison"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    #[test]
    fn generated_worlds_agree(bytes in prop::collection::vec(any::<u8>(), 256..8192)) {
        let mut u = Unstructured::new(&bytes);
        let case = eradiff::generator::calls::generate(&mut u, &Settings::default()).expect("generation never fails");
        let known = KnownDivergences::shipped();
        if let Verdict::Disagree(finding) = Judge::default().check(&case) {
            let e = Judge::default().explain(&case, finding);
            prop_assert!(known.reason(&e.signature).is_some() || reference_at_fault(&e.signature).is_some(), "{}\n{}", e.signature, case.to_json());
        }
    }
}

/// Precompile calls on valid and broken inputs; known reference crashes are allowed.
#[test]
fn a_seeded_precompiles_campaign_agrees() {
    seeded_campaign_agrees(Target::Precompiles, 300);
}

/// Our bootloader, driven by both operators through batches over generated worlds.
#[test]
fn a_seeded_batches_campaign_agrees() {
    let results: usize = seeded_campaign_agrees(Target::Batches, 150)
        .iter()
        .map(|run| run.state.batch.as_ref().map_or(0, |b| b.results.len()))
        .sum();
    assert!(
        results > 300,
        "only {results} transactions reported a result"
    );
}

/// The reference's history folds in only the registers each instruction names as
/// destinations (all of them for calls and returns). Folding every register on every cycle
/// must give the same digest: zk_evm writes no other register.
#[test]
fn the_reference_history_misses_no_register_write() {
    use eradiff::backend::{history_of_every_register, Backend, ZkEvm};
    let targets = [
        (Target::Opcodes, 600),
        (Target::Calls, 300),
        (Target::Precompiles, 200),
        (Target::Batches, 12),
    ];
    let mut changed = 0;
    for (target, count) in targets {
        for iteration in 0..count {
            let case = generate_seeded_for(target, 11, iteration, &Settings::default());
            let Ok(run) = ZkEvm.run(&case, false) else {
                continue;
            };
            let every = history_of_every_register(&case).expect("the same case runs again");
            assert_eq!(
                run.state.history, every,
                "{target:?} case {iteration}: a register changed that the mask did not name"
            );
            changed += (run.state.cycles > 0) as usize;
        }
    }
    assert!(changed > 1000, "too few cases ran: {changed}");
}
