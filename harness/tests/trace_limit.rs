//! Traces are kept to a limit (`ERADIFF_MAX_TRACE_STEPS`), so explaining a long run takes
//! bounded memory; a difference past the limit is still reported, as found in the final
//! state, and the report says the traces were cut. Its own test binary: it sets the variable.

use eradiff::asm::{op, Program};
use eradiff::differential::{Judge, Verdict};
use eradiff::report::finding_markdown;
use eravm::faults::{with_fault, Fault};
use eravm::{Opcode, TaggedWord, U256};

#[test]
fn a_difference_past_the_trace_limit_is_reported_with_the_cut() {
    // Thirty nops, then the add the injected bug gets wrong.
    let mut program = Program::new().register(2, TaggedWord::integer(U256::from(40)));
    for _ in 0..30 {
        program = program.push(op(Opcode::Nop));
    }
    let case = program
        .push(op(Opcode::Add).imm(2).src1(2).dst(3))
        .push(op(Opcode::RetOk))
        .case(10_000);
    let explain = |limit: &str| {
        std::env::set_var("ERADIFF_MAX_TRACE_STEPS", limit);
        with_fault(Fault::AddOffByOne, || match Judge::default().check(&case) {
            Verdict::Disagree(finding) => Judge::default().explain(&case, finding),
            other => panic!("the injected bug must show: {other:?}"),
        })
    };
    let cut = explain("10");
    assert!(cut.step.is_none());
    assert_eq!(cut.traces_cut_at, Some(10));
    let report = finding_markdown(&case, &cut, None);
    assert!(
        report.contains("agree over their first 10 steps"),
        "{report}"
    );

    let whole = explain("1000");
    assert_eq!(whole.traces_cut_at, None);
    assert_eq!(whole.step.expect("found within the limit").index, 30);
}
