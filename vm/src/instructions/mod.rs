//! The instructions, one module per opcode family. Each takes the resolved operands and
//! changes the VM; faults found during execution set a pending panic for the next cycle.

mod arith;
mod bitwise;
mod context;
mod far_call;
mod heap;
mod jump;
mod log;
mod near_call;
mod ptr;
mod ret;

use crate::decoder::Instruction;
use crate::opcode::Family;
use crate::state::TaggedWord;
use crate::vm::{Vm, VmError};

/// Where a memory operand lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StackSlot {
    Stack(u16),
    Code(u16),
}

/// The operands of one instruction, resolved before it runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Operands {
    pub src0: TaggedWord,
    pub src1: TaggedWord,
    /// The stack slot dst0 goes to, if it is not a register.
    pub dst0_slot: Option<u16>,
    /// The address of the next instruction.
    pub new_pc: u16,
}

pub(crate) fn execute(
    vm: &mut Vm,
    ins: &Instruction,
    ops: Operands,
    is_kernel: bool,
) -> Result<(), VmError> {
    match ins.opcode.family() {
        // The nop only moves PC; its operand addressing already moved SP.
        Family::Nop => vm.stack.current.pc = ops.new_pc,
        Family::Add | Family::Sub | Family::Mul | Family::Div => arith::execute(vm, ins, ops),
        Family::Binop | Family::Shift => bitwise::execute(vm, ins, ops),
        Family::Jump => jump::execute(vm, ins, ops),
        Family::Ptr => ptr::execute(vm, ins, ops),
        Family::Context => context::execute(vm, ins, ops, is_kernel),
        Family::NearCall => near_call::execute(vm, ins, ops),
        Family::Ret => ret::execute(vm, ins, ops),
        Family::HeapAccess => heap::execute(vm, ins, ops),
        Family::Log => log::execute(vm, ins, ops)?,
        Family::FarCall => far_call::execute(vm, ins, ops, is_kernel)?,
        // The invalid opcode never executes: the checks before execution turn it into a panic.
        Family::Invalid => unreachable!("invalid opcodes are replaced before execution"),
    }
    Ok(())
}
