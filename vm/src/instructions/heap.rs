//! Heap, aux heap and static memory reads and writes, and reads through fat pointers.
//!
//! Offsets are in bytes; a 32-byte access at an unaligned offset touches two words. Growing a
//! heap past its bound costs one erg per byte.

use primitive_types::U256;

use super::{clear_dst1, operands, HandlerResult, Operands};
use crate::decoder::{Instruction, Predecoded};
use crate::fat_pointer::FatPointer;
use crate::panic::PanicReason;
use crate::state::{PageId, TaggedWord};
use crate::vm::{Vm, BOOTLOADER_BASE_PAGE, STATIC_MEMORY_PAGE};

/// The largest heap offset a 32-byte access may start at.
const MAX_HEAP_OFFSET: u32 = u32::MAX - 32;

/// What an access reaches, as a const generic of its handler.
const HEAP: u8 = 0;
const AUX_HEAP: u8 = 1;
const STATIC: u8 = 2;
const POINTER: u8 = 3;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Heap,
    AuxHeap,
    Static,
    Pointer,
}

/// The handler of each heap access opcode, by source mode (a register or an immediate).
pub(super) fn heap_read<const MODE: u8>(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    access::<MODE, HEAP, false>(vm, d)
}
pub(super) fn heap_write<const MODE: u8>(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    access::<MODE, HEAP, true>(vm, d)
}
pub(super) fn aux_heap_read<const MODE: u8>(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    access::<MODE, AUX_HEAP, false>(vm, d)
}
pub(super) fn aux_heap_write<const MODE: u8>(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    access::<MODE, AUX_HEAP, true>(vm, d)
}
pub(super) fn static_read<const MODE: u8>(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    access::<MODE, STATIC, false>(vm, d)
}
pub(super) fn static_write<const MODE: u8>(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    access::<MODE, STATIC, true>(vm, d)
}
pub(super) fn pointer_read<const MODE: u8>(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    access::<MODE, POINTER, false>(vm, d)
}

/// Heap accesses take a register or an immediate as the address (and a pointer there).
#[inline(always)]
fn access<const MODE: u8, const TARGET: u8, const WRITE: bool>(
    vm: &mut Vm,
    d: &Predecoded,
) -> HandlerResult {
    let ins = &d.ins;
    let ops = operands::<MODE>(vm, d, true);
    if TARGET == HEAP && WRITE && vm.stack.current.base_page == BOOTLOADER_BASE_PAGE {
        vm.check_for_hook(&ops);
    }
    let target = match TARGET {
        HEAP => Target::Heap,
        AUX_HEAP => Target::AuxHeap,
        STATIC => Target::Static,
        _ => Target::Pointer,
    };
    if !execute(vm, ins, &ops, target, WRITE) {
        clear_dst1(vm, ins);
    }
    Ok(())
}

/// Returns whether dst1 was written (the advanced pointer of a read with increment).
#[inline(always)]
fn execute(vm: &mut Vm, ins: &Instruction, ops: &Operands, target: Target, is_write: bool) -> bool {
    vm.stack.current.pc = ops.new_pc;
    let address = ops.src0;
    let mut pointer = FatPointer::from_u256(&address.value);
    let mut fault = false;
    // An access that reads nothing: out-of-range pointers read zeros, faults touch nothing.
    let mut skip_access = false;

    let frame = &mut vm.stack.current;
    let start = match target {
        Target::Pointer => {
            if !address.is_pointer {
                fault = true;
            }
            if !pointer.offset_in_bounds() {
                skip_access = true;
            }
            pointer.start.wrapping_add(pointer.offset)
        }
        _ => {
            pointer.page = match target {
                Target::Heap => frame.base_page.heap().0,
                Target::AuxHeap => frame.base_page.aux_heap().0,
                _ => STATIC_MEMORY_PAGE.0,
            };
            // The whole operand is the offset, so anything past 32 bits is out of range.
            let limbs = address.value.0;
            if limbs[1] | limbs[2] | limbs[3] != 0 || limbs[0] > MAX_HEAP_OFFSET as u64 {
                fault = true;
                skip_access = true;
            }
            pointer.offset
        }
    };
    let beyond_range = fault && target != Target::Pointer;
    let (end, end_overflows) = pointer.offset.overflowing_add(32);
    if end_overflows {
        fault = true;
    }

    if matches!(target, Target::Heap | Target::AuxHeap) {
        let bound = if target == Target::Heap {
            &mut frame.heap_bound
        } else {
            &mut frame.aux_heap_bound
        };
        let growth = if beyond_range {
            u32::MAX
        } else {
            end.saturating_sub(*bound)
        };
        #[cfg(feature = "fault-injection")]
        let growth = if crate::faults::is_active(crate::faults::Fault::FreeHeapGrowth) {
            0
        } else {
            growth
        };
        match frame.ergs.checked_sub(growth) {
            Some(left) => {
                frame.ergs = left;
                if end > *bound {
                    *bound = end;
                }
            }
            None => {
                frame.ergs = 0;
                fault = true;
            }
        }
    }
    let skip_access = skip_access || fault;

    let page = PageId(pointer.page);
    let word0 = start / 32;
    let shift = start % 32;
    let read = |vm: &Vm, index: u32| -> U256 {
        if skip_access {
            U256::zero()
        } else {
            vm.memory.read(page, index).value
        }
    };

    if !is_write {
        // An aligned access reads one word; an unaligned one joins the tail of one word
        // and the head of the next.
        let mut value = if shift == 0 {
            read(vm, word0)
        } else {
            read_across(&read(vm, word0), &read(vm, word0 + 1), shift as usize)
        };
        if target == Target::Pointer {
            // Bytes past the end of the slice read as zero.
            let past_end = match end.checked_sub(pointer.length) {
                Some(past) if !skip_access => past % 32,
                _ => 0,
            };
            if past_end != 0 {
                let past_bits = (past_end * 8) as usize;
                value = (value >> past_bits) << past_bits;
            }
        }
        if fault {
            vm.set_pending_panic(fault_reason(target, &address, end_overflows));
            return false;
        }
        vm.write_dst0(ins, ops, TaggedWord::integer(value));
        if ins.first_modifier() {
            let advanced = with_offset(&address.value, end);
            vm.registers.set(
                ins.dst1,
                TaggedWord {
                    value: advanced,
                    is_pointer: address.is_pointer,
                },
            );
            return true;
        }
    } else {
        let value = ops.src1.value;
        if !skip_access {
            if shift == 0 {
                vm.write_memory(page, word0, TaggedWord::integer(value));
            } else {
                let (first, second) = (read(vm, word0), read(vm, word0 + 1));
                let (new_first, new_second) = write_across(&first, &second, shift as usize, &value);
                vm.write_memory(page, word0, TaggedWord::integer(new_first));
                vm.write_memory(page, word0 + 1, TaggedWord::integer(new_second));
            }
        }
        if fault {
            vm.set_pending_panic(fault_reason(target, &address, end_overflows));
            return false;
        }
        if ins.first_modifier() {
            let advanced = with_offset(&address.value, end);
            vm.write_dst0(ins, ops, TaggedWord::integer(advanced));
        }
    }
    false
}

/// The 32 bytes from byte `shift` (below 32) of two consecutive big-endian words. Done on
/// bytes: cheaper than the 256-bit shifts, which loop over limbs.
#[inline(always)]
fn read_across(first: &U256, second: &U256, shift: usize) -> U256 {
    let bytes = join(first, second);
    from_be(&bytes[shift..shift + 32])
}

/// Two consecutive words with their 32 bytes from byte `shift` (below 32) replaced by
/// `value`.
#[inline(always)]
fn write_across(first: &U256, second: &U256, shift: usize, value: &U256) -> (U256, U256) {
    let mut bytes = join(first, second);
    value.to_big_endian(&mut bytes[shift..shift + 32]);
    (from_be(&bytes[..32]), from_be(&bytes[32..]))
}

/// A word from 32 big-endian bytes (`U256::from_big_endian` pads and loops; this is a
/// handful of loads).
#[inline(always)]
fn from_be(bytes: &[u8]) -> U256 {
    let limb = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[24 - 8 * i..32 - 8 * i]);
        u64::from_be_bytes(b)
    };
    U256([limb(0), limb(1), limb(2), limb(3)])
}

#[inline(always)]
fn join(first: &U256, second: &U256) -> [u8; 64] {
    let mut bytes = [0u8; 64];
    first.to_big_endian(&mut bytes[..32]);
    second.to_big_endian(&mut bytes[32..]);
    bytes
}

/// The operand with its low 32 bits (the offset) replaced.
fn with_offset(word: &U256, offset: u32) -> U256 {
    let mut advanced = *word;
    advanced.0[0] = (advanced.0[0] & 0xffff_ffff_0000_0000) | offset as u64;
    advanced
}

/// Why a heap access faulted, worked out again off the hot path: a pointer read from an
/// integer, an offset out of range, else the growth it could not pay for.
#[cold]
fn fault_reason(target: Target, address: &TaggedWord, end_overflows: bool) -> PanicReason {
    let limbs = address.value.0;
    let offset_out_of_range =
        limbs[1] | limbs[2] | limbs[3] != 0 || limbs[0] > MAX_HEAP_OFFSET as u64;
    if target == Target::Pointer && !address.is_pointer {
        PanicReason::ReadFromInteger
    } else if (target != Target::Pointer && offset_out_of_range) || end_overflows {
        PanicReason::HeapOffsetOutOfRange
    } else {
        PanicReason::HeapGrowthOutOfErgs
    }
}
