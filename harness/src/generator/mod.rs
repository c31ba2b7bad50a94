//! A structure-aware generator of cases, driven by bytes (`arbitrary`) so that the same code
//! serves libFuzzer, proptest and seeded campaigns.
//!
//! Programs are made of valid instruction words with weighted opcodes, every addressing mode
//! and predicate, values biased to edges (0, 1, 2^k±1, all ones, heap bounds, valid and
//! broken fat pointers), and jump and call targets mostly inside the program so that runs go
//! past their first few instructions.

use arbitrary::{Result, Unstructured};
use eravm::opcode::{Family, ModifierMeaning};
use eravm::{Condition, DstMode, FatPointer, Instruction, Opcode, SrcMode, U256};

use crate::case::{
    Address, Bytes, Case, FrameSettings, InitialFlags, RegisterValue, Word, CASE_FORMAT_VERSION,
};

/// The opcodes a single-frame program may use (far calls and world access come later).
pub const GENERATED_FAMILIES: [Family; 13] = [
    Family::Nop,
    Family::Add,
    Family::Sub,
    Family::Mul,
    Family::Div,
    Family::Jump,
    Family::Binop,
    Family::Shift,
    Family::Ptr,
    Family::NearCall,
    Family::Context,
    Family::Ret,
    Family::HeapAccess,
];

/// Generator knobs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Shortest generated program, in instructions.
    pub min_instructions: usize,
    /// Longest generated program, in instructions.
    pub max_instructions: usize,
    /// The cases' cap on cycles.
    pub max_cycles: u64,
    /// The contracts of real batches (the realbatches target needs them).
    pub bundle: Option<std::sync::Arc<crate::contracts::Bundle>>,
    /// Real batches may keep legacy transactions signed without a chain id. `--node` turns
    /// this off: zksync-era's operators crash on them (a known finding,
    /// `corpus/trophies/node/`), which would leave a third of the batches uncompared by
    /// the node. The generator reads the same bytes either way.
    pub pre_eip155_legacy: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            min_instructions: 1,
            max_instructions: 48,
            max_cycles: 4_000,
            bundle: None,
            pre_eip155_legacy: true,
        }
    }
}

/// Picks an index with the given weights.
pub(crate) fn pick(u: &mut Unstructured, weights: &[u32]) -> Result<usize> {
    let total: u32 = weights.iter().sum();
    let mut at = u.int_in_range(0..=total - 1)?;
    for (i, &w) in weights.iter().enumerate() {
        if at < w {
            return Ok(i);
        }
        at -= w;
    }
    Ok(0)
}

pub(crate) fn weighted<T: Copy>(u: &mut Unstructured, choices: &[(u32, T)]) -> Result<T> {
    let total: u32 = choices.iter().map(|(w, _)| w).sum();
    let mut pick = u.int_in_range(0..=total - 1)?;
    for &(w, v) in choices {
        if pick < w {
            return Ok(v);
        }
        pick -= w;
    }
    Ok(choices[0].1)
}

/// A case from bytes.
pub fn generate(u: &mut Unstructured, settings: &Settings) -> Result<Case> {
    let frame = frame_settings(u)?;
    let ergs = ergs(u)?;
    let calldata = if u.ratio(3, 4)? {
        let len = weighted(u, &[(3, 0usize), (6, 32), (4, 64), (3, 100), (2, 300)])?;
        let len = u.int_in_range(0..=len)?;
        (0..len)
            .map(|_| u.arbitrary::<u8>())
            .collect::<Result<Vec<u8>>>()?
    } else {
        Vec::new()
    };
    let mut registers = Vec::new();
    if !calldata.is_empty() || u.ratio(1, 2)? {
        let pointer = FatPointer {
            offset: 0,
            page: eravm::BOOTLOADER_CALLDATA_PAGE.0,
            start: 0,
            length: calldata.len() as u32,
        };
        registers.push(RegisterValue {
            index: 1,
            value: Word(pointer.to_u256()),
            pointer: true,
        });
    }
    for index in 2..=15u8 {
        if u.ratio(2, 3)? {
            let (value, pointer) = register_value(u)?;
            registers.push(RegisterValue {
                index,
                value: Word(value),
                pointer,
            });
        }
    }
    let regs = RegisterKinds::of(&registers);

    let max = settings.max_instructions.max(1);
    let n = u.int_in_range(settings.min_instructions.clamp(1, max)..=max)?;
    let constants = u.int_in_range(0..=3usize)?;
    let with_ret = u.ratio(4, 5)?;
    let code_words = (n + with_ret as usize).div_ceil(4);
    let mut program = Vec::with_capacity(n + 1);
    for _ in 0..n {
        program.push(instruction(u, &regs, n, code_words, constants)?);
    }
    if with_ret {
        let opcode = weighted(
            u,
            &[
                (6, Opcode::RetOk),
                (2, Opcode::RetRevert),
                (1, Opcode::RetPanic),
            ],
        )?;
        let mut ret = Instruction::new(opcode);
        ret.src0 = match pick(u, &[5, 3, 2])? {
            0 => 0,
            1 => 1,
            _ => u.int_in_range(2..=15)?,
        };
        program.push(ret.encode().expect("ret encodes"));
    }
    let mut code = pack(&program);
    for _ in 0..constants {
        code.push(Word(runnable_constant(value(u)?)));
    }
    let max_cycles = match pick(u, &[12, 1])? {
        0 => settings.max_cycles,
        _ => u.int_in_range(1..=64u64)?,
    };
    // Drawn last, so that the cases of a seed stay as they were before flags existed up to
    // here. One case in four starts with some flags set (any of the seven combinations).
    let flags = if u.ratio(1, 4)? {
        let bits = u.int_in_range(1..=7u8)?;
        InitialFlags {
            lt: bits & 1 != 0,
            eq: bits & 2 != 0,
            gt: bits & 4 != 0,
        }
    } else {
        InitialFlags::default()
    };
    Ok(Case {
        version: CASE_FORMAT_VERSION,
        code,
        ergs,
        registers,
        calldata: Bytes(calldata),
        frame,
        max_cycles,
        flags,
        note: String::new(),
        world: None,
        start: None,
        batch: None,
    })
}

/// Programs can jump or fall into their constants; keep every instruction those words
/// decode to within the families under test (others become the invalid opcode).
fn runnable_constant(mut word: U256) -> U256 {
    for limb in word.0.iter_mut() {
        let decoded = Instruction::decode(*limb);
        if !GENERATED_FAMILIES.contains(&decoded.opcode.family()) {
            *limb |= 0x7ff;
        }
    }
    word
}

/// Packs instruction words four to a code word, first instruction in the high bytes.
pub fn pack(program: &[u64]) -> Vec<Word> {
    program
        .chunks(4)
        .map(|chunk| {
            let mut limbs = [0u64; 4];
            for (i, &raw) in chunk.iter().enumerate() {
                limbs[3 - i] = raw;
            }
            Word(U256(limbs))
        })
        .collect()
}

/// The case for iteration `iteration` of an `opcodes` campaign with seed `seed`: the same
/// pair always gives the same case.
pub fn generate_seeded(seed: u64, iteration: u64, settings: &Settings) -> Case {
    generate_seeded_for(Target::Opcodes, seed, iteration, settings)
}

/// What a generator makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
pub enum Target {
    /// Single-frame programs: every instruction that runs inside one far frame.
    Opcodes,
    /// Worlds of contracts calling each other: far calls, storage, events, rollbacks.
    Calls,
    /// `log.precompile` on valid and broken inputs, from a frame at a precompile address.
    Precompiles,
    /// Our bootloader run by the operator over transactions to a generated world.
    Batches,
    /// The production bootloader and system contracts over signed transactions (needs a
    /// bundle: `--contracts` or `ERADIFF_CONTRACTS`).
    Realbatches,
    /// One to three instructions of any variant from a state built directly: deep call
    /// stacks, journals to roll back, memory at its bounds, pointers of every kind.
    Instructions,
}

impl Target {
    /// A case from bytes.
    pub fn generate(self, u: &mut Unstructured, settings: &Settings) -> Result<Case> {
        match self {
            Target::Opcodes => generate(u, settings),
            Target::Calls => calls::generate(u, settings),
            Target::Precompiles => precompiles::generate(u, settings),
            Target::Batches => batches::generate(u, settings),
            Target::Realbatches => realbatches::generate(u, settings),
            Target::Instructions => instructions::generate(u, settings),
        }
    }
}

/// The case for iteration `iteration` of a campaign on `target` with seed `seed`.
///
/// The generators read their input bytes from the front, and most cases need a few
/// kilobytes of them, so a short prefix of the stream is tried first; only a case that used
/// it up is generated again from the whole stream. Either way the case is the one the whole
/// stream gives.
pub fn generate_seeded_for(target: Target, seed: u64, iteration: u64, settings: &Settings) -> Case {
    generate_from_prefix(target, seed, iteration, settings, 4 * 1024)
}

const FULL_STREAM: usize = 32 * 1024;

fn generate_from_prefix(
    target: Target,
    seed: u64,
    iteration: u64,
    settings: &Settings,
    prefix: usize,
) -> Case {
    let mut bytes = seeded_bytes(seed, iteration, prefix);
    let mut u = Unstructured::new(&bytes);
    if let Ok(case) = target.generate(&mut u, settings) {
        if !u.is_empty() {
            return case;
        }
    }
    bytes = seeded_bytes(seed, iteration, FULL_STREAM);
    target
        .generate(&mut Unstructured::new(&bytes), settings)
        .expect("generation from a full buffer cannot fail")
}

/// The first `len` bytes of the input stream of one iteration. SplitMix64: the bytes only
/// need to look random to the generator, and making them must cost little beside running
/// two VMs (a cryptographic stream of a fixed 32 KiB took 6 % of a campaign).
fn seeded_bytes(seed: u64, iteration: u64, len: usize) -> Vec<u8> {
    let mut state = seed ^ iteration.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut bytes = vec![0u8; len];
    for chunk in bytes.chunks_exact_mut(8) {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    bytes
}

pub(crate) fn frame_settings(u: &mut Unstructured) -> Result<FrameSettings> {
    let mut frame = FrameSettings::default();
    if u.ratio(3, 5)? {
        return Ok(frame);
    }
    let bound = |u: &mut Unstructured| -> Result<u32> {
        Ok(match pick(u, &[4, 2, 1, 1, 2, 1])? {
            0 => u32::MAX,
            1 => 0,
            2 => 32,
            3 => 1024,
            4 => u.int_in_range(0..=4096)?,
            _ => u.arbitrary()?,
        })
    };
    frame.heap_bound = bound(u)?;
    frame.aux_heap_bound = bound(u)?;
    frame.is_static = u.ratio(1, 6)?;
    frame.address = match weighted(u, &[(6, 0u8), (3, 1), (1, 2)])? {
        0 => frame.address,
        1 => Address(eravm::H160::from_low_u64_be(
            0x1_0000 + u.int_in_range(0..=0xffff_ffffu64)?,
        )),
        _ => Address(eravm::H160::from_low_u64_be(u.int_in_range(1..=0xffffu64)?)),
    };
    if u.ratio(1, 3)? {
        frame.caller = Address(eravm::H160::from_low_u64_be(u.arbitrary()?));
    }
    if u.ratio(1, 3)? {
        frame.context_u128 = Word(U256::from(u.arbitrary::<u128>()?));
    }
    Ok(frame)
}

pub(crate) fn ergs(u: &mut Unstructured) -> Result<u32> {
    Ok(match pick(u, &[2, 3, 10, 2, 1])? {
        0 => u.int_in_range(0..=64)?,
        1 => u.int_in_range(64..=5_000)?,
        2 => u.int_in_range(5_000..=10_000_000)?,
        3 => u32::MAX,
        _ => u32::MAX - u.int_in_range(0..=4096)?,
    })
}

/// A 256-bit value biased to the edges arithmetic gets wrong.
pub fn value(u: &mut Unstructured) -> Result<U256> {
    let k = *u.choose(&[
        1u32, 2, 8, 16, 31, 32, 33, 63, 64, 127, 128, 160, 192, 224, 255,
    ])?;
    let kind = u.int_in_range(0..=9u8)?;
    Ok(match kind {
        0 => U256::zero(),
        1 => U256::from(u.int_in_range(0..=64u64)?),
        2 => U256::one() << k,
        3 => (U256::one() << k) - 1,
        4 => (U256::one() << k) + 1,
        5 => U256::MAX - U256::from(u.int_in_range(0..=32u64)?),
        6 => U256::from(u.arbitrary::<u16>()?),
        7 => heap_offset(u)?,
        _ => U256(u.arbitrary::<[u64; 4]>()?),
    })
}

/// Offsets around what the heap instructions check: small, word edges, the 2^32 - 33 limit.
pub(crate) fn heap_offset(u: &mut Unstructured) -> Result<U256> {
    let limit = u32::MAX as u64 - 32;
    let base = *u.choose(&[0u64, 32, 1024, 4096, 0xffff, 1 << 24, limit, 1 << 32])?;
    let delta = u.int_in_range(0..=64u64)?;
    Ok(U256::from(if u.ratio(1, 2)? {
        base.saturating_sub(delta)
    } else {
        base + delta
    }))
}

fn register_value(u: &mut Unstructured) -> Result<(U256, bool)> {
    Ok(match pick(u, &[5, 7, 8])? {
        0 => (fat_pointer(u)?, u.ratio(9, 10)?),
        // Small values keep heap offsets, stack addresses and jump targets in range.
        1 => (
            match pick(u, &[3, 2])? {
                0 => U256::from(u.int_in_range(0..=4096u64)?),
                _ => heap_offset(u)?,
            },
            false,
        ),
        _ => (value(u)?, u.ratio(1, 20)?),
    })
}

/// A fat pointer word, valid or broken, into one of the pages a single frame can reach.
pub(crate) fn fat_pointer(u: &mut Unstructured) -> Result<U256> {
    let page = *u.choose(&[7u32, 8, 9, 10, 11, 1, 0, 2048, u32::MAX])?;
    let small = |u: &mut Unstructured| -> Result<u32> {
        Ok(match pick(u, &[3, 3, 2, 1, 1])? {
            0 => 0,
            1 => u.int_in_range(0..=96)?,
            2 => u.int_in_range(0..=4096)?,
            3 => u32::MAX - u.int_in_range(0..=64)?,
            _ => u.arbitrary()?,
        })
    };
    let pointer = FatPointer {
        offset: small(u)?,
        page,
        start: small(u)?,
        length: small(u)?,
    };
    let high = if u.ratio(1, 4)? {
        U256([0, 0, u.arbitrary()?, u.arbitrary()?])
    } else {
        U256::zero()
    };
    Ok(pointer.to_u256() | high)
}

/// What the generator knows of the initial registers, to pick operands that let programs run
/// on instead of faulting at once.
struct RegisterKinds {
    pointers: Vec<u8>,
    small: Vec<u8>,
}

impl RegisterKinds {
    fn of(registers: &[RegisterValue]) -> RegisterKinds {
        let mut kinds = RegisterKinds {
            pointers: Vec::new(),
            small: vec![0],
        };
        for r in registers {
            if r.pointer {
                kinds.pointers.push(r.index);
            } else if r.value.0 <= U256::from(u32::MAX - 32) {
                kinds.small.push(r.index);
            }
        }
        kinds
    }

    fn pointer(&self, u: &mut Unstructured) -> Result<u8> {
        if self.pointers.is_empty() || u.ratio(1, 5)? {
            register(u)
        } else {
            Ok(*u.choose(&self.pointers)?)
        }
    }

    fn small(&self, u: &mut Unstructured) -> Result<u8> {
        if u.ratio(1, 5)? {
            register(u)
        } else {
            Ok(*u.choose(&self.small)?)
        }
    }
}

pub(crate) fn register(u: &mut Unstructured) -> Result<u8> {
    Ok(match pick(u, &[2, 10, 3])? {
        0 => 0,
        1 => u.int_in_range(1..=6)?,
        _ => u.int_in_range(7..=15)?,
    })
}

fn opcode(u: &mut Unstructured) -> Result<Opcode> {
    let family = weighted(
        u,
        &[
            (3, Family::Nop),
            (5, Family::Add),
            (5, Family::Sub),
            (4, Family::Mul),
            (4, Family::Div),
            (4, Family::Jump),
            (6, Family::Binop),
            (8, Family::Shift),
            (6, Family::Ptr),
            (4, Family::NearCall),
            (8, Family::Context),
            (5, Family::Ret),
            (14, Family::HeapAccess),
        ],
    )?;
    let members: Vec<Opcode> = Opcode::ALL
        .into_iter()
        .filter(|o| o.family() == family)
        .collect();
    Ok(*u.choose(&members)?)
}

/// A program counter: usually inside the program, sometimes anywhere.
fn target(u: &mut Unstructured, n: usize) -> Result<u16> {
    Ok(match pick(u, &[12, 1, 1])? {
        0 => u.int_in_range(0..=n as u16)?,
        1 => u.arbitrary()?,
        _ => u16::MAX,
    })
}

pub(crate) fn imm(u: &mut Unstructured) -> Result<u16> {
    Ok(match pick(u, &[4, 2, 2])? {
        0 => u.int_in_range(0..=8)?,
        1 => *u.choose(&[31u16, 32, 33, 64, 0xffe0, 0xffff, 0x8000])?,
        _ => u.arbitrary()?,
    })
}

fn instruction(
    u: &mut Unstructured,
    regs: &RegisterKinds,
    n: usize,
    code_words: usize,
    constants: usize,
) -> Result<u64> {
    // Now and then a raw word: undecodable indices and odd field combinations.
    if u.ratio(1, 40)? {
        let raw: u64 = u.arbitrary()?;
        let decoded = Instruction::decode(raw);
        if GENERATED_FAMILIES.contains(&decoded.opcode.family())
            || decoded.opcode == Opcode::Invalid
        {
            return Ok(raw);
        }
        return Ok(raw | 0x7ff); // index 2047: invalid
    }
    let opcode = opcode(u)?;
    let mut ins = Instruction::new(opcode);
    ins.condition = if u.ratio(7, 10)? {
        Condition::Always
    } else {
        *u.choose(&Condition::ALL)?
    };
    let (src_modes, dst_modes): (&[SrcMode], &[DstMode]) = match opcode.family() {
        Family::Nop
        | Family::Add
        | Family::Sub
        | Family::Mul
        | Family::Div
        | Family::Binop
        | Family::Shift
        | Family::Ptr => (&SrcMode::ALL, &DstMode::ALL),
        Family::Jump => (&SrcMode::ALL, &[DstMode::Reg]),
        Family::HeapAccess if opcode != Opcode::FatPointerRead => {
            (&[SrcMode::Reg, SrcMode::Imm], &[DstMode::Reg])
        }
        _ => (&[SrcMode::Reg], &[DstMode::Reg]),
    };
    ins.src0_mode = if src_modes.len() > 1 && u.ratio(1, 2)? {
        SrcMode::Reg
    } else {
        *u.choose(src_modes)?
    };
    ins.dst0_mode = if dst_modes.len() > 1 && u.ratio(1, 2)? {
        DstMode::Reg
    } else {
        *u.choose(dst_modes)?
    };
    ins.modifiers = match opcode.modifiers() {
        ModifierMeaning::None => [false, false],
        ModifierMeaning::SetFlagsAndSwap | ModifierMeaning::StaticAndShard => {
            [u.arbitrary()?, u.arbitrary()?]
        }
        _ => [u.arbitrary()?, false],
    };
    (ins.src0, ins.src1) = match opcode.family() {
        Family::Ptr if ins.swap_operands() => (regs.small(u)?, regs.pointer(u)?),
        Family::Ptr => (regs.pointer(u)?, regs.small(u)?),
        Family::HeapAccess if opcode == Opcode::FatPointerRead => (regs.pointer(u)?, register(u)?),
        Family::HeapAccess | Family::Jump => (regs.small(u)?, register(u)?),
        _ => (register(u)?, register(u)?),
    };
    ins.dst0 = register(u)?;
    // Most opcodes clear the dst1 register; compilers leave it r0, fuzzing should not.
    ins.dst1 = if u.ratio(3, 4)? { 0 } else { register(u)? };
    ins.imm0 = imm(u)?;
    ins.imm1 = imm(u)?;
    match (opcode.family(), ins.src0_mode) {
        (Family::Jump, SrcMode::Imm) => {
            ins.imm0 = target(u, n)?;
        }
        (Family::NearCall, _) => {
            ins.imm0 = target(u, n)?;
            ins.imm1 = target(u, n)?;
        }
        (Family::Ret, _) => ins.imm0 = target(u, n)?,
        (_, SrcMode::CodePage) if constants > 0 && u.ratio(3, 4)? => {
            ins.src0 = 0;
            ins.imm0 = (code_words + u.int_in_range(0..=constants - 1)?) as u16;
        }
        (_, SrcMode::Imm) if opcode.family() == Family::HeapAccess => {
            ins.imm0 = *u.choose(&[0u16, 1, 31, 32, 33, 64, 1000, 0xffe0, 0xffff])?;
        }
        _ => {}
    }
    Ok(ins
        .encode()
        .expect("generated instructions are valid variants"))
}

pub mod batches;
pub mod calls;
pub mod instructions;
pub mod precompiles;
pub mod realbatches;

#[cfg(test)]
mod seeded_tests {
    use super::*;

    /// The short-prefix shortcut must not change which case an iteration gives, whether the
    /// prefix was enough (4 KiB, nearly always) or not (64 bytes, nearly never).
    #[test]
    fn a_seeded_case_is_the_one_the_whole_stream_gives() {
        let settings = Settings::default();
        for target in [
            Target::Opcodes,
            Target::Calls,
            Target::Precompiles,
            Target::Batches,
            Target::Instructions,
        ] {
            for iteration in 0..100 {
                let bytes = seeded_bytes(5, iteration, FULL_STREAM);
                let whole = target
                    .generate(&mut Unstructured::new(&bytes), &settings)
                    .unwrap()
                    .to_json();
                for prefix in [64, 4 * 1024] {
                    let staged = generate_from_prefix(target, 5, iteration, &settings, prefix);
                    assert_eq!(
                        staged.to_json(),
                        whole,
                        "{target:?} iteration {iteration}, prefix {prefix}"
                    );
                }
            }
        }
    }
}
