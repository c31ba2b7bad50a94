//! Disassembly of a case's code page, and of every contract of its world.

use std::fmt::Write;

use eravm::decoder::code_word_instructions;
use eravm::Instruction;

use crate::case::{Case, Word};

/// One line per instruction slot: `pc  raw  text`, or per constant word (see
/// [`constants`]); then, for a case with a world, each contract under a header naming its
/// address and code hash.
pub fn disassemble(case: &Case) -> String {
    let mut out = lines(&case.code, 0, u16::MAX);
    let Some(world) = &case.world else {
        return out;
    };
    let mut section = |title: String, code: &[Word]| {
        let hash = crate::world::bytecode_hash(code, false);
        let _ = writeln!(
            out,
            "\n== {title} ({} words, hash {hash:#066x})",
            code.len()
        );
        out.push_str(&lines(code, 0, u16::MAX));
    };
    for c in &world.contracts {
        section(format!("contract at {:#x}", c.address.0), &c.code);
    }
    if !world.default_account.is_empty() {
        section("the default account".into(), &world.default_account);
    }
    if !world.evm_emulator.is_empty() && world.evm_emulator != world.default_account {
        section("the EVM emulator".into(), &world.evm_emulator);
    }
    for code in &world.bytecodes {
        section("known bytecode".into(), code);
    }
    out
}

/// The instructions from `pc - radius` to `pc + radius` of the case's program, the one at
/// `pc` marked.
pub fn around(case: &Case, pc: u16, radius: u16) -> String {
    around_in(&case.code, pc, radius)
}

/// The same for any code page (a world contract's).
pub fn around_in(code: &[Word], pc: u16, radius: u16) -> String {
    let mut out = String::new();
    let from = pc.saturating_sub(radius);
    let to = pc.saturating_add(radius);
    for (at, raw) in slots(code) {
        if at >= from && at <= to {
            let mark = if at == pc { "=>" } else { "  " };
            let _ = writeln!(
                out,
                "{mark} {at:5}  {raw:016x}  {}",
                Instruction::decode(raw)
            );
        }
    }
    if pc as usize >= code.len() * 4 {
        let _ = writeln!(
            out,
            "=> {pc:5}  (past the end of the code: reads as 0, invalid)"
        );
    }
    out
}

/// The instruction word at `pc` of a code page (0, the invalid instruction, past its end).
pub fn slot(code: &[Word], pc: u16) -> u64 {
    code.get(pc as usize / 4)
        .map_or(0, |word| code_word_instructions(&word.0)[pc as usize % 4])
}

fn slots(code: &[Word]) -> impl Iterator<Item = (u16, u64)> + '_ {
    code.iter().enumerate().flat_map(|(w, word)| {
        code_word_instructions(&word.0)
            .into_iter()
            .enumerate()
            .map(move |(i, raw)| ((w * 4 + i) as u16, raw))
    })
}

/// One line per instruction slot, except that a word the code reads as a constant is one
/// line: its value, and the first pc that reads it.
fn lines(code: &[Word], from: u16, to: u16) -> String {
    let constants = constants(code);
    let mut out = String::new();
    for (at, raw) in slots(code) {
        if at < from || at > to {
            continue;
        }
        let word = at / 4;
        match constants.get(&word) {
            Some(reader) if at % 4 == 0 => {
                let _ = writeln!(
                    out,
                    "{at:5}  word {word}: .cell {:#x}  ; a constant, read by pc {reader}",
                    code[word as usize].0
                );
            }
            Some(_) => {}
            None => {
                let _ = writeln!(out, "{at:5}  {raw:016x}  {}", Instruction::decode(raw));
            }
        }
    }
    out
}

/// The words of a code page its instructions read as constants with `code[r0 + imm]` (the
/// form compilers emit; a register base is known only at run time), each with the first pc
/// that reads it. EraVM code does not otherwise mark data.
pub fn constants(code: &[Word]) -> std::collections::BTreeMap<u16, u16> {
    let mut constants = std::collections::BTreeMap::new();
    for (at, raw) in slots(code) {
        let ins = Instruction::decode(raw);
        let reads_code = ins.src0_mode == eravm::SrcMode::CodePage && ins.src0 == 0;
        if reads_code && (ins.imm0 as usize) < code.len() {
            constants.entry(ins.imm0).or_insert(at);
        }
    }
    constants
}
