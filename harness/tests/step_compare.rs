//! Steps compare the frames below, the modes, the context register and the decommitted set,
//! so that a bug there is named at the step where it happens: each test injects one into
//! eravm and checks the explained step, and that without those parts the traces would part
//! only later (or not at all).

use eradiff::backend::{Backend, EraVm, ZkEvm};
use eradiff::case::Case;
use eradiff::compare::{first_step_difference, StepDiff};
use eradiff::differential::{reference_at_fault, Explanation, Finding, Judge, Verdict};
use eradiff::generator::{generate_seeded_for, Settings, Target};
use eradiff::observe::StepState;
use eravm::faults::{with_fault, Fault};

fn case(zasm: &str) -> Case {
    eradiff::zasm::case_from_zasm(zasm).expect("the case assembles")
}

/// The explanation of the finding `fault` causes in `case`.
fn explained(case: &Case, fault: Fault) -> Explanation {
    let judge = Judge::default();
    with_fault(fault, || match judge.check(case) {
        Verdict::Disagree(finding @ Finding::Divergence { .. }) => judge.explain(case, finding),
        other => panic!("the injected bug must show: {other:?}"),
    })
}

/// Where eravm's and zk_evm's traces part with `fault` on, comparing steps as before the
/// watched parts were added.
fn first_difference_without_watched_parts(case: &Case, fault: Fault) -> Option<StepDiff> {
    let trace = |backend: &dyn Backend| -> Vec<StepState> {
        let run = with_fault(fault, || backend.run(case, true)).expect("the case runs");
        let mut steps = run.trace.expect("a trace");
        for s in &mut steps {
            s.watched = Default::default();
        }
        steps
    };
    first_step_difference(&trace(&ZkEvm), &trace(&EraVm))
}

fn step(e: &Explanation) -> &StepDiff {
    e.step.as_ref().expect("the traces part")
}

const NEAR_CALL: &str = "
    .text
__entry:
    add 1000, r0, r1
    near_call r1, @callee, @handler
    ret.ok r0
callee:
    add 1, r0, r2
    add 2, r2, r2
    add 3, r2, r2
    ret
handler:
    ret.panic r0
";

#[test]
fn a_caller_s_saved_ergs_are_named_at_the_near_call() {
    let case = case(NEAR_CALL);
    let e = explained(&case, Fault::NearCallSavesCallerErgsOffByOne);
    let s = step(&e);
    // Step 1 is the near call; its callee runs four instructions before it returns.
    assert_eq!(s.index, 1, "{}", s.field);
    assert_eq!(s.field.field, "caller_frames[depth 1].ergs");
    assert!(
        e.detail.starts_with("caller_frames.ergs@near_call"),
        "{}",
        e.detail
    );
    let before =
        first_difference_without_watched_parts(&case, Fault::NearCallSavesCallerErgsOffByOne)
            .expect("the return shows it");
    assert_eq!(
        (before.index, before.field.field.as_str()),
        (5, "frame.ergs")
    );
}

const SET_CONTEXT: &str = "
    .text
__entry:
    add 5, r0, r1
    context.set_context_u128 r1
    add 1, r0, r2
    add 2, r2, r2
    ret.ok r0
";

#[test]
fn a_wrong_context_register_is_named_where_it_is_set() {
    let case = case(SET_CONTEXT);
    let e = explained(&case, Fault::SetContextU128OffByOne);
    let s = step(&e);
    assert_eq!(s.index, 1, "{}", s.field);
    assert_eq!(s.field.field, "context_register");
    assert_eq!((s.field.left.as_str(), s.field.right.as_str()), ("5", "6"));
    // Before, no step showed it: only the final state's register did.
    assert!(first_difference_without_watched_parts(&case, Fault::SetContextU128OffByOne).is_none());
}

/// The first case of `target` (seed 11) where `fault` makes a finding against eravm, its
/// explanation, and where the traces parted without the watched parts (if they did).
fn first_finding(target: Target, fault: Fault) -> (Explanation, Option<StepDiff>) {
    let judge = Judge::default();
    let found = with_fault(fault, || {
        (0..500).find_map(|i| {
            let case = generate_seeded_for(target, 11, i, &Settings::default());
            match judge.check(&case) {
                Verdict::Disagree(finding @ Finding::Divergence { .. }) => {
                    let e = judge.explain(&case, finding);
                    reference_at_fault(&e.signature)
                        .is_none()
                        .then_some((case, e))
                }
                _ => None,
            }
        })
    });
    let (case, e) = found.expect("the target catches it");
    let before = first_difference_without_watched_parts(&case, fault);
    (e, before)
}

/// The traces parted later without the watched parts, or not at all.
fn later(before: Option<&StepDiff>, now: &StepDiff) -> bool {
    !matches!(before, Some(b) if b.index <= now.index)
}

#[test]
fn a_far_return_with_the_callee_s_kernel_mode_is_named_at_the_return() {
    let (e, before) = first_finding(Target::Calls, Fault::FarReturnTakesCalleeKernelMode);
    assert!(e.detail.starts_with("kernel_mode@ret"), "{}", e.detail);
    assert!(later(before.as_ref(), step(&e)), "{before:?}");
}

#[test]
fn a_far_return_that_clears_static_is_named_at_the_return() {
    let (e, before) = first_finding(Target::Calls, Fault::FarReturnClearsStatic);
    assert!(e.detail.starts_with("static@ret"), "{}", e.detail);
    assert!(later(before.as_ref(), step(&e)), "{before:?}");
}

#[test]
fn decommits_an_operator_rollback_keeps_are_named_right_after_it() {
    let (e, before) = first_finding(Target::Batches, Fault::RollbackKeepsDecommits);
    let s = step(&e);
    assert!(s.field.field.starts_with("decommitted"), "{}", s.field);
    // The step before ran before the rollback: the cycle count went back.
    let previous = s.before.as_ref().expect("a step before");
    let this = s.left.as_ref().expect("the step");
    assert!(
        this.cycle <= previous.cycle,
        "{} after {}",
        this.cycle,
        previous.cycle
    );
    assert!(later(before.as_ref(), s), "{before:?}");
}
