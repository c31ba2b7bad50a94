//! `near_call`: a call inside the same contract, with its own ergs and exception handler.

use super::{clear_dst1, HandlerResult};
use crate::decoder::Predecoded;
use crate::vm::Vm;

/// Its only operand is a register (no addressing modes), read directly.
pub(super) fn near_call(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    let ins = &d.ins;
    vm.flags = 0;
    // The low 32 bits of the operand say how many ergs to pass; 0 (or more than there
    // are) passes them all. Erasing a pointer's metadata would keep these bits, so the
    // tag does not matter.
    let requested = vm.registers.value(ins.src0).0[0] as u32;
    let caller = &mut vm.stack.current;
    let available = caller.ergs;
    let passed = if requested == 0 || requested > available {
        available
    } else {
        requested
    };
    caller.ergs = available - passed;
    #[cfg(feature = "fault-injection")]
    if crate::faults::is_active(crate::faults::Fault::NearCallSavesCallerErgsOffByOne) {
        caller.ergs = caller.ergs.wrapping_add(1);
    }
    caller.pc = caller.pc.wrapping_add(1);
    let callee = vm.stack.push_near();
    callee.pc = ins.imm0;
    callee.exception_handler = ins.imm1;
    callee.ergs = passed;
    callee.is_local = true;
    callee.total_pubdata_spent = 0;
    vm.note_push();
    vm.world.start_frame();
    clear_dst1(vm, ins);
    Ok(())
}
