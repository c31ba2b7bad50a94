//! `eradiff trace`: one line per cycle in the window asked for, with what each cycle changed.

use eradiff::asm::{op, Program};
use eradiff::backend::{run_isolated, EraVm, ZkEvm};
use eradiff::report::trace_text;
use eravm::Opcode;

fn program() -> eradiff::case::Case {
    Program::new()
        .push(op(Opcode::Add).imm(5).dst(2))
        .push(op(Opcode::Add).imm(7).src1(2).dst(3))
        .push(op(Opcode::RetOk))
        .case(10_000)
}

#[test]
fn a_trace_prints_the_cycles_asked_for_with_the_registers_they_changed() {
    for backend in [&EraVm as &dyn eradiff::backend::Backend, &ZkEvm] {
        let run = run_isolated(backend, &program(), true).expect("runs");
        let text = trace_text(run.trace.as_deref().unwrap_or_default(), 2, 2);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.len(),
            2,
            "{}: a header and cycle 2 only:\n{text}",
            backend.name()
        );
        assert!(lines[0].starts_with("-- code of 0x"), "{text}");
        assert!(
            lines[1]
                .trim_start()
                .starts_with("2  pc     1  add 7, r2, r3"),
            "{text}"
        );
        // r2 + 7 = 12, and r3 is the only register the cycle changed.
        assert!(
            lines[1].contains("r3=0xc") && !lines[1].contains("r2="),
            "{text}"
        );
    }
}
