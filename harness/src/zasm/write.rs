//! Printing a case back as `.zasm` that `zkevm-assembly` reads: header lines for its fields,
//! its code in the assembler's canonical forms, checked by assembling it again.

use serde_json::Value;

use super::{assemble, defaults, HEADER};
use eravm::decoder::code_word_instructions;
use eravm::opcode::{Family, ModifierMeaning};
use eravm::{DstMode, Instruction, Opcode, SrcMode};

use crate::case::{Case, Word};

/// Why a case's code cannot be printed as assembly that assembles back to the same words.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// An instruction (or the code's layout) the assembler cannot spell.
    #[error("pc {pc}: `{instruction}` has no zkevm-assembly form: {why}")]
    Inexpressible {
        /// Where in the code.
        pc: u16,
        /// The instruction, disassembled.
        instruction: String,
        /// Why it has no form.
        why: &'static str,
    },
    #[error(
        "the assembly printed assembles to different code at pc {pc}: `{got}` for `{wanted}` \
         (a form this printer gets wrong: please report it)"
    )]
    /// The printed text assembles to other code: a defect of this printer.
    Differs {
        /// The first pc that differs.
        pc: usize,
        /// The case's instruction there.
        wanted: String,
        /// What the assembler made of the printed text.
        got: String,
    },
    /// The assembler refused the printed text: a defect of this printer.
    #[error("the assembly printed does not assemble: {0}")]
    Rejected(String),
}

/// Prints a case as `.zasm`: its fields as header lines, its code as instructions (and the
/// words read as constants as `.rodata` cells), checked by assembling it again: what
/// [`super::case_from_zasm`] reads back runs the same code, followed by whatever padding the
/// assembler appends.
pub fn write(case: &Case) -> Result<String, WriteError> {
    let mut out = header(case);
    out.push_str(&write_code(&case.code)?);
    let code = assemble(&out).map_err(|e| WriteError::Rejected(e.to_string()))?;
    for (w, word) in case.code.iter().enumerate() {
        let got = code
            .get(w)
            .map(|b| eravm::U256::from_big_endian(b))
            .unwrap_or_default();
        if got == word.0 {
            continue;
        }
        let (wanted, got) = (
            code_word_instructions(&word.0),
            code_word_instructions(&got),
        );
        let slot = (0..4).find(|&i| wanted[i] != got[i]).unwrap_or(0);
        return Err(WriteError::Differs {
            pc: w * 4 + slot,
            wanted: Instruction::decode(wanted[slot]).to_string(),
            got: Instruction::decode(got[slot]).to_string(),
        });
    }
    Ok(out)
}

/// Header lines for every field but `code` that differs from what a `.zasm` file defaults to.
fn header(case: &Case) -> String {
    let Ok(Value::Object(fields)) = serde_json::to_value(case) else {
        return String::new();
    };
    let defaults = defaults();
    let default_frame = serde_json::to_value(crate::case::FrameSettings::default()).ok();
    let mut out = String::new();
    for (field, value) in fields {
        let is_default = field == "code"
            || defaults.iter().any(|(f, v)| *f == field && *v == value)
            || (field == "frame" && Some(&value) == default_frame.as_ref());
        if !is_default {
            out.push_str(&format!("{HEADER} {field} = {value}\n"));
        }
    }
    out
}

/// The text and `.rodata` sections of a code page. Words from the first one the code reads
/// as a constant ([`crate::disasm::constants`]) on are cells; every word before them must be
/// four instructions the assembler can write.
fn write_code(code: &[Word]) -> Result<String, WriteError> {
    let constants = crate::disasm::constants(code);
    let text_words = constants.keys().next().map_or(code.len(), |&w| w as usize);
    let mut slots: Vec<Instruction> = code[..text_words]
        .iter()
        .flat_map(|w| code_word_instructions(&w.0))
        .map(Instruction::decode)
        .collect();
    // The assembler pads the text to whole words, and a whole word more when it is whole
    // already: leave the trailing invalid slots to it. Constants then stay where they were
    // only if at least one slot was left.
    if slots.is_empty() {
        return Err(WriteError::Inexpressible {
            pc: 0,
            instruction: code
                .first()
                .map(|w| format!("{:#x}", w.0))
                .unwrap_or_default(),
            why: "the code reads its first word as a constant, and the assembler puts \
                  instructions first",
        });
    }
    let padding = slots
        .iter()
        .rev()
        .take_while(|i| **i == Instruction::decode(0))
        .count();
    if padding == 0 && text_words < code.len() {
        return Err(WriteError::Inexpressible {
            pc: (slots.len() - 1) as u16,
            instruction: slots[slots.len() - 1].to_string(),
            why: "the assembler pads the text with a word more when it ends on a whole \
                  word, which would move the constants after it",
        });
    }
    slots.truncate(slots.len() - padding.min(slots.len()));
    let targets = label_targets(&slots);
    let mut out = String::from("    .text\n");
    for (pc, ins) in slots.iter().enumerate() {
        if pc == 0 {
            // Defined here, the assembler adds no landing pads of its own.
            out.push_str("DEFAULT_UNWIND:\nDEFAULT_FAR_RETURN:\nDEFAULT_FAR_REVERT:\n");
        }
        if pc == 0 || targets.contains(&(pc as u16)) {
            out.push_str(&format!("{}:\n", label(pc as u16)));
        }
        let line = instruction(ins, slots.len()).map_err(|why| WriteError::Inexpressible {
            pc: pc as u16,
            instruction: ins.to_string(),
            why,
        })?;
        out.push_str(&format!("    {line}\n"));
    }
    if text_words < code.len() {
        out.push_str("    .rodata\n");
        for (w, word) in code.iter().enumerate().skip(text_words) {
            out.push_str(&format!("{}:\n    .cell {}\n", constant_label(w), word.0));
        }
    }
    Ok(out)
}

fn label(pc: u16) -> String {
    format!("L{pc}")
}

fn constant_label(word: usize) -> String {
    format!("C{word}")
}

/// The pcs that instructions name as targets: they get labels.
fn label_targets(slots: &[Instruction]) -> std::collections::BTreeSet<u16> {
    let mut targets = std::collections::BTreeSet::new();
    for ins in slots {
        match ins.opcode.family() {
            Family::NearCall => {
                targets.insert(ins.imm0);
                targets.insert(ins.imm1);
            }
            Family::FarCall => {
                targets.insert(ins.imm0);
            }
            Family::Ret if ins.modifiers[0] => {
                targets.insert(ins.imm0);
            }
            Family::Jump if ins.src0_mode == SrcMode::Imm => {
                targets.insert(ins.imm0);
            }
            _ => {}
        }
    }
    targets
}

type Line = Result<String, &'static str>;

/// `ins` with the fields the assembler's form of it does not carry cleared: an encoding
/// that differs from it has no spelling.
fn canonical(ins: &Instruction) -> Instruction {
    let family = ins.opcode.family();
    let mut c = *ins;
    let is_write = matches!(
        ins.opcode,
        Opcode::StorageWrite | Opcode::TransientStorageWrite | Opcode::Event | Opcode::ToL1Message
    );
    let targets = matches!(family, Family::NearCall | Family::FarCall)
        || (family == Family::Ret && ins.modifiers[0])
        || (family == Family::Jump && ins.src0_mode == SrcMode::Imm);
    if ins.src0_mode == SrcMode::Imm
        || matches!(ins.opcode, Opcode::IncrementTxNumber)
        || (family == Family::Context
            && !matches!(ins.opcode, Opcode::SetContextU128 | Opcode::AuxMutating0))
    {
        c.src0 = 0;
    }
    if ins.src0_mode == SrcMode::Reg && !targets {
        c.imm0 = 0;
    }
    if ins.dst0_mode == DstMode::Reg && family != Family::NearCall {
        c.imm1 = 0;
    }
    if matches!(
        family,
        Family::Jump | Family::Context | Family::Ret | Family::NearCall
    ) {
        c.src1 = 0;
    }
    if matches!(
        family,
        Family::Jump | Family::Ret | Family::NearCall | Family::FarCall
    ) || is_write
        || matches!(
            ins.opcode,
            Opcode::SetContextU128 | Opcode::AuxMutating0 | Opcode::IncrementTxNumber
        )
    {
        c.dst0 = 0;
    }
    if !matches!(
        family,
        Family::Mul | Family::Div | Family::HeapAccess | Family::Nop
    ) {
        c.dst1 = 0;
    }
    if family == Family::Invalid {
        c = Instruction::new(Opcode::Invalid);
        c.condition = ins.condition;
    }
    c
}

/// One instruction in the assembler's canonical form, or why it has none (the self-check in
/// [`write`] catches any form this gets wrong).
fn instruction(ins: &Instruction, text_len: usize) -> Line {
    if canonical(ins) != *ins {
        return Err("it sets encoding fields its assembly form does not carry");
    }
    if ins.src0_mode == SrcMode::Imm && ins.imm0 == 0 && ins.opcode.family() != Family::Jump {
        return Err("the assembler writes the immediate 0 as r0");
    }
    let target = |pc: u16| -> Result<String, &'static str> {
        if (pc as usize) < text_len {
            Ok(format!("@{}", label(pc)))
        } else {
            Err("a target past the end of the text has no label")
        }
    };
    let name = name(ins);
    let r = |n: u8| format!("r{n}");
    Ok(match ins.opcode.family() {
        Family::Invalid => format!("invalid{}", ins.condition.suffix()),
        Family::Nop if ins.src1 != 0 || ins.dst1 != 0 => {
            return Err("the assembler writes nop with src1 and dst1 r0 only")
        }
        Family::Nop
            if ins.src0_mode == SrcMode::StackPop && ins.condition == eravm::Condition::Always =>
        {
            return Err("the assembler reads `nop stack-=[...]` as its stack-adjusting shorthand")
        }
        Family::Nop => format!("{name} {}, r0, {}, r0", src0(ins)?, dst0(ins)?),
        Family::Add | Family::Sub | Family::Binop | Family::Shift | Family::Ptr => {
            format!("{name} {}, {}, {}", src0(ins)?, r(ins.src1), dst0(ins)?)
        }
        Family::Mul | Family::Div => format!(
            "{name} {}, {}, {}, {}",
            src0(ins)?,
            r(ins.src1),
            dst0(ins)?,
            r(ins.dst1)
        ),
        Family::Jump => match ins.src0_mode {
            SrcMode::Imm => format!("{name} {}", target(ins.imm0)?),
            _ => format!("{name} {}", src0(ins)?),
        },
        Family::Context => match ins.opcode {
            Opcode::SetContextU128 | Opcode::AuxMutating0 => format!("{name} {}", r(ins.src0)),
            Opcode::IncrementTxNumber => name,
            _ => format!("{name} {}", r(ins.dst0)),
        },
        Family::Log => match ins.opcode {
            Opcode::StorageWrite
            | Opcode::TransientStorageWrite
            | Opcode::Event
            | Opcode::ToL1Message => format!("{name} {}, {}, r0", r(ins.src0), r(ins.src1)),
            _ => format!("{name} {}, {}, {}", r(ins.src0), r(ins.src1), r(ins.dst0)),
        },
        Family::NearCall => format!(
            "{name} {}, {}, {}",
            r(ins.src0),
            target(ins.imm0)?,
            target(ins.imm1)?
        ),
        Family::FarCall => format!(
            "{name} {}, {}, {}",
            r(ins.src0),
            r(ins.src1),
            target(ins.imm0)?
        ),
        Family::Ret if ins.modifiers[0] => format!("{name} {}, {}", r(ins.src0), target(ins.imm0)?),
        Family::Ret => format!("{name} {}", r(ins.src0)),
        Family::HeapAccess => {
            let src0 = match ins.src0_mode {
                SrcMode::Reg => r(ins.src0),
                SrcMode::Imm => ins.imm0.to_string(),
                _ => return Err("a heap access addresses by register or immediate only"),
            };
            format!(
                "{name} {src0}, {}, {}, {}",
                r(ins.src1),
                r(ins.dst0),
                r(ins.dst1)
            )
        }
    })
}

/// The canonical opcode and modifiers, then the condition.
fn name(ins: &Instruction) -> String {
    use Opcode::*;
    // The assembler's spelling where it is not the disassembler's.
    let base = match ins.opcode {
        Xor => "binop.xor",
        And => "binop.and",
        Or => "binop.or",
        Shl => "shift.shl",
        Shr => "shift.shr",
        Rol => "shift.rol",
        Ror => "shift.ror",
        AuxMutating0 => "context.set_ergs_per_pubdata",
        HeapRead => "uma.heap_read",
        HeapWrite => "uma.heap_write",
        AuxHeapRead => "uma.aux_heap_read",
        AuxHeapWrite => "uma.aux_heap_write",
        FatPointerRead => "uma.fat_ptr_read",
        StaticMemoryRead => "uma.static_read",
        StaticMemoryWrite => "uma.static_write",
        other => other.mnemonic(),
    };
    let mut name = base.to_string();
    let [m0, m1] = ins.modifiers;
    match ins.opcode.modifiers() {
        ModifierMeaning::SetFlags if m0 => name.push_str(".set_flags"),
        ModifierMeaning::SetFlagsAndSwap => {
            if m1 {
                name.push_str(".s");
            }
            if m0 {
                name.push_str(".set_flags");
            }
        }
        ModifierMeaning::Swap if m0 => name.push_str(".s"),
        ModifierMeaning::Increment if m0 => name.push_str(".inc"),
        ModifierMeaning::ToLabel if m0 => name.push_str(".to_label"),
        ModifierMeaning::First if m0 => name.push_str(".first"),
        ModifierMeaning::StaticAndShard => {
            if m0 {
                name.push_str(".static");
            }
            if m1 {
                name.push_str(".shard");
            }
        }
        _ => {}
    }
    name.push_str(ins.condition.suffix());
    name
}

fn src0(ins: &Instruction) -> Line {
    let (r, imm) = (ins.src0, ins.imm0);
    Ok(match ins.src0_mode {
        SrcMode::Reg => format!("r{r}"),
        SrcMode::Imm => imm.to_string(),
        SrcMode::StackPop => format!("stack-=[r{r} + {imm}]"),
        SrcMode::StackRelative => format!("stack-[r{r} + {imm}]"),
        SrcMode::StackAbsolute => format!("stack[r{r} + {imm}]"),
        SrcMode::CodePage if r == 0 => format!("@{}[0]", constant_label(imm as usize)),
        SrcMode::CodePage => {
            return Err("a code read with a register base names a word only at run time")
        }
    })
}

fn dst0(ins: &Instruction) -> Line {
    let (r, imm) = (ins.dst0, ins.imm1);
    Ok(match ins.dst0_mode {
        DstMode::Reg => format!("r{r}"),
        DstMode::StackPush => format!("stack+=[r{r} + {imm}]"),
        DstMode::StackRelative => format!("stack-[r{r} + {imm}]"),
        DstMode::StackAbsolute => format!("stack[r{r} + {imm}]"),
    })
}
