//! Printing cases back as `.zasm`: every opcode variant in the forms the assembler writes
//! comes back as the same word, and corpus cases print and read back to the same code.

use eradiff::asm::{op, Program};
use eradiff::case::Case;
use eradiff::zasm::{case_from_zasm, write, WriteError};
use eravm::decoder::VARIANT_TABLE;
use eravm::opcode::Family;
use eravm::{Condition, DstMode, Instruction, Opcode, SrcMode};

/// An instruction of `variant` with the operands the assembler's form carries set, the
/// others zero; targets point at the `ret.ok` after it.
fn canonical(variant: &eravm::decoder::Variant, condition: Condition) -> Instruction {
    let mut ins = Instruction::new(variant.opcode);
    ins.src0_mode = variant.src0_mode;
    ins.dst0_mode = variant.dst0_mode;
    ins.modifiers = variant.modifiers;
    ins.condition = condition;
    let family = variant.opcode.family();
    let (src0, src1, dst0, dst1) = match (family, variant.opcode) {
        (Family::Context, Opcode::SetContextU128 | Opcode::AuxMutating0) => (1, 0, 0, 0),
        (Family::Context, Opcode::IncrementTxNumber) => (0, 0, 0, 0),
        (Family::Context, _) => (0, 0, 3, 0),
        (
            Family::Log,
            Opcode::StorageWrite
            | Opcode::TransientStorageWrite
            | Opcode::Event
            | Opcode::ToL1Message,
        ) => (1, 2, 0, 0),
        (Family::Log, _) => (1, 2, 3, 0),
        (Family::Ret | Family::Jump, _) => (1, 0, 0, 0),
        (Family::NearCall, _) => (1, 0, 0, 0),
        (Family::FarCall, _) => (1, 2, 0, 0),
        (Family::Nop, _) => (1, 0, 3, 0),
        (Family::Mul | Family::Div, _) => (1, 2, 3, 4),
        (Family::HeapAccess, _) => (1, 2, 3, 4),
        _ => (1, 2, 3, 0),
    };
    ins.src0 = if variant.src0_mode == SrcMode::Imm {
        0
    } else {
        src0
    };
    ins.src1 = src1;
    ins.dst0 = dst0;
    ins.dst1 = dst1;
    match variant.src0_mode {
        SrcMode::Imm => ins.imm0 = 1,
        SrcMode::Reg => {}
        _ => ins.imm0 = 5,
    }
    if variant.dst0_mode != DstMode::Reg {
        ins.imm1 = 6;
    }
    if matches!(family, Family::NearCall | Family::FarCall) {
        ins.imm0 = 1;
        ins.imm1 = if family == Family::NearCall { 1 } else { 0 };
    }
    if family == Family::Ret && variant.modifiers[0] {
        ins.imm0 = 1;
    }
    if family == Family::Jump && variant.src0_mode == SrcMode::Imm {
        ins.src0 = 0;
    }
    ins
}

#[test]
fn every_variant_prints_as_assembly_that_assembles_back() {
    let mut failures = Vec::new();
    let mut printed = 0;
    let mut inexpressible = 0;
    for variant in VARIANT_TABLE.iter().filter(|v| v.opcode != Opcode::Invalid) {
        if variant.src0_mode == SrcMode::CodePage {
            continue; // constants: see the corpus test below
        }
        for condition in [Condition::Always, Condition::Ne] {
            let ins = canonical(variant, condition);
            let case = Program::new()
                .push(eradiff::asm::Op(ins))
                .push(op(Opcode::RetOk))
                .case(10_000);
            match write(&case) {
                Ok(text) => {
                    printed += 1;
                    let back = case_from_zasm(&text).unwrap();
                    assert_eq!(back.code[..case.code.len()], case.code[..], "{text}");
                }
                // The one form the assembler has no spelling for (its shorthand takes it).
                Err(WriteError::Inexpressible { .. })
                    if ins.opcode == Opcode::Nop && ins.src0_mode == SrcMode::StackPop =>
                {
                    inexpressible += 1
                }
                Err(e) => failures.push(format!("{ins}: {e}")),
            }
        }
    }
    failures.sort();
    failures.dedup();
    println!(
        "{printed} printed, {inexpressible} without an assembler form; {} failed",
        failures.len()
    );
    assert_eq!(
        inexpressible, 4,
        "unconditional nop stack-=[...] into each destination"
    );
    for f in failures.iter().take(60) {
        println!("  {f}");
    }
    assert!(
        failures.is_empty(),
        "{} forms do not print back",
        failures.len()
    );
}

/// The hand-written programs print and read back to the same code and fields; over the whole
/// corpus, a case either prints back or is refused for a named reason, never printed wrong.
#[test]
fn corpus_cases_print_back_or_say_why() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let mut printed = 0;
    let mut refused: std::collections::BTreeMap<&'static str, usize> = Default::default();
    let mut wrong = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if !eradiff::case::is_case_file(&path) {
                continue;
            }
            let case = Case::load(&path).unwrap();
            match write(&case) {
                Ok(text) => {
                    let back = case_from_zasm(&text).unwrap();
                    assert_eq!(
                        back.code[..case.code.len()],
                        case.code[..],
                        "{}",
                        path.display()
                    );
                    let mut same = back.clone();
                    same.code = case.code.clone();
                    assert_eq!(same, case, "{}: every field comes back", path.display());
                    printed += 1;
                }
                Err(WriteError::Inexpressible { why, .. }) => *refused.entry(why).or_default() += 1,
                Err(e) => wrong.push(format!("{}: {e}", path.display())),
            }
            if eradiff::zasm::is_zasm(&path) {
                assert!(write(&case).is_ok(), "{} prints back", path.display());
            }
        }
    }
    println!("{printed} corpus cases print back as .zasm; refused:");
    for (why, n) in &refused {
        println!("  {n:4}  {why}");
    }
    assert!(wrong.is_empty(), "printed wrong:\n{}", wrong.join("\n"));
    assert!(printed >= 13);
}
