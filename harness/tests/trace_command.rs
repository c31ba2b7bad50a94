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
        let text = trace_text(
            run.trace.as_deref().unwrap_or_default(),
            &run.panics,
            None,
            2,
            2,
        );
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

/// `disasm` lists every contract of a case's world after the program, each under a header
/// with its address, size and code hash.
#[test]
fn disasm_shows_every_contract_of_the_world() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../corpus/calls/known-decommit-twice.json"
    );
    let case = eradiff::case::Case::load(std::path::Path::new(path)).expect("a corpus case");
    let world = case.world.as_ref().expect("a calls case has a world");
    let text = eradiff::disasm::disassemble(&case);
    for c in &world.contracts {
        let header = format!(
            "== contract at {:#x} ({} words, hash ",
            c.address.0,
            c.code.len()
        );
        assert!(text.contains(&header), "{header} missing:\n{text}");
    }
    let program_lines = text
        .split("\n== ")
        .next()
        .unwrap_or_default()
        .lines()
        .count();
    let constants = eradiff::disasm::constants(&case.code).len();
    assert!(
        constants > 0,
        "the program reads constants from its code page"
    );
    assert_eq!(
        program_lines,
        (case.code.len() - constants) * 4 + constants,
        "the program comes first, whole: four slots a word, one line a constant"
    );
    assert!(
        text.contains("word 7: .cell 0x1  ; a constant, read by pc 0"),
        "{text}"
    );
}

/// A trace names the instruction a false condition skipped or a fault replaced, beside the
/// `nop` or `ret.panic` that ran (which is what the VMs compare).
#[test]
fn trace_names_replaced_instructions() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/zasm");
    let trace = |name: &str| {
        let case = eradiff::case::Case::load(&root.join(name)).unwrap();
        let run = eradiff::backend::run_isolated(&eradiff::backend::EraVm, &case, true).unwrap();
        eradiff::report::trace_text(
            run.trace.as_deref().unwrap_or_default(),
            &run.panics,
            Some(&case),
            1,
            u64::MAX,
        )
    };
    let skipped = trace("add-carry-flags.zasm");
    assert!(
        skipped.contains("(condition false: `add.gt 11, r0, r5, r0` did not run)"),
        "{skipped}"
    );
    let faulted = trace("static-store-panics.zasm");
    assert!(
        faulted.contains("(`log.swrite r0, r1, r0, r0` ran as ret.panic)"),
        "{faulted}"
    );
    assert!(
        faulted.contains("(the frame panicked: state change in a static frame)"),
        "{faulted}"
    );
}
