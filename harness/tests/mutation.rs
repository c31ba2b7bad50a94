//! The differential suite must catch a wrong VM: with a deliberate bug switched on in eravm,
//! the same generated programs that agree must now disagree.

use eradiff::differential::{reference_at_fault, Explanation, Finding, Judge, Verdict};
use eradiff::generator::{generate_seeded, generate_seeded_for, Settings, Target};
use eravm::faults::{with_fault, Fault};

/// Runs seeded cases with `fault` on until one disagrees; returns its signature.
fn first_signature_with(fault: Fault) -> Option<String> {
    with_fault(fault, || {
        (0..2_000).find_map(|i| {
            let case = generate_seeded(11, i, &Settings::default());
            match Judge::default().check(&case) {
                Verdict::Agree(_) | Verdict::Unsupported(_) => None,
                Verdict::Disagree(finding) => {
                    assert!(matches!(finding, Finding::Divergence { .. }));
                    let signature = Judge::default().explain(&case, finding).signature;
                    // A difference of vm2's own is not the injected bug.
                    reference_at_fault(&signature)
                        .is_none()
                        .then_some(signature)
                }
            }
        })
    })
}

#[test]
fn an_arithmetic_bug_is_caught_at_the_add() {
    let signature = first_signature_with(Fault::AddOffByOne).expect("the suite catches the bug");
    assert!(
        signature.ends_with("@add") || signature.ends_with("@add!"),
        "{signature}"
    );
}

#[test]
fn an_ergs_bug_is_caught_at_a_heap_access() {
    let signature = first_signature_with(Fault::FreeHeapGrowth).expect("the suite catches the bug");
    assert!(
        ["@ld.1", "@st.1", "@ld.2", "@st.2"]
            .iter()
            .any(|s| signature.contains(s)),
        "{signature}"
    );
}

#[test]
fn without_a_fault_the_same_cases_agree() {
    for i in 0..300 {
        let case = generate_seeded(11, i, &Settings::default());
        // Nothing against eravm: eravm and zk_evm agree (vm2 may have its own differences).
        if let Verdict::Disagree(finding) = Judge::default().check(&case) {
            let signature = Judge::default().explain(&case, finding).signature;
            assert!(
                reference_at_fault(&signature).is_some(),
                "case {i}: {signature}"
            );
        }
    }
}

/// The same, on worlds of contracts (or batches over them).
fn first_signature_on(target: Target, fault: Fault) -> Option<String> {
    first_explanation_on(target, fault).map(|e| e.signature)
}

fn first_explanation_on(target: Target, fault: Fault) -> Option<Explanation> {
    with_fault(fault, || {
        (0..500).find_map(|i| {
            let case = generate_seeded_for(target, 11, i, &Settings::default());
            match Judge::default().check(&case) {
                Verdict::Disagree(finding @ Finding::Divergence { .. }) => {
                    let e = Judge::default().explain(&case, finding);
                    // A difference of vm2's own is not the injected bug.
                    reference_at_fault(&e.signature).is_none().then_some(e)
                }
                _ => None,
            }
        })
    })
}

#[test]
fn events_that_survive_a_revert_are_caught() {
    let signature = first_signature_on(Target::Calls, Fault::EventsSurviveRevert)
        .expect("the suite catches the bug");
    assert!(signature.starts_with("diverges@ret."), "{signature}");
}

#[test]
fn writes_that_cost_no_pubdata_are_caught() {
    let signature = first_signature_on(Target::Calls, Fault::WritesCostNoPubdata)
        .expect("the suite catches the bug");
    assert_eq!(signature, "diverges@log.swrite");
}

#[test]
fn a_precompile_ergs_bug_is_caught() {
    let signature = first_signature_on(Target::Precompiles, Fault::FreePrecompiles)
        .expect("the suite catches the bug");
    assert_eq!(signature, "diverges@log.precompile");
}

#[test]
fn an_operator_refund_bug_is_caught() {
    let signature = first_signature_on(Target::Batches, Fault::RefundOffByOne)
        .expect("the suite catches the bug");
    // The bootloader loads the refund the operator wrote and reports it on.
    assert_eq!(signature, "diverges@ld.1");
}

#[test]
fn a_pubdata_bug_is_caught() {
    let signature = first_signature_on(Target::Batches, Fault::PubdataDropsLastDiff)
        .expect("the suite catches the bug");
    // The operator writes the pubdata into the bootloader's heap; no instruction differs.
    assert_eq!(signature, "heap@end");
}

#[test]
fn a_snapshot_rollback_bug_is_caught() {
    // Only batches whose operator rolls transactions back can show it.
    let explanation = first_explanation_on(Target::Batches, Fault::RollbackKeepsEvents)
        .expect("the suite catches the bug");
    // The rolled-back transaction's events stay: the event counts part at the first cycle
    // after the rollback, whichever instruction the bootloader or the next transaction
    // runs there.
    assert!(
        explanation.detail.starts_with("logs@"),
        "{}",
        explanation.detail
    );
}

/// A bug injected into the vm2 adapter's projection (r3 one too high) must come out as a
/// finding in vm2: vm2 the odd one out, eravm and zk_evm agreeing, and not against eravm.
#[test]
fn a_vm2_only_difference_is_classified_as_one() {
    use eradiff::backend::projection_fault;
    let judge = Judge::default();
    // A case all three run and agree on, so that what differs is the injected bug.
    let case = (0..2_000)
        .map(|i| generate_seeded_for(Target::Calls, 11, i, &Settings::default()))
        .find(|case| {
            let eradiff::differential::Checked {
                verdict, declined, ..
            } = judge.check_counted(case);
            matches!(verdict, Verdict::Agree(_)) && declined.is_empty()
        })
        .expect("vm2 hosts some calls cases");
    let found = projection_fault::with("vm2", || match judge.check(&case) {
        Verdict::Disagree(finding) => judge.explain(&case, finding),
        other => panic!("the injected vm2 bug must show: {other:?}"),
    });
    let Finding::Divergence { odd, groups, .. } = &found.finding else {
        panic!("{:?}", found.finding)
    };
    assert_eq!(odd.as_deref(), Some("vm2"), "{}", found.signature);
    assert!(groups.contains(&vec!["eravm".to_string(), "zk_evm".to_string()]));
    assert!(found.signature.starts_with("vm2:"), "{}", found.signature);
    assert_eq!(reference_at_fault(&found.signature), Some("vm2"));
}
