//! The `instructions` target: one to three instructions of any variant, run from a state
//! built directly (`start`): a call stack of near and far frames, kernel and user, static,
//! with handlers and heap bounds small and large; words on every frame's pages, in and past
//! their bounds; pointers of every kind in registers and on the stack; a journal of storage
//! writes, transient writes, events and messages to roll back; warm slots; edge values of the
//! stack pointer, the ergs and the pubdata counter. Operands are drawn together, so that sums,
//! products, shifts and offsets land on their boundaries.

use std::sync::LazyLock;

use arbitrary::{Result, Unstructured};
use eravm::decoder::{Variant, VARIANT_TABLE};
use eravm::opcode::Family;
use eravm::{Condition, FatPointer, Instruction, Opcode, SrcMode, H160, U256};

use super::{fat_pointer, heap_offset, imm, pack, pick, value, weighted, Settings};
use crate::case::{Address, Bytes, Case, InitialFlags, RegisterValue, Word, CASE_FORMAT_VERSION};
use crate::start::{Change, FarFrame, MemoryWord, NearFrame, Page, Start, StartFrame};

/// Every variant of the table once (the index that encodes it), `Invalid` left out.
pub static VARIANTS: LazyLock<Vec<Variant>> = LazyLock::new(|| {
    VARIANT_TABLE
        .iter()
        .enumerate()
        .filter(|(i, v)| {
            v.opcode != Opcode::Invalid && eravm::decoder::variant_index(v) == Some(*i as u16)
        })
        .map(|(_, v)| *v)
        .collect()
});

/// Where the program's landing pads start: frames below resume there.
const PADS: usize = 4;

/// A case of the `instructions` target.
pub fn generate(u: &mut Unstructured, _settings: &Settings) -> Result<Case> {
    let mut frame = super::frame_settings(u)?;
    frame.heap_bound = bound(u)?;
    frame.aux_heap_bound = bound(u)?;
    let start = start_state(u, &frame)?;
    let n = u.int_in_range(1..=3usize)?;
    let mut program = Vec::with_capacity(PADS + 4);
    let mut operands = Vec::new();
    for _ in 0..n {
        let (raw, used) = instruction(u, PADS + 4)?;
        program.push(raw);
        operands.push(used);
    }
    while program.len() < PADS {
        program.push(ret(u)?);
    }
    // Landing pads for frames resuming below: a little work, then a way out.
    for _ in 0..4 {
        program.push(match pick(u, &[3, 2])? {
            0 => ret(u)?,
            _ => instruction(u, PADS + 4)?.0,
        });
    }
    let registers = registers(u, &operands, &frame)?;
    let flags = InitialFlags {
        lt: u.arbitrary()?,
        eq: u.arbitrary()?,
        gt: u.arbitrary()?,
    };
    let calldata = if u.ratio(1, 3)? {
        let len = u.int_in_range(0..=96usize)?;
        (0..len)
            .map(|_| u.arbitrary::<u8>())
            .collect::<Result<Vec<u8>>>()?
    } else {
        Vec::new()
    };
    Ok(Case {
        version: CASE_FORMAT_VERSION,
        code: pack(&program),
        ergs: super::ergs(u)?,
        registers,
        calldata: Bytes(calldata),
        frame,
        flags,
        max_cycles: u.int_in_range(1..=24u64)?,
        world: None,
        batch: None,
        start: Some(start),
        note: String::new(),
    })
}

/// Heap bounds: none paid, a few words, around a page, huge, and anything.
fn bound(u: &mut Unstructured) -> Result<u32> {
    Ok(match pick(u, &[2, 3, 3, 2, 1])? {
        0 => 0,
        1 => 32 * u.int_in_range(0..=8u32)? + u.int_in_range(0..=1u32)?,
        2 => 4096 + u.int_in_range(0..=64u32)? - 32,
        3 => u32::MAX - u.int_in_range(0..=64u32)?,
        _ => u.arbitrary()?,
    })
}

fn ret(u: &mut Unstructured) -> Result<u64> {
    let opcode = weighted(
        u,
        &[
            (5, Opcode::RetOk),
            (3, Opcode::RetRevert),
            (2, Opcode::RetPanic),
        ],
    )?;
    let mut ins = Instruction::new(opcode);
    ins.src0 = u.int_in_range(0..=3)?;
    // `ret.*.to_label`: near returns jump to imm0 instead of the caller's pc.
    if u.ratio(1, 4)? {
        ins.modifiers[0] = true;
        ins.imm0 = u.int_in_range(0..=(PADS + 3) as u16)?;
    }
    Ok(ins.encode().unwrap_or(0))
}

/// Registers an instruction reads (or writes): its operands are drawn together.
#[derive(Clone, Copy, Debug)]
struct Operands {
    src0: u8,
    src1: u8,
    family: Family,
}

/// A random variant with random operands; the registers it names are returned so that their
/// values can be drawn to fit.
fn instruction(u: &mut Unstructured, code_len: usize) -> Result<(u64, Operands)> {
    let variant = *u.choose(&VARIANTS)?;
    let mut ins = Instruction::of_variant(variant);
    ins.condition = if u.ratio(3, 4)? {
        Condition::Always
    } else {
        *u.choose(&Condition::ALL)?
    };
    // Low registers mostly: they hold the values drawn together.
    let reg = |u: &mut Unstructured| -> Result<u8> {
        Ok(match pick(u, &[1, 8, 2])? {
            0 => 0,
            1 => u.int_in_range(1..=4)?,
            _ => u.int_in_range(5..=15)?,
        })
    };
    ins.src0 = reg(u)?;
    ins.src1 = reg(u)?;
    ins.dst0 = reg(u)?;
    ins.dst1 = if u.ratio(2, 3)? { 0 } else { reg(u)? };
    ins.imm0 = imm(u)?;
    ins.imm1 = imm(u)?;
    match variant.opcode.family() {
        Family::Jump | Family::NearCall | Family::FarCall | Family::Ret => {
            ins.imm0 = u.int_in_range(0..=code_len as u16)?;
            ins.imm1 = u.int_in_range(0..=code_len as u16)?;
        }
        Family::HeapAccess if ins.src0_mode == SrcMode::Imm => {
            ins.imm0 = *u.choose(&[0u16, 1, 31, 32, 33, 64, 4064, 4065, 0xffe0, 0xffff])?;
        }
        _ => {}
    }
    let raw = ins.encode().unwrap_or(0);
    let operands = Operands {
        src0: ins.src0,
        src1: ins.src1,
        family: variant.opcode.family(),
    };
    Ok((raw, operands))
}

/// Values for r1..r15: first those the instructions read, drawn in pairs that put results on
/// their edges, then the rest.
fn registers(
    u: &mut Unstructured,
    operands: &[Operands],
    frame: &crate::case::FrameSettings,
) -> Result<Vec<RegisterValue>> {
    let mut values: [Option<(U256, bool)>; 16] = [None; 16];
    for op in operands {
        let (a, b) = joint(u, op.family, frame)?;
        for (r, v) in [(op.src0, a), (op.src1, b)] {
            if r != 0 && values[r as usize].is_none() {
                values[r as usize] = Some(v);
            }
        }
    }
    let mut registers = Vec::new();
    for index in 1..=15u8 {
        let v = match values[index as usize] {
            Some(v) => v,
            None if u.ratio(1, 2)? => single(u, frame)?,
            None => continue,
        };
        registers.push(RegisterValue {
            index,
            value: Word(v.0),
            pointer: v.1,
        });
    }
    Ok(registers)
}

/// One value: an edge integer or a pointer of some kind.
fn single(u: &mut Unstructured, frame: &crate::case::FrameSettings) -> Result<(U256, bool)> {
    Ok(match pick(u, &[3, 2, 1])? {
        0 => (value(u)?, false),
        1 => pointer(u, frame)?,
        _ => (heap_offset(u)?, false),
    })
}

/// Two operands drawn together for an instruction of `family`.
fn joint(
    u: &mut Unstructured,
    family: Family,
    frame: &crate::case::FrameSettings,
) -> Result<((U256, bool), (U256, bool))> {
    let int = |v: U256| (v, false);
    Ok(match family {
        Family::Add | Family::Sub => {
            let a = value(u)?;
            let b = match pick(u, &[2, 2, 1, 1])? {
                // a + b = 2^256 - 1, 2^256, 2^256 + 1.
                0 => {
                    (U256::MAX - a)
                        .overflowing_add(U256::from(pick(u, &[1, 1, 1])?))
                        .0
                }
                // a - b = 0, -1, 1.
                1 => a.overflowing_add(U256::from(pick(u, &[1, 1, 1])?)).0,
                2 => a.overflowing_sub(U256::one()).0,
                _ => value(u)?,
            };
            (int(a), int(b))
        }
        Family::Mul | Family::Div => {
            let k = *u.choose(&[1u32, 64, 127, 128, 129, 192, 255])?;
            let a = U256::one() << k;
            let a = match pick(u, &[1, 1, 1])? {
                0 => a,
                1 => a - 1,
                _ => a + 1,
            };
            let b = match pick(u, &[2, 1, 1])? {
                // a * b near 2^256: b = 2^(256-k) ± 1.
                0 => {
                    (U256::one() << (256 - k).min(255))
                        .overflowing_add(U256::from(pick(u, &[1, 1])?))
                        .0
                }
                1 => U256::zero(),
                _ => value(u)?,
            };
            (int(a), int(b))
        }
        Family::Shift => {
            let shift = *u.choose(&[0u64, 1, 128, 255, 256, 257, 511, 512, 0x1_0000])?;
            (int(value(u)?), int(U256::from(shift)))
        }
        Family::Ptr => {
            let p = pointer(u, frame)?;
            let delta = match pick(u, &[2, 2, 1])? {
                0 => U256::from(u.int_in_range(0..=64u64)?),
                1 => U256::from(u32::MAX - u.int_in_range(0..=64u32)?),
                _ => value(u)?,
            };
            (p, int(delta))
        }
        Family::HeapAccess => {
            // Offsets whose word ends at a bound (heap or aux heap, the instruction picks),
            // one byte past it, or at u32::MAX.
            let low = u64::from(frame.heap_bound.min(frame.aux_heap_bound));
            let high = u64::from(frame.heap_bound.max(frame.aux_heap_bound));
            let offset = match pick(u, &[2, 2, 1, 1])? {
                0 => low.saturating_sub(32) + u.int_in_range(0..=1u64)?,
                1 => high.saturating_sub(u.int_in_range(0..=33u64)?),
                2 => u32::MAX as u64 - u.int_in_range(0..=32u64)?,
                _ => return Ok((pointer(u, frame)?, int(value(u)?))),
            };
            (int(U256::from(offset)), int(value(u)?))
        }
        Family::FarCall | Family::Ret => (abi(u, frame)?, single(u, frame)?),
        _ => (single(u, frame)?, single(u, frame)?),
    })
}

/// A far call's or a far return's ABI word: a new slice of the heap or aux heap that ends at
/// the heap's bound, one byte past it or past 2^32, or a forwarded pointer, tagged or not.
fn abi(u: &mut Unstructured, frame: &crate::case::FrameSettings) -> Result<(U256, bool)> {
    // Byte 28 says where the slice comes from: 0 the heap, 1 a forwarded pointer, 2 the aux
    // heap, anything else the heap again; bytes 24..28 are the ergs a far call passes.
    let source = match pick(u, &[2, 2, 2, 1])? {
        3 => u.int_in_range(3..=255u64)?,
        s => s as u64,
    };
    let (word, tagged) = if source == 1 {
        pointer(u, frame)?
    } else {
        let bound = if source == 2 {
            frame.aux_heap_bound
        } else {
            frame.heap_bound
        };
        let length = u.int_in_range(0..=96u32)?;
        let offset = match pick(u, &[2, 2, 1, 1])? {
            0 => bound.saturating_sub(length),
            1 => bound.saturating_sub(length).saturating_add(1),
            // offset + length past 2^32 (if the slice is not empty).
            2 => u32::MAX - u.int_in_range(0..=length.saturating_sub(1))?,
            _ => u.arbitrary()?,
        };
        let slice = FatPointer {
            offset,
            page: 0,
            start: 0,
            length,
        };
        (slice.to_u256(), false)
    };
    let ergs = match pick(u, &[2, 1, 1])? {
        0 => u.int_in_range(0..=100_000u64)?,
        1 => u32::MAX as u64,
        _ => u.arbitrary::<u32>()? as u64,
    };
    let mut word = word;
    word.0[3] = ergs | source << 32;
    Ok((word, tagged))
}

/// A pointer of some kind: into the frame's heaps, the calldata, a frame below, the stack or
/// code page; valid, shrunk, with its offset past its length, at the bounds; tagged or not.
fn pointer(u: &mut Unstructured, frame: &crate::case::FrameSettings) -> Result<(U256, bool)> {
    if u.ratio(1, 4)? {
        return Ok((fat_pointer(u)?, u.arbitrary()?));
    }
    let page = *u.choose(&[10u32, 11, 7, 2050, 2051, 2058, 9, 8, 1])?;
    let bound = match page {
        10 => frame.heap_bound,
        11 => frame.aux_heap_bound,
        _ => 4096,
    };
    let start = match pick(u, &[3, 2, 1])? {
        0 => 0,
        1 => bound.saturating_sub(u.int_in_range(0..=64u32)?),
        _ => u.arbitrary()?,
    };
    let length = match pick(u, &[2, 2, 1])? {
        0 => bound.saturating_sub(start),
        1 => u.int_in_range(0..=64u32)?,
        _ => u.arbitrary()?,
    };
    let offset = match pick(u, &[3, 2, 1])? {
        0 => 0,
        // At the end, or one past it.
        1 => length.saturating_add(u.int_in_range(0..=1u32)?),
        _ => u.int_in_range(0..=length)?,
    };
    let p = FatPointer {
        offset,
        page,
        start,
        length,
    };
    Ok((p.to_u256(), u.ratio(7, 8)?))
}

/// A call stack below the running frame: none, shallow or deep, far and near frames mixed.
fn start_state(u: &mut Unstructured, frame: &crate::case::FrameSettings) -> Result<Start> {
    let depth = match pick(u, &[2, 6, 2, 1])? {
        0 => 0,
        1 => u.int_in_range(1..=3usize)?,
        2 => u.int_in_range(4..=16usize)?,
        _ => u.int_in_range(17..=200usize)?,
    };
    let mut below = Vec::with_capacity(depth);
    for i in 0..depth {
        // The bottom frame is far; above it, near frames now and then.
        below.push(if i > 0 && u.ratio(1, 3)? {
            StartFrame::Near(near_frame(u)?)
        } else {
            StartFrame::Far(far_frame(u, i)?)
        });
    }
    let near_callers = match pick(u, &[4, 2, 1])? {
        0 => Vec::new(),
        1 => vec![near_frame(u)?],
        _ => (0..u.int_in_range(2..=4)?)
            .map(|_| near_frame(u))
            .collect::<Result<_>>()?,
    };
    let mut start = Start {
        below,
        near_callers,
        memory: words(u, frame.heap_bound)?,
        changes: changes(u)?,
        pubdata_counter: 0,
        context_u128_register: Word(if u.ratio(1, 3)? {
            U256::from(u.arbitrary::<u128>()?)
        } else {
            U256::zero()
        }),
        sp: sp(u)?,
        exception_handler: resume_pc(u)?,
    };
    balance_pubdata(&mut start);
    Ok(start)
}

/// Keeps the frames' pubdata spending within the protocol's reach: summed from the bottom it
/// never falls below zero, and the VM's counter is the sum (see `Start::check`).
fn balance_pubdata(start: &mut Start) {
    let mut sum = 0i32;
    for spent in start.spending_mut() {
        *spent = (*spent).max(-sum);
        sum += *spent;
    }
    start.pubdata_counter = sum;
}

fn sp(u: &mut Unstructured) -> Result<u16> {
    Ok(match pick(u, &[3, 2, 2, 1])? {
        0 => u.int_in_range(0..=4)?,
        1 => u16::MAX - u.int_in_range(0..=2)?,
        2 => u.int_in_range(0..=64)?,
        _ => u.arbitrary()?,
    })
}

/// Where a frame below resumes or goes on failure: mostly a landing pad.
fn resume_pc(u: &mut Unstructured) -> Result<u16> {
    Ok(match pick(u, &[6, 1, 1])? {
        0 => u.int_in_range(PADS as u16..=(PADS + 3) as u16)?,
        1 => u.int_in_range(0..=PADS as u16)?,
        _ => u.arbitrary()?,
    })
}

fn frame_ergs(u: &mut Unstructured) -> Result<u32> {
    Ok(match pick(u, &[1, 3, 2, 1])? {
        0 => 0,
        1 => u.int_in_range(1..=10_000)?,
        2 => u.int_in_range(10_000..=10_000_000)?,
        _ => u32::MAX - u.int_in_range(0..=1 << 20)?,
    })
}

fn address(u: &mut Unstructured) -> Result<Address> {
    Ok(Address(H160::from_low_u64_be(match pick(u, &[2, 3, 1])? {
        0 => u.int_in_range(0x8001..=0x80ffu64)?,
        1 => 0x1_0000 + u.int_in_range(0..=0xffffu64)?,
        _ => u.arbitrary()?,
    })))
}

fn far_frame(u: &mut Unstructured, i: usize) -> Result<FarFrame> {
    let heap_bound = bound(u)?;
    Ok(FarFrame {
        address: address(u)?,
        caller: address(u)?,
        pc: resume_pc(u)?,
        sp: sp(u)?,
        exception_handler: resume_pc(u)?,
        ergs: frame_ergs(u)?,
        is_static: u.ratio(1, 5)?,
        heap_bound,
        aux_heap_bound: bound(u)?,
        context_u128: Word(if u.ratio(1, 4)? {
            U256::from(u.arbitrary::<u128>()?)
        } else {
            U256::zero()
        }),
        stipend: if u.ratio(1, 5)? { u.arbitrary()? } else { 0 },
        total_pubdata_spent: if u.ratio(1, 4)? {
            u.int_in_range(-64..=64)?
        } else {
            0
        },
        // Deep stacks carry memory and journals only near the top, to stay small.
        memory: if i < 8 || u.ratio(1, 8)? {
            words(u, heap_bound)?
        } else {
            Vec::new()
        },
        changes: if i < 8 || u.ratio(1, 8)? {
            changes(u)?
        } else {
            Vec::new()
        },
    })
}

fn near_frame(u: &mut Unstructured) -> Result<NearFrame> {
    Ok(NearFrame {
        pc: resume_pc(u)?,
        sp: sp(u)?,
        exception_handler: resume_pc(u)?,
        ergs: frame_ergs(u)?,
        total_pubdata_spent: if u.ratio(1, 4)? {
            u.int_in_range(-64..=64)?
        } else {
            0
        },
        changes: changes(u)?,
    })
}

/// Words inside and beyond a heap bound, and stack words (pointers among them).
fn words(u: &mut Unstructured, heap_bound: u32) -> Result<Vec<MemoryWord>> {
    let n = pick(u, &[3, 4, 2])? * u.int_in_range(1..=3usize)?;
    let mut words = Vec::with_capacity(n);
    for _ in 0..n {
        let page = weighted(u, &[(3, Page::Heap), (2, Page::AuxHeap), (3, Page::Stack)])?;
        let edge = (heap_bound / 32).min((1 << 27) - 2);
        let index = match (page, pick(u, &[3, 2, 1])?) {
            (Page::Stack, 0) => u.int_in_range(0..=8u32)?,
            (Page::Stack, 1) => u16::MAX as u32 - u.int_in_range(0..=2u32)?,
            (Page::Stack, _) => u.arbitrary::<u16>()? as u32,
            (_, 0) => u.int_in_range(0..=4u32)?,
            (_, 1) => edge + u.int_in_range(0..=1u32)?,
            _ => u.int_in_range(0..=(1 << 27) - 1)?,
        };
        let pointer = page == Page::Stack && u.ratio(1, 3)?;
        let value = if pointer { fat_pointer(u)? } else { value(u)? };
        words.push(MemoryWord {
            page,
            index,
            value: Word(value),
            pointer,
        });
    }
    Ok(words)
}

/// A frame's journal: reads, writes (to a few keys, so later writes meet them), transient
/// writes, events and messages.
fn changes(u: &mut Unstructured) -> Result<Vec<Change>> {
    let n = match pick(u, &[3, 3, 1])? {
        0 => 0,
        1 => u.int_in_range(1..=3usize)?,
        _ => u.int_in_range(4..=10usize)?,
    };
    let key = |u: &mut Unstructured| -> Result<Word> {
        Ok(Word(match pick(u, &[4, 1])? {
            0 => U256::from(u.int_in_range(0..=3u64)?),
            _ => value(u)?,
        }))
    };
    let mut changes = Vec::with_capacity(n);
    for _ in 0..n {
        let (k, v) = (key(u)?, Word(value(u)?));
        changes.push(match pick(u, &[2, 4, 2, 2, 1])? {
            0 => Change::Read { key: k },
            1 => Change::Write { key: k, value: v },
            2 => Change::TransientWrite { key: k, value: v },
            3 => Change::Event {
                key: k,
                value: v,
                first: u.arbitrary()?,
            },
            _ => Change::Message {
                key: k,
                value: v,
                first: u.arbitrary()?,
            },
        });
    }
    Ok(changes)
}
