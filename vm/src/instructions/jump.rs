//! `jump`: to the low 16 bits of the operand, leaving the return address in dst0.

use primitive_types::U256;

use super::{clear_dst1, sources, write_result, HandlerResult};
use crate::decoder::Predecoded;
use crate::vm::Vm;

pub(super) fn jump<const MODE: u8>(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    let (target, _, slot) = sources::<MODE, false>(vm, d);
    let frame = &mut vm.stack.current;
    let return_address = frame.pc.wrapping_add(1);
    frame.pc = target.0[0] as u16;
    write_result::<MODE>(vm, &d.ins, slot, U256::from(return_address));
    clear_dst1(vm, &d.ins);
    Ok(())
}
