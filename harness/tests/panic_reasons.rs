//! Why frames panic: eravm names the reason of every panic (zk_evm and vm2 keep only that
//! one is pending), and `eradiff run`, `trace` and reports show it. Each program below panics
//! for one reason, on every VM alike; eravm must name that reason.

mod common;

use eradiff::observe::RunEnd;
use eradiff::zasm::case_from_zasm;
use eravm::PanicReason;

/// A fat pointer to 32 bytes of page 0x20 (for the `ptr.*` programs).
const POINTER_IN_R1: &str = r#"; eradiff: registers = [{"index": 1, "value": "0x0000000000000000000000000000002000000000000000000000000000000000", "pointer": true}]
"#;

const PROGRAMS: &[(&str, &str, PanicReason)] = &[
    ("explicit", ".text\n__entry:\n ret.panic r0\n", PanicReason::Explicit),
    ("oog", "; eradiff: ergs = 500\n.text\n__entry:\n add 1, r1, r1\n jump @__entry\n", PanicReason::OutOfErgs),
    ("invalid", ".text\n__entry:\n add 500, r0, r1\n jump r1\n", PanicReason::InvalidInstruction),
    ("kernel", "; eradiff: frame = {\"address\": \"0x0000000000000000000000000000000000010000\"}\n.text\n__entry:\n context.inc_tx_num\n ret.ok r0\n", PanicReason::KernelOnly),
    ("static", "; eradiff: frame = {\"is_static\": true}\n.text\n__entry:\n sstore r0, r0\n ret.ok r0\n", PanicReason::StaticViolation),
    ("ptrops", ".text\n__entry:\n ptr.add r2, r0, r3\n ret.ok r0\n", PanicReason::PointerOperands),
    ("ptradd", ".text\n__entry:\n add 1, r0, r2\n shl.s 32, r2, r2\n ptr.add r1, r2, r3\n ret.ok r0\n", PanicReason::PointerOffsetOutOfRange),
    ("ptrsub", ".text\n__entry:\n add 1, r0, r2\n ptr.sub r1, r2, r3\n ret.ok r0\n", PanicReason::PointerOffsetOutOfRange),
    ("pack", ".text\n__entry:\n add 1, r0, r2\n ptr.pack r1, r2, r3\n ret.ok r0\n", PanicReason::PointerPackLowBits),
    ("shrink", ".text\n__entry:\n sub.s 1, r0, r2\n ptr.shrink r1, r2, r3\n ret.ok r0\n", PanicReason::PointerShrinkPastLength),
    ("ldint", ".text\n__entry:\n ld r0, r2\n ret.ok r0\n", PanicReason::ReadFromInteger),
    ("heapoff", ".text\n__entry:\n add 1, r0, r1\n shl.s 32, r1, r1\n ld.1 r1, r2\n ret.ok r0\n", PanicReason::HeapOffsetOutOfRange),
    ("growth", "; eradiff: ergs = 1000\n; eradiff: frame = {\"heap_bound\": 0}\n.text\n__entry:\n add 1, r0, r1\n shl.s 20, r1, r1\n st.1 r1, r0\n ret.ok r0\n", PanicReason::HeapGrowthOutOfErgs),
    ("farcall", ".text\n__entry:\n add 32770, r0, r2\n far_call r0, r2, @handler\n ret.ok r0\nhandler:\n ret.ok r0\n", PanicReason::FarCallCodeHash),
    ("retdata", ".text\n__entry:\n add 1, r0, r1\n shl.s 224, r1, r1\n ret.ok r1\n", PanicReason::ReturnData),
];

fn with_pointer(name: &str, text: &str) -> String {
    if ["shrink", "ptradd", "ptrsub", "pack"].contains(&name) {
        format!("{POINTER_IN_R1}{text}")
    } else {
        text.to_string()
    }
}

#[test]
fn eravm_names_why_each_frame_panicked() {
    for (name, text, expected) in PROGRAMS {
        let case =
            case_from_zasm(&with_pointer(name, text)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let run = common::agree(&case);
        let last = run
            .panics
            .iter()
            .last()
            .unwrap_or_else(|| panic!("{name}: no panic"));
        assert_eq!(last.reason, *expected, "{name}");
        assert_eq!(run.panics.total, 1, "{name}: one panic");
        if last.depth == 1 {
            assert_eq!(run.state.end, RunEnd::Panic, "{name}");
        }
    }
}

#[test]
fn the_trace_and_the_log_keep_the_first_and_the_last_panics() {
    // 100 near calls that each panic: the log keeps 32 at each end and counts them all.
    let text = "; eradiff: max_cycles = 100000\n    .text\n__entry:\n    add 100, r0, r5\nloop:\n    near_call r0, @faulty, @back\nback:\n    sub.s! 1, r5, r5\n    jump.ne @loop\n    ret.ok r0\nfaulty:\n    ret.panic r0\n";
    let case = case_from_zasm(text).unwrap();
    let run = common::agree(&case);
    assert_eq!(run.panics.total, 100);
    let kept: Vec<_> = run.panics.iter().collect();
    assert_eq!(kept.len(), 2 * eradiff::observe::PANICS_KEPT);
    assert!(kept.windows(2).all(|w| w[0].cycle < w[1].cycle), "in order");
    assert!(kept
        .iter()
        .all(|p| p.reason == PanicReason::Explicit && p.depth == 2));
    let traced = eradiff::backend::run_isolated(&eradiff::backend::EraVm, &case, true).unwrap();
    assert_eq!(
        traced.panics, run.panics,
        "observed alike with or without a trace"
    );
    let trace = eradiff::report::trace_text(
        traced.trace.as_deref().unwrap_or_default(),
        &traced.panics,
        None,
        1,
        10,
    );
    assert!(trace.contains("(the frame panicked: ret.panic)"), "{trace}");
}
