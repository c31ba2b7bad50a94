//! `context.*`: reading the frame's context, and the kernel-only context mutations.

use primitive_types::{H160, U256};

use super::Operands;
use crate::decoder::Instruction;
use crate::opcode::Opcode;
use crate::state::TaggedWord;
use crate::vm::Vm;

pub(super) fn execute(vm: &mut Vm, ins: &Instruction, ops: &Operands, is_kernel: bool) {
    vm.stack.current.pc = ops.new_pc;
    let frame = &vm.stack.current;
    let value = match ins.opcode {
        Opcode::SetContextU128 => {
            vm.context_u128 = ops.src0.value.low_u128();
            #[cfg(feature = "fault-injection")]
            if crate::faults::is_active(crate::faults::Fault::SetContextU128OffByOne) {
                vm.context_u128 = vm.context_u128.wrapping_add(1);
            }
            return;
        }
        // Reserved; does nothing in EraVM 1.5.
        Opcode::AuxMutating0 => return,
        Opcode::IncrementTxNumber => {
            vm.tx_number = vm.tx_number.wrapping_add(1);
            vm.world.clear_transient();
            return;
        }
        Opcode::This => address_word(&frame.this_address),
        Opcode::Caller => address_word(&frame.msg_sender),
        Opcode::CodeAddress => address_word(&frame.code_address),
        Opcode::ErgsLeft => U256::from(frame.ergs),
        Opcode::Sp => U256::from(frame.sp),
        Opcode::GetContextU128 => U256::from(frame.context_u128),
        Opcode::Meta => {
            // Pubdata spent so far is visible to system contracts only.
            let pubdata = if is_kernel {
                vm.pubdata_revert_counter as u32
            } else {
                0
            };
            #[cfg(feature = "fault-injection")]
            let pubdata = if is_kernel
                && crate::faults::is_active(crate::faults::Fault::MetaReportsFramePubdata)
            {
                frame.total_pubdata_spent as u32
            } else {
                pubdata
            };
            let shards = frame.this_shard_id as u64
                | (frame.caller_shard_id as u64) << 8
                | (frame.code_shard_id as u64) << 16;
            U256([
                pubdata as u64,
                frame.heap_bound as u64 | (frame.aux_heap_bound as u64) << 32,
                0,
                shards << 32,
            ])
        }
        _ => unreachable!("not a context opcode"),
    };
    vm.write_dst0(ins, ops, TaggedWord::integer(value));
}

fn address_word(address: &H160) -> U256 {
    U256::from_big_endian(address.as_bytes())
}
