//! `add`, `sub`, `mul`, `div`.

use primitive_types::U256;

use super::{clear_dst1, sources, write_result, HandlerResult};
use crate::decoder::Predecoded;
use crate::state::Flags;
use crate::vm::Vm;

pub(super) fn add<const MODE: u8>(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    let (a, b, slot) = sources::<MODE, false>(vm, d);
    let (result, overflow) = add_with_carry(&a, &b);
    #[cfg(feature = "fault-injection")]
    let result = if crate::faults::is_active(crate::faults::Fault::AddOffByOne) {
        result.overflowing_add(U256::one()).0
    } else {
        result
    };
    add_or_sub_done::<MODE>(vm, d, slot, result, overflow);
    Ok(())
}

pub(super) fn sub<const MODE: u8, const SWAP: bool>(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    let (a, b, slot) = sources::<MODE, SWAP>(vm, d);
    let (result, overflow) = sub_with_borrow(&a, &b);
    add_or_sub_done::<MODE>(vm, d, slot, result, overflow);
    Ok(())
}

#[inline(always)]
fn add_or_sub_done<const MODE: u8>(
    vm: &mut Vm,
    d: &Predecoded,
    slot: Option<u16>,
    result: U256,
    overflow: bool,
) {
    if d.set_flags {
        let eq = result.is_zero();
        vm.flags = Flags {
            lt_of: overflow,
            eq,
            gt: !eq && !overflow,
        }
        .bits();
    }
    write_result::<MODE>(vm, &d.ins, slot, result);
    clear_dst1(vm, &d.ins);
    vm.advance_pc();
}

pub(super) fn mul<const MODE: u8>(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    let (a, b, slot) = sources::<MODE, false>(vm, d);
    let (low, high) = full_mul(&a, &b);
    if d.set_flags {
        let overflow = !high.is_zero();
        let eq = low.is_zero();
        vm.flags = Flags {
            lt_of: overflow,
            eq,
            gt: !overflow && !eq,
        }
        .bits();
    }
    write_result::<MODE>(vm, &d.ins, slot, low);
    vm.registers.set_integer(d.ins.dst1, high);
    vm.advance_pc();
    Ok(())
}

pub(super) fn div<const MODE: u8, const SWAP: bool>(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    let (a, b, slot) = sources::<MODE, SWAP>(vm, d);
    let (quotient, remainder, flags) = if b.is_zero() {
        // Division by zero gives zeros and sets only the overflow flag.
        let flags = Flags {
            lt_of: true,
            eq: false,
            gt: false,
        };
        (U256::zero(), U256::zero(), flags)
    } else {
        let (quotient, remainder) = a.div_mod(b);
        let flags = Flags {
            lt_of: false,
            eq: quotient.is_zero(),
            gt: remainder.is_zero(),
        };
        (quotient, remainder, flags)
    };
    if d.set_flags {
        vm.flags = flags.bits();
    }
    write_result::<MODE>(vm, &d.ins, slot, quotient);
    vm.registers.set_integer(d.ins.dst1, remainder);
    vm.advance_pc();
    Ok(())
}

/// The 512-bit product as (low, high) halves.
#[inline(always)]
fn full_mul(a: &U256, b: &U256) -> (U256, U256) {
    let product = a.full_mul(*b).0;
    (
        U256([product[0], product[1], product[2], product[3]]),
        U256([product[4], product[5], product[6], product[7]]),
    )
}

/// `a + b` and whether it carried out: one carry chain (the `uint` crate's version branches
/// on every limb).
#[inline(always)]
pub(crate) fn add_with_carry(a: &U256, b: &U256) -> (U256, bool) {
    let mut out = [0u64; 4];
    let mut carry = false;
    for i in 0..4 {
        let (sum, c1) = a.0[i].overflowing_add(b.0[i]);
        let (sum, c2) = sum.overflowing_add(carry as u64);
        out[i] = sum;
        carry = c1 | c2;
    }
    (U256(out), carry)
}

/// `a - b` and whether it borrowed: one borrow chain.
#[inline(always)]
pub(crate) fn sub_with_borrow(a: &U256, b: &U256) -> (U256, bool) {
    let mut out = [0u64; 4];
    let mut borrow = false;
    for i in 0..4 {
        let (diff, b1) = a.0[i].overflowing_sub(b.0[i]);
        let (diff, b2) = diff.overflowing_sub(borrow as u64);
        out[i] = diff;
        borrow = b1 | b2;
    }
    (U256(out), borrow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carry_chains_agree_with_uint() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut limb = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Edge limbs often: all ones, zero, one.
            match x % 5 {
                0 => u64::MAX,
                1 => 0,
                2 => 1,
                _ => x,
            }
        };
        for _ in 0..20_000 {
            let a = U256([limb(), limb(), limb(), limb()]);
            let b = U256([limb(), limb(), limb(), limb()]);
            assert_eq!(add_with_carry(&a, &b), a.overflowing_add(b), "{a:x} + {b:x}");
            assert_eq!(sub_with_borrow(&a, &b), a.overflowing_sub(b), "{a:x} - {b:x}");
        }
    }
}
