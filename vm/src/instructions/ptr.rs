//! `ptr.add`, `ptr.sub`, `ptr.pack`, `ptr.shrink`: arithmetic on fat pointers.

use primitive_types::U256;

use super::Operands;
use crate::decoder::Instruction;
use crate::fat_pointer::FatPointer;
use crate::opcode::Opcode;
use crate::panic::PanicReason;
use crate::state::TaggedWord;
use crate::vm::Vm;

/// `ptr.add` and `ptr.sub` refuse offsets of 2^32 and more rather than wrap.
const MAX_OFFSET_DELTA: U256 = U256([1 << 32, 0, 0, 0]);

pub(super) fn execute(vm: &mut Vm, ins: &Instruction, ops: &Operands) {
    vm.stack.current.pc = ops.new_pc;
    let (ptr, arg) = (ops.src0, ops.src1);
    if !ptr.is_pointer || arg.is_pointer {
        vm.set_pending_panic(PanicReason::PointerOperands);
        return;
    }
    let pointer = FatPointer::from_u256(&ptr.value);
    let result = match ins.opcode {
        Opcode::PtrAdd | Opcode::PtrSub => {
            if arg.value >= MAX_OFFSET_DELTA {
                vm.set_pending_panic(PanicReason::PointerOffsetOutOfRange);
                return;
            }
            let delta = arg.value.0[0] as u32;
            let moved = if ins.opcode == Opcode::PtrAdd {
                pointer.offset.checked_add(delta)
            } else {
                pointer.offset.checked_sub(delta)
            };
            let Some(offset) = moved else {
                vm.set_pending_panic(PanicReason::PointerOffsetOutOfRange);
                return;
            };
            FatPointer { offset, ..pointer }.into_word_keeping_high_bits(&ptr.value)
        }
        Opcode::PtrPack => {
            // The high half comes from the second operand, whose low half must be empty.
            if arg.value.low_u128() != 0 {
                vm.set_pending_panic(PanicReason::PointerPackLowBits);
                return;
            }
            U256([
                ptr.value.0[0],
                ptr.value.0[1],
                arg.value.0[2],
                arg.value.0[3],
            ])
        }
        Opcode::PtrShrink => {
            let Some(length) = pointer.length.checked_sub(arg.value.0[0] as u32) else {
                vm.set_pending_panic(PanicReason::PointerShrinkPastLength);
                return;
            };
            FatPointer { length, ..pointer }.into_word_keeping_high_bits(&ptr.value)
        }
        _ => unreachable!("not a pointer opcode"),
    };
    vm.write_dst0(ins, ops, TaggedWord::pointer(result));
}
