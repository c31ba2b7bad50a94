//! Disassembly of a case's code page, and of every contract of its world.

use std::fmt::Write;

use eravm::decoder::code_word_instructions;
use eravm::Instruction;

use crate::case::{Case, Word};

/// One line per instruction slot: `pc  raw  text`; then, for a case with a world, each
/// contract under a header naming its address and code hash (constants and data words are
/// printed as the instructions they would decode to: EraVM code does not mark them).
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

fn slots(code: &[Word]) -> impl Iterator<Item = (u16, u64)> + '_ {
    code.iter().enumerate().flat_map(|(w, word)| {
        code_word_instructions(&word.0)
            .into_iter()
            .enumerate()
            .map(move |(i, raw)| ((w * 4 + i) as u16, raw))
    })
}

fn lines(code: &[Word], from: u16, to: u16) -> String {
    let mut out = String::new();
    for (at, raw) in slots(code) {
        if at >= from && at <= to {
            let _ = writeln!(out, "{at:5}  {raw:016x}  {}", Instruction::decode(raw));
        }
    }
    out
}
