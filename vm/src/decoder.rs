//! The production encoding of EraVM instructions.
//!
//! An instruction is a 64-bit word; a 32-byte code word holds four of them, the first in the
//! most significant eight bytes. Bit layout, from the least significant bit:
//!
//! | bits   | field                                                   |
//! |--------|---------------------------------------------------------|
//! | 0–10   | index into the variant table (opcode, modes, modifiers) |
//! | 11–12  | unused                                                  |
//! | 13–15  | condition                                               |
//! | 16–23  | src0 register (low nibble), src1 register (high nibble) |
//! | 24–31  | dst0 register (low nibble), dst1 register (high nibble) |
//! | 32–47  | imm0                                                    |
//! | 48–63  | imm1                                                    |
//!
//! The variant table has 2048 entries; the 1104 that EraVM 1.5 defines are laid out in blocks
//! below (their order is part of the protocol), every other entry is the invalid opcode.

use std::fmt;
use std::sync::LazyLock;

use crate::opcode::{Condition, DstMode, ModifierMeaning, Opcode, SrcMode};

/// One decoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instruction {
    pub opcode: Opcode,
    pub condition: Condition,
    pub src0_mode: SrcMode,
    pub dst0_mode: DstMode,
    /// The two modifier bits; see [`Opcode::modifiers`] for what they mean.
    pub modifiers: [bool; 2],
    pub src0: u8,
    pub src1: u8,
    pub dst0: u8,
    pub dst1: u8,
    pub imm0: u16,
    pub imm1: u16,
}

/// The opcode variant part of an instruction: what the 11-bit table index selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Variant {
    pub opcode: Opcode,
    pub src0_mode: SrcMode,
    pub dst0_mode: DstMode,
    pub modifiers: [bool; 2],
}

const VARIANT_BITS: u32 = 11;
const CONDITION_SHIFT: u32 = 13;
const SRC_REGS_SHIFT: u32 = 16;
const DST_REGS_SHIFT: u32 = 24;
const IMM0_SHIFT: u32 = 32;
const IMM1_SHIFT: u32 = 48;
pub const VARIANT_TABLE_LEN: usize = 1 << VARIANT_BITS;
/// Table index of `nop` with register operands: what an instruction whose condition fails runs.
pub const NOP_VARIANT_INDEX: u16 = 1;
/// Table index of `ret.panic`: what a faulting instruction runs.
pub const PANIC_VARIANT_INDEX: u16 = 1073;

/// How the source and destination modes of a block of the table are laid out.
#[derive(Clone, Copy)]
enum Modes {
    /// One entry: register operands only.
    Plain,
    /// Six source modes, destination a register.
    AnySrc,
    /// Six source modes times four destination modes.
    AnySrcAnyDst,
    /// A register or an immediate as the source.
    RegOrImm,
    /// Exactly this source mode.
    Only(SrcMode),
}

impl Modes {
    const fn count(self) -> usize {
        match self {
            Modes::Plain | Modes::Only(_) => 1,
            Modes::AnySrc => 6,
            Modes::AnySrcAnyDst => 24,
            Modes::RegOrImm => 2,
        }
    }

    fn at(self, i: usize) -> (SrcMode, DstMode) {
        match self {
            Modes::Plain => (SrcMode::Reg, DstMode::Reg),
            Modes::Only(src) => (src, DstMode::Reg),
            Modes::AnySrc => (SrcMode::ALL[i], DstMode::Reg),
            Modes::AnySrcAnyDst => (SrcMode::ALL[i / 4], DstMode::ALL[i % 4]),
            Modes::RegOrImm => ([SrcMode::Reg, SrcMode::Imm][i], DstMode::Reg),
        }
    }
}

/// One block of the variant table: an opcode, its modes and how many modifier bits it uses.
struct Block {
    opcode: Opcode,
    modes: Modes,
    modifier_bits: u32,
}

const fn block(opcode: Opcode, modes: Modes, modifier_bits: u32) -> Block {
    Block {
        opcode,
        modes,
        modifier_bits,
    }
}

/// The blocks of the variant table in protocol order, starting at index 0.
const BLOCKS: &[Block] = {
    use Modes::*;
    use Opcode::*;
    &[
        block(Invalid, Plain, 0),
        block(Nop, AnySrcAnyDst, 0),
        block(Add, AnySrcAnyDst, 1),
        block(Sub, AnySrcAnyDst, 2),
        block(Mul, AnySrcAnyDst, 1),
        block(Div, AnySrcAnyDst, 2),
        block(Jump, AnySrc, 0),
        block(Xor, AnySrcAnyDst, 1),
        block(And, AnySrcAnyDst, 1),
        block(Or, AnySrcAnyDst, 1),
        block(Shl, AnySrcAnyDst, 2),
        block(Shr, AnySrcAnyDst, 2),
        block(Rol, AnySrcAnyDst, 2),
        block(Ror, AnySrcAnyDst, 2),
        block(PtrAdd, AnySrcAnyDst, 1),
        block(PtrSub, AnySrcAnyDst, 1),
        block(PtrPack, AnySrcAnyDst, 1),
        block(PtrShrink, AnySrcAnyDst, 1),
        block(NearCall, Plain, 0),
        block(This, Plain, 0),
        block(Caller, Plain, 0),
        block(CodeAddress, Plain, 0),
        block(Meta, Plain, 0),
        block(ErgsLeft, Plain, 0),
        block(Sp, Plain, 0),
        block(GetContextU128, Plain, 0),
        block(SetContextU128, Plain, 0),
        block(AuxMutating0, Plain, 0),
        block(IncrementTxNumber, Plain, 0),
        block(StorageRead, Plain, 0),
        block(StorageWrite, Plain, 0),
        block(ToL1Message, Plain, 1),
        block(Event, Plain, 1),
        block(PrecompileCall, Plain, 0),
        block(FarCall, Plain, 2),
        block(FarCallDelegate, Plain, 2),
        block(FarCallMimic, Plain, 2),
        block(RetOk, Plain, 1),
        block(RetRevert, Plain, 1),
        block(RetPanic, Plain, 1),
        // EraVM 1.0 heap accesses took a register only ...
        block(HeapRead, Only(SrcMode::Reg), 1),
        block(HeapWrite, Only(SrcMode::Reg), 1),
        block(AuxHeapRead, Only(SrcMode::Reg), 1),
        block(AuxHeapWrite, Only(SrcMode::Reg), 1),
        block(FatPointerRead, Only(SrcMode::Reg), 1),
        // ... 1.1 added immediate offsets ...
        block(HeapRead, Only(SrcMode::Imm), 1),
        block(HeapWrite, Only(SrcMode::Imm), 1),
        block(AuxHeapRead, Only(SrcMode::Imm), 1),
        block(AuxHeapWrite, Only(SrcMode::Imm), 1),
        // ... and 1.5 the rest.
        block(Decommit, Plain, 0),
        block(TransientStorageRead, Plain, 0),
        block(TransientStorageWrite, Plain, 0),
        block(StaticMemoryRead, RegOrImm, 1),
        block(StaticMemoryWrite, RegOrImm, 1),
    ]
};

const INVALID_VARIANT: Variant = Variant {
    opcode: Opcode::Invalid,
    src0_mode: SrcMode::Reg,
    dst0_mode: DstMode::Reg,
    modifiers: [false, false],
};

/// The decoding table, built once.
pub static VARIANT_TABLE: LazyLock<[Variant; VARIANT_TABLE_LEN]> = LazyLock::new(|| {
    let mut table = [INVALID_VARIANT; VARIANT_TABLE_LEN];
    let mut index = 0;
    for b in BLOCKS {
        for mode in 0..b.modes.count() {
            let (src0_mode, dst0_mode) = b.modes.at(mode);
            for bits in 0..(1usize << b.modifier_bits) {
                // The first modifier is the more significant bit of the pair.
                let modifiers = match b.modifier_bits {
                    0 => [false, false],
                    1 => [bits == 1, false],
                    _ => [bits & 2 != 0, bits & 1 != 0],
                };
                table[index] = Variant {
                    opcode: b.opcode,
                    src0_mode,
                    dst0_mode,
                    modifiers,
                };
                index += 1;
            }
        }
    }
    table
});

/// The 11-bit table index of a variant, or `None` if the combination does not exist.
pub fn variant_index(variant: &Variant) -> Option<u16> {
    VARIANT_INDEX.get(variant).copied()
}

/// The table read backwards: each variant at the first index that holds it (encoding is on
/// the generator's hot path).
static VARIANT_INDEX: LazyLock<rustc_hash::FxHashMap<Variant, u16>> = LazyLock::new(|| {
    let defined: usize = BLOCKS
        .iter()
        .map(|b| b.modes.count() << b.modifier_bits)
        .sum();
    let mut index = rustc_hash::FxHashMap::default();
    for (i, variant) in VARIANT_TABLE.iter().enumerate().take(defined) {
        index.entry(*variant).or_insert(i as u16);
    }
    index
});

impl Instruction {
    /// Decodes a 64-bit instruction word. Every word decodes; undefined variants decode to
    /// [`Opcode::Invalid`].
    pub fn decode(raw: u64) -> Instruction {
        let variant = VARIANT_TABLE[(raw & (VARIANT_TABLE_LEN as u64 - 1)) as usize];
        let srcs = (raw >> SRC_REGS_SHIFT) as u8;
        let dsts = (raw >> DST_REGS_SHIFT) as u8;
        Instruction {
            opcode: variant.opcode,
            condition: Condition::from_bits((raw >> CONDITION_SHIFT) as u8),
            src0_mode: variant.src0_mode,
            dst0_mode: variant.dst0_mode,
            modifiers: variant.modifiers,
            src0: srcs & 15,
            src1: srcs >> 4,
            dst0: dsts & 15,
            dst1: dsts >> 4,
            imm0: (raw >> IMM0_SHIFT) as u16,
            imm1: (raw >> IMM1_SHIFT) as u16,
        }
    }

    /// Encodes the instruction, or `None` if its opcode, modes and modifiers do not form a
    /// variant of the table or a register index is above 15.
    pub fn encode(&self) -> Option<u64> {
        let index = variant_index(&self.variant())?;
        if [self.src0, self.src1, self.dst0, self.dst1]
            .iter()
            .any(|&r| r > 15)
        {
            return None;
        }
        Some(
            index as u64
                | (self.condition.bits() as u64) << CONDITION_SHIFT
                | ((self.src0 | self.src1 << 4) as u64) << SRC_REGS_SHIFT
                | ((self.dst0 | self.dst1 << 4) as u64) << DST_REGS_SHIFT
                | (self.imm0 as u64) << IMM0_SHIFT
                | (self.imm1 as u64) << IMM1_SHIFT,
        )
    }

    pub fn variant(&self) -> Variant {
        Variant {
            opcode: self.opcode,
            src0_mode: self.src0_mode,
            dst0_mode: self.dst0_mode,
            modifiers: self.modifiers,
        }
    }

    /// An instruction of `variant`: its opcode, addressing modes and modifiers, operands zero.
    pub const fn of_variant(variant: Variant) -> Instruction {
        let mut ins = Instruction::new(variant.opcode);
        ins.src0_mode = variant.src0_mode;
        ins.dst0_mode = variant.dst0_mode;
        ins.modifiers = variant.modifiers;
        ins
    }

    /// A plain instruction with register operands and no modifiers; the builder methods set
    /// the rest.
    pub const fn new(opcode: Opcode) -> Instruction {
        Instruction {
            opcode,
            condition: Condition::Always,
            src0_mode: SrcMode::Reg,
            dst0_mode: DstMode::Reg,
            modifiers: [false, false],
            src0: 0,
            src1: 0,
            dst0: 0,
            dst1: 0,
            imm0: 0,
            imm1: 0,
        }
    }

    /// What the VM runs instead when an instruction faults before execution: `ret.panic r0`.
    pub const fn panic() -> Instruction {
        Instruction::new(Opcode::RetPanic)
    }

    /// What the VM runs instead when the condition does not hold.
    pub const fn nop() -> Instruction {
        Instruction::new(Opcode::Nop)
    }

    pub const fn set_flags(&self) -> bool {
        matches!(
            self.opcode.modifiers(),
            ModifierMeaning::SetFlags | ModifierMeaning::SetFlagsAndSwap
        ) && self.modifiers[0]
    }

    pub const fn swap_operands(&self) -> bool {
        match self.opcode.modifiers() {
            ModifierMeaning::SetFlagsAndSwap => self.modifiers[1],
            ModifierMeaning::Swap => self.modifiers[0],
            _ => false,
        }
    }

    /// The first modifier, for opcodes where it is a single switch (increment, to-label, first).
    pub const fn first_modifier(&self) -> bool {
        self.modifiers[0]
    }
}

/// An instruction as the VM keeps it in its code cache: decoded once, together with what
/// the checks before execution and the operand addressing ask of it every cycle.
#[derive(Clone, Copy)]
pub struct Predecoded {
    pub(crate) handler: crate::instructions::Handler,
    pub ins: Instruction,
    /// Its index in the variant table (what tracers report).
    pub variant: u16,
    pub price: u32,
    /// `GUARD_*` bits: checks before execution that depend on the frame.
    pub guards: u8,
    /// The operands are swapped before execution.
    pub swap: bool,
    pub set_flags: bool,
    /// Bit `Flags::bits()` is set where the condition holds: the check is a shift, not a
    /// branch on the condition.
    pub condition_mask: u8,
}

impl fmt::Debug for Predecoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (variant {})", self.ins, self.variant)
    }
}

/// The invalid opcode: faults in every frame.
pub const GUARD_INVALID: u8 = 1;
/// Faults outside kernel frames.
pub const GUARD_KERNEL_ONLY: u8 = 2;
/// Faults in static frames.
pub const GUARD_NOT_IN_STATIC: u8 = 4;

impl Predecoded {
    pub fn new(ins: Instruction, variant: u16) -> Predecoded {
        let op = ins.opcode;
        let guards = if op == Opcode::Invalid {
            GUARD_INVALID
        } else {
            0
        } | if op.is_kernel_only() {
            GUARD_KERNEL_ONLY
        } else {
            0
        } | if op.is_allowed_in_static_frame() {
            0
        } else {
            GUARD_NOT_IN_STATIC
        };
        Predecoded {
            handler: crate::instructions::handler_for(&ins),
            ins,
            variant,
            price: op.price(),
            guards,
            swap: ins.swap_operands(),
            set_flags: ins.set_flags(),
            condition_mask: (0..8u8).fold(0, |mask, bits| {
                let flags = crate::state::Flags {
                    lt_of: bits & 1 != 0,
                    eq: bits & 2 != 0,
                    gt: bits & 4 != 0,
                };
                mask | (flags.holds(ins.condition) as u8) << bits
            }),
        }
    }

    /// Runs `ins` instead (a panic for a fault, a nop for a false condition), keeping the
    /// immediates, which the replaced instruction still shows.
    #[inline(always)]
    pub fn replace_with(&mut self, replacement: &Predecoded) {
        let (imm0, imm1) = (self.ins.imm0, self.ins.imm1);
        *self = *replacement;
        self.ins.imm0 = imm0;
        self.ins.imm1 = imm1;
    }

    /// `ret.panic r0`, what a faulting instruction runs.
    pub fn panic() -> Predecoded {
        Predecoded::new(Instruction::panic(), PANIC_VARIANT_INDEX)
    }

    /// `nop r0, r0, r0, r0`, what an instruction whose condition fails runs.
    pub fn nop() -> Predecoded {
        Predecoded::new(Instruction::nop(), NOP_VARIANT_INDEX)
    }

    pub fn from_raw(raw: u64) -> Predecoded {
        Predecoded::new(
            Instruction::decode(raw),
            (raw & (VARIANT_TABLE_LEN as u64 - 1)) as u16,
        )
    }
}

/// Splits a 32-byte code word into its four instructions, first instruction first.
pub fn code_word_instructions(word: &primitive_types::U256) -> [u64; 4] {
    [word.0[3], word.0[2], word.0[1], word.0[0]]
}

/// The raw instruction at `pc` of a code page given as 32-byte words; past the end the code
/// page reads as zeros, which decode to the invalid opcode.
pub fn raw_instruction_at(code: &[primitive_types::U256], pc: u16) -> u64 {
    match code.get((pc >> 2) as usize) {
        Some(word) => word.0[3 - (pc & 3) as usize],
        None => 0,
    }
}

fn reg(f: &mut fmt::Formatter<'_>, r: u8) -> fmt::Result {
    write!(f, "r{r}")
}

fn src_operand(f: &mut fmt::Formatter<'_>, i: &Instruction) -> fmt::Result {
    match i.src0_mode {
        SrcMode::Reg => reg(f, i.src0),
        SrcMode::Imm => write!(f, "{}", i.imm0),
        SrcMode::StackPop => write!(f, "stack-=[r{} + {}]", i.src0, i.imm0),
        SrcMode::StackRelative => write!(f, "stack[sp - (r{} + {})]", i.src0, i.imm0),
        SrcMode::StackAbsolute => write!(f, "stack[r{} + {}]", i.src0, i.imm0),
        SrcMode::CodePage => write!(f, "code[r{} + {}]", i.src0, i.imm0),
    }
}

fn dst_operand(f: &mut fmt::Formatter<'_>, i: &Instruction) -> fmt::Result {
    match i.dst0_mode {
        DstMode::Reg => reg(f, i.dst0),
        DstMode::StackPush => write!(f, "stack+=[r{} + {}]", i.dst0, i.imm1),
        DstMode::StackRelative => write!(f, "stack[sp - (r{} + {})]", i.dst0, i.imm1),
        DstMode::StackAbsolute => write!(f, "stack[r{} + {}]", i.dst0, i.imm1),
    }
}

impl Instruction {
    /// The mnemonic with its modifiers and condition, without operands: `sub.s!`,
    /// `far_call.static`, `jump.ne`.
    pub fn name(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_name(&mut s);
        s
    }

    fn write_name(&self, f: &mut impl fmt::Write) -> fmt::Result {
        f.write_str(self.opcode.mnemonic())?;
        match self.opcode.modifiers() {
            ModifierMeaning::SetFlags if self.modifiers[0] => f.write_str("!")?,
            ModifierMeaning::SetFlagsAndSwap => {
                if self.modifiers[1] {
                    f.write_str(".s")?;
                }
                if self.modifiers[0] {
                    f.write_str("!")?;
                }
            }
            ModifierMeaning::Swap if self.modifiers[0] => f.write_str(".s")?,
            ModifierMeaning::Increment if self.modifiers[0] => f.write_str(".inc")?,
            ModifierMeaning::ToLabel if self.modifiers[0] => f.write_str(".to_label")?,
            ModifierMeaning::First if self.modifiers[0] => f.write_str(".first")?,
            ModifierMeaning::StaticAndShard => {
                if self.modifiers[0] {
                    f.write_str(".static")?;
                }
                if self.modifiers[1] {
                    f.write_str(".shard")?;
                }
            }
            _ => {}
        }
        f.write_str(self.condition.suffix())
    }
}

/// Disassembly in the spirit of the EraVM assembly zksolc prints. It names every field the
/// encoding carries, including those an opcode ignores, so that two different words never
/// print the same (the dst1 register matters: most opcodes clear it).
impl fmt::Display for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::opcode::Family;
        self.write_name(f)?;
        f.write_str(" ")?;
        match self.opcode.family() {
            Family::NearCall => {
                write!(f, "r{}, @{}, @{}", self.src0, self.imm0, self.imm1)?;
            }
            Family::Ret => {
                write!(f, "r{}", self.src0)?;
                if self.modifiers[0] {
                    write!(f, ", @{}", self.imm0)?;
                }
            }
            Family::Jump => {
                src_operand(f, self)?;
                f.write_str(", ")?;
                reg(f, self.dst0)?;
            }
            _ => {
                src_operand(f, self)?;
                write!(f, ", r{}, ", self.src1)?;
                dst_operand(f, self)?;
                write!(f, ", r{}", self.dst1)?;
                if !matches!(self.src0_mode, SrcMode::Imm) && self.imm0 != 0 {
                    write!(f, " ; imm0={}", self.imm0)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_variants_sit_where_the_constants_say() {
        assert_eq!(
            variant_index(&Instruction::nop().variant()),
            Some(NOP_VARIANT_INDEX)
        );
        assert_eq!(
            variant_index(&Instruction::panic().variant()),
            Some(PANIC_VARIANT_INDEX)
        );
    }

    #[test]
    fn the_table_defines_1104_variants() {
        let defined = VARIANT_TABLE
            .iter()
            .rposition(|v| v.opcode != Opcode::Invalid);
        assert_eq!(defined, Some(1103));
    }
}
