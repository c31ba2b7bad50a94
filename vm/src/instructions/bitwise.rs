//! `and`, `or`, `xor`, and the shifts and rotations.

use super::Operands;
use crate::decoder::Instruction;
use crate::opcode::Opcode;
use crate::state::{Flags, TaggedWord};
use crate::vm::Vm;

pub(super) fn execute(vm: &mut Vm, ins: &Instruction, ops: Operands) {
    vm.stack.current.pc = ops.new_pc;
    let (a, b) = (ops.src0.value, ops.src1.value);
    // Shifts take the amount from the low byte of the second operand, so 256 is 0.
    let shift = (b.0[0] as u8) as usize;
    let result = match ins.opcode {
        Opcode::Xor => a ^ b,
        Opcode::And => a & b,
        Opcode::Or => a | b,
        Opcode::Shl => a << shift,
        Opcode::Shr => a >> shift,
        Opcode::Rol => (a << shift) | (a >> (256 - shift)),
        Opcode::Ror => (a >> shift) | (a << (256 - shift)),
        _ => unreachable!("not a bitwise opcode"),
    };
    if ins.set_flags() {
        vm.flags = Flags {
            lt_of: false,
            eq: result.is_zero(),
            gt: false,
        };
    }
    vm.write_dst0(ins, &ops, TaggedWord::integer(result));
}
