//! `near_call`: a call inside the same contract, with its own ergs and exception handler.

use super::Operands;
use crate::decoder::Instruction;
use crate::state::Flags;
use crate::vm::Vm;

pub(super) fn execute(vm: &mut Vm, ins: &Instruction, ops: &Operands) {
    vm.flags = Flags::default();
    // The low 32 bits of the operand say how many ergs to pass; 0 (or more than there
    // are) passes them all.
    let requested = ops.src0.value.0[0] as u32;
    let caller = &mut vm.stack.current;
    let available = caller.ergs;
    let passed = if requested == 0 || requested > available {
        available
    } else {
        requested
    };
    caller.ergs = available - passed;
    caller.pc = ops.new_pc;
    let callee = vm.stack.push_copy_of_current();
    callee.pc = ins.imm0;
    callee.exception_handler = ins.imm1;
    callee.ergs = passed;
    callee.is_local = true;
    callee.total_pubdata_spent = 0;
    vm.world.start_frame();
}
