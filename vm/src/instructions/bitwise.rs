//! `and`, `or`, `xor`, and the shifts and rotations.

use primitive_types::U256;

use super::{clear_dst1, sources, write_result, HandlerResult};
use crate::decoder::Predecoded;
use crate::opcode::Opcode;
use crate::state::Flags;
use crate::vm::Vm;

pub(super) fn logic<const MODE: u8>(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    let (a, b, slot) = sources::<MODE, false>(vm, d);
    let result = match d.ins.opcode {
        Opcode::Xor => a ^ b,
        Opcode::And => a & b,
        _ => a | b,
    };
    done::<MODE>(vm, d, slot, result);
    Ok(())
}

pub(super) fn shift<const MODE: u8, const SWAP: bool>(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    let (a, b, slot) = sources::<MODE, SWAP>(vm, d);
    // Shifts take the amount from the low byte of the second operand, so 256 is 0.
    let shift = (b.0[0] as u8) as usize;
    let result = match d.ins.opcode {
        Opcode::Shl => a << shift,
        Opcode::Shr => a >> shift,
        Opcode::Rol => (a << shift) | (a >> (256 - shift)),
        _ => (a >> shift) | (a << (256 - shift)),
    };
    done::<MODE>(vm, d, slot, result);
    Ok(())
}

#[inline(always)]
fn done<const MODE: u8>(vm: &mut Vm, d: &Predecoded, slot: Option<u16>, result: U256) {
    if d.set_flags {
        vm.flags = Flags {
            lt_of: false,
            eq: result.is_zero(),
            gt: false,
        }
        .bits();
    }
    write_result::<MODE>(vm, &d.ins, slot, result);
    clear_dst1(vm, &d.ins);
    vm.advance_pc();
}
