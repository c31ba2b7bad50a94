//! `add`, `sub`, `mul`, `div`.

use primitive_types::{U256, U512};

use super::Operands;
use crate::decoder::Instruction;
use crate::opcode::Opcode;
use crate::state::{Flags, TaggedWord};
use crate::vm::Vm;

pub(super) fn execute(vm: &mut Vm, ins: &Instruction, ops: Operands) {
    vm.stack.current.pc = ops.new_pc;
    let (a, b) = (ops.src0.value, ops.src1.value);
    match ins.opcode {
        Opcode::Add | Opcode::Sub => {
            let (result, overflow) = if ins.opcode == Opcode::Add {
                a.overflowing_add(b)
            } else {
                a.overflowing_sub(b)
            };
            #[cfg(feature = "fault-injection")]
            let result = if crate::faults::is_active(crate::faults::Fault::AddOffByOne)
                && ins.opcode == Opcode::Add
            {
                result.overflowing_add(U256::one()).0
            } else {
                result
            };
            if ins.set_flags() {
                let eq = result.is_zero();
                vm.flags = Flags {
                    lt_of: overflow,
                    eq,
                    gt: !eq && !overflow,
                };
            }
            vm.write_dst0(ins, &ops, TaggedWord::integer(result));
        }
        Opcode::Mul => {
            let product: U512 = a.full_mul(b);
            let low = U256([product.0[0], product.0[1], product.0[2], product.0[3]]);
            let high = U256([product.0[4], product.0[5], product.0[6], product.0[7]]);
            if ins.set_flags() {
                let overflow = !high.is_zero();
                let eq = low.is_zero();
                vm.flags = Flags {
                    lt_of: overflow,
                    eq,
                    gt: !overflow && !eq,
                };
            }
            vm.write_dst0(ins, &ops, TaggedWord::integer(low));
            vm.write_dst1(ins, TaggedWord::integer(high));
        }
        Opcode::Div => {
            if b.is_zero() {
                // Division by zero gives zeros and sets only the overflow flag.
                if ins.set_flags() {
                    vm.flags = Flags {
                        lt_of: true,
                        eq: false,
                        gt: false,
                    };
                }
                vm.write_dst0(ins, &ops, TaggedWord::ZERO);
                vm.write_dst1(ins, TaggedWord::ZERO);
            } else {
                let (quotient, remainder) = a.div_mod(b);
                if ins.set_flags() {
                    vm.flags = Flags {
                        lt_of: false,
                        eq: quotient.is_zero(),
                        gt: remainder.is_zero(),
                    };
                }
                vm.write_dst0(ins, &ops, TaggedWord::integer(quotient));
                vm.write_dst1(ins, TaggedWord::integer(remainder));
            }
        }
        _ => unreachable!("not an arithmetic opcode"),
    }
}
