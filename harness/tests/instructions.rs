//! The `instructions` target: cases from start states agree on eravm and zk_evm, and three
//! bugs that the other targets' campaigns do not reach (docs/arbitrary-states.md gives the
//! measurements) are caught by it.

use eradiff::backend::{Backend, EraVm, ZkEvm};
use eradiff::case::Case;
use eradiff::differential::{reference_at_fault, Finding, Judge, Verdict};
use eradiff::generator::{generate_seeded_for, Settings, Target};
use eravm::faults::{with_fault, Fault};

/// vm2 cannot load a start state (it declines every case of the target).
const PAIR: [&dyn Backend; 2] = [&EraVm, &ZkEvm];

fn pair() -> Judge<'static> {
    Judge::new(&PAIR)
}

/// The signature of the first seeded case (seed 3) that disagrees against eravm.
fn first_finding(iterations: u64) -> Option<String> {
    let judge = pair();
    (0..iterations).find_map(|i| {
        let case = generate_seeded_for(Target::Instructions, 3, i, &Settings::default());
        let Verdict::Disagree(finding) = judge.check(&case) else {
            return None;
        };
        let signature = judge.explain(&case, finding).signature;
        // zk_evm's own crash (`log.precompile` with a huge extra pubdata cost) is a trophy.
        reference_at_fault(&signature)
            .is_none()
            .then_some(signature)
    })
}

#[test]
fn start_state_cases_agree() {
    assert_eq!(first_finding(1_500), None);
}

#[test]
fn a_far_return_that_loses_the_callers_stack_pointer_is_caught() {
    let found = with_fault(Fault::FarReturnLosesCallerSp, || first_finding(3_000));
    let signature = found.expect("the instructions target catches it");
    assert!(signature.contains("@ret"), "{signature}");
}

#[test]
fn a_far_return_that_hands_back_the_stipend_is_caught() {
    let found = with_fault(Fault::FarReturnReturnsStipend, || first_finding(3_000));
    let signature = found.expect("the instructions target catches it");
    assert!(signature.contains("ret"), "{signature}");
}

#[test]
fn a_far_return_that_untags_the_callers_stack_is_caught() {
    let found = with_fault(Fault::FarReturnUntagsCallerStack, || first_finding(3_000));
    assert!(found.is_some(), "the instructions target catches it");
}

/// The two VMs load the same state: a case that only waits (no cycle) ends with the loaded
/// frames, pages and journal equal on both.
#[test]
fn both_vms_load_the_same_state() {
    let judge = pair();
    for i in 0..200 {
        let mut case = generate_seeded_for(Target::Instructions, 4, i, &Settings::default());
        case.max_cycles = 0;
        match judge.check(&case) {
            Verdict::Agree(run) => {
                let start = case.start.as_ref().expect("a start state");
                let far = start.far_frames().count();
                assert_eq!(run.state.call_stack.len(), start.depth() - 1, "case {i}");
                if far > 0 && start.far_frames().any(|f| !f.memory.is_empty()) {
                    assert!(
                        !run.state.start_pages.is_empty() || zero_words(start),
                        "case {i}"
                    );
                }
            }
            Verdict::Disagree(finding) => {
                let Finding::Divergence { .. } = finding else {
                    panic!("case {i}: a backend crashed loading a state");
                };
                panic!("case {i}: {}", judge.explain(&case, finding).signature);
            }
            Verdict::Unsupported(why) => panic!("case {i}: {why}"),
        }
    }
}

/// Whether every word the far frames below would hold is zero (and untagged).
fn zero_words(start: &eradiff::start::Start) -> bool {
    start
        .far_frames()
        .flat_map(|f| &f.memory)
        .all(|w| w.value.0.is_zero() && !w.pointer)
}

#[test]
fn unreachable_pubdata_counters_are_input_errors() {
    let mut case = generate_seeded_for(Target::Instructions, 1, 0, &Settings::default());
    let start = case.start.as_mut().expect("a start state");
    start.pubdata_counter += 1;
    let error = Case::from_json(&case.to_json())
        .expect_err("refused")
        .to_string();
    assert!(error.contains("start.pubdata_counter"), "{error}");
}

#[test]
fn heap_words_cannot_be_pointers() {
    let text = r#"{"version": 5, "code": [], "ergs": 100, "max_cycles": 1,
        "start": {"memory": [{"page": "heap", "index": 0, "value": "0x1", "pointer": true}]}}"#;
    let error = Case::from_json(text).expect_err("refused").to_string();
    assert!(error.contains("start.memory[0].pointer"), "{error}");
}

#[test]
fn vm2_declines_start_states_with_a_reason() {
    let case = generate_seeded_for(Target::Instructions, 1, 0, &Settings::default());
    let why = eradiff::backend::vm2_unsupported(&case).expect("declined");
    assert!(why.contains("start state"), "{why}");
}

#[test]
fn a_near_frame_at_the_bottom_is_an_input_error() {
    let text = r#"{"version": 5, "code": [], "ergs": 100, "max_cycles": 1,
        "start": {"below": [{"near": {"pc": 0, "sp": 0, "exception_handler": 0, "ergs": 1}}]}}"#;
    let error = Case::from_json(text).expect_err("refused").to_string();
    assert!(error.contains("start.below[0]"), "{error}");
}
