//! Disassembly of a case's code page.

use std::fmt::Write;

use eravm::decoder::code_word_instructions;
use eravm::Instruction;

use crate::case::{Case, Word};

/// One line per instruction slot: `pc  raw  text`.
pub fn disassemble(case: &Case) -> String {
    lines(case, 0, u16::MAX)
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

fn lines(case: &Case, from: u16, to: u16) -> String {
    let mut out = String::new();
    for (at, raw) in slots(&case.code) {
        if at >= from && at <= to {
            let _ = writeln!(out, "{at:5}  {raw:016x}  {}", Instruction::decode(raw));
        }
    }
    out
}
