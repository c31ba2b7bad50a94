//! `jump`: to the low 16 bits of the operand, leaving the return address in dst0.

use primitive_types::U256;

use super::Operands;
use crate::decoder::Instruction;
use crate::state::TaggedWord;
use crate::vm::Vm;

pub(super) fn execute(vm: &mut Vm, ins: &Instruction, ops: Operands) {
    vm.stack.current.pc = ops.src0.value.0[0] as u16;
    vm.write_dst0(ins, &ops, TaggedWord::integer(U256::from(ops.new_pc)));
}
