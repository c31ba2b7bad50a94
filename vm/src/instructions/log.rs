//! `log.*`: storage and transient storage, events, L2→L1 messages and `log.decommit`.
//!
//! Storage accesses are priced cold in the opcode price; a warm access gets part of it back
//! as a refund decided before the access. A write also costs pubdata: the price of the slot's
//! new value against its value at the start of the batch, less what the slot's current value
//! was already priced at.

use primitive_types::U256;

use super::Operands;
use crate::code_hash;
use crate::decoder::Instruction;
use crate::fat_pointer::FatPointer;
use crate::opcode::Opcode;
use crate::state::TaggedWord;
use crate::vm::{Vm, VmError};
use crate::world::{LogEntry, StorageKey};

const COLD_READ: u32 = 2000;
const WARM_READ: u32 = 30;
const COLD_WRITE: u32 = 5500;
const WARM_WRITE: u32 = 60;
/// A read of a slot read before (or free) costs the warm price.
const WARM_READ_REFUND: u32 = COLD_READ - WARM_READ;
/// A write to a slot written before (or free) costs the warm price.
const WARM_WRITE_REFUND: u32 = COLD_WRITE - WARM_WRITE;
/// A write to a slot only read before does not pay for reading it again.
const WRITE_AFTER_READ_REFUND: u32 = COLD_READ;

/// What `log.decommit` returns as the length of the decommitted slice.
const DECOMMIT_POINTER_LENGTH: u32 = 1 << 21;

pub(super) fn execute(vm: &mut Vm, ins: &Instruction, ops: &Operands) -> Result<(), VmError> {
    vm.stack.current.pc = ops.new_pc;
    let (src0, src1) = (ops.src0.value, ops.src1.value);
    let frame = vm.stack.current;
    let key = StorageKey {
        address: frame.this_address,
        key: src0,
    };
    let entry = LogEntry {
        address: frame.this_address,
        key: src0,
        value: src1,
        is_first: ins.first_modifier(),
        tx_number: vm.tx_number,
        shard_id: frame.this_shard_id,
    };
    let mut refund = 0;
    let mut pubdata = 0i32;
    match ins.opcode {
        Opcode::StorageRead => {
            let value;
            (refund, value) = storage_read(vm, key);
            vm.write_dst0(ins, ops, TaggedWord::integer(value));
        }
        Opcode::StorageWrite => (refund, pubdata) = storage_write(vm, key, src1),
        // Transient storage is always warm; the price already says so.
        Opcode::TransientStorageRead => {
            let value = vm.world.read_transient(&key);
            vm.write_dst0(ins, ops, TaggedWord::integer(value));
        }
        Opcode::TransientStorageWrite => {
            vm.world.write_transient(key, src1);
        }
        Opcode::Event => vm.world.record_event(entry),
        Opcode::ToL1Message => vm.world.record_l2_to_l1_log(entry),
        Opcode::Decommit => refund = decommit(vm, ins, ops)?,
        Opcode::PrecompileCall => pubdata = precompile_call(vm, ins, ops),
        _ => return Err(VmError::Unimplemented(ins.opcode)),
    }
    let frame = &mut vm.stack.current;
    frame.ergs = frame.ergs.wrapping_add(refund);
    vm.add_pubdata(pubdata);
    Ok(())
}

/// A storage read: the refund (warm or free slots) and the value.
pub(crate) fn storage_read(vm: &mut Vm, key: StorageKey) -> (u32, U256) {
    let free = vm.storage.is_free_storage_slot(&key);
    let warm = vm.world.warm_for_read(key);
    let refund = if free || warm { WARM_READ_REFUND } else { 0 };
    vm.world.refunds.push(refund);
    (refund, vm.world.read_storage(vm.storage.as_mut(), &key))
}

/// A storage write: the refund (warm, free or read before) and the pubdata it costs
/// beyond what the slot's current value was priced at.
pub(crate) fn storage_write(vm: &mut Vm, key: StorageKey, value: U256) -> (u32, i32) {
    let free = vm.storage.is_free_storage_slot(&key);
    let access = vm.world.access(&key);
    let refund = if free || access.written {
        WARM_WRITE_REFUND
    } else if access.read {
        WRITE_AFTER_READ_REFUND
    } else {
        0
    };
    vm.world.refunds.push(refund);
    let price = vm.storage.cost_of_writing_storage(&key, value);
    #[cfg(feature = "fault-injection")]
    let price = if crate::faults::is_active(crate::faults::Fault::WritesCostNoPubdata) {
        0
    } else {
        price
    };
    let pubdata = price as i32 - access.paid.unwrap_or(0) as i32;
    vm.world.pubdata_costs.push(pubdata);
    vm.world.write_storage(key, value, price);
    (refund, pubdata)
}

/// `log.decommit hash, extra_cost`: loads a bytecode into the frame's heap page (or finds
/// where it was loaded before) and returns a pointer to it. The caller pays `extra_cost`,
/// refunded if the bytecode was already decommitted.
fn decommit(vm: &mut Vm, ins: &Instruction, ops: &Operands) -> Result<u32, VmError> {
    let extra_cost = ops.src1.value.0[0] as u32;
    let frame = &mut vm.stack.current;
    let enough = frame.ergs >= extra_cost;
    frame.ergs = frame.ergs.saturating_sub(extra_cost);
    let hash = ops.src0.value;
    let b = code_hash::bytes(&hash);
    let well_formed = code_hash::is_valid(&b, code_hash::ERAVM_VERSION)
        || code_hash::is_valid(&b, code_hash::EVM_BLOB_VERSION);
    if !well_formed || !enough {
        vm.write_dst0(ins, ops, TaggedWord::ZERO);
        return Ok(0);
    }
    let candidate = frame.base_page.heap();
    let (page, fresh) = vm.decommit_into(&hash, candidate)?;
    let pointer = FatPointer {
        offset: 0,
        page: page.0,
        start: 0,
        length: DECOMMIT_POINTER_LENGTH,
    };
    vm.write_dst0(ins, ops, TaggedWord::pointer(pointer.to_u256()));
    Ok(if fresh { 0 } else { extra_cost })
}

/// `log.precompile abi, costs`: the caller pays the extra ergs it names (or, short of them,
/// gets 0 and nothing runs), then the precompile of its own address runs and 1 is returned.
/// Returns the extra pubdata the caller declared.
fn precompile_call(vm: &mut Vm, ins: &Instruction, ops: &Operands) -> i32 {
    let extra_ergs = ops.src1.value.0[0] as u32;
    #[cfg(feature = "fault-injection")]
    let extra_ergs = if crate::faults::is_active(crate::faults::Fault::FreePrecompiles) {
        0
    } else {
        extra_ergs
    };
    let extra_pubdata = (ops.src1.value.0[0] >> 32) as u32;
    let frame = &mut vm.stack.current;
    if frame.ergs < extra_ergs {
        frame.ergs = 0;
        vm.write_dst0(ins, ops, TaggedWord::ZERO);
        return 0;
    }
    frame.ergs -= extra_ergs;
    let mut abi = crate::precompiles::PrecompileAbi::from_word(&ops.src0.value);
    let heap = frame.base_page.heap().0;
    if abi.read_page == 0 {
        abi.read_page = heap;
    }
    if abi.write_page == 0 {
        abi.write_page = heap;
    }
    let address_low = u16::from_be_bytes([
        frame.this_address.as_bytes()[18],
        frame.this_address.as_bytes()[19],
    ]);
    // It may write any page, one holding code too.
    vm.recheck();
    if let Some(valid) = crate::precompiles::run(address_low, &abi, &mut vm.memory) {
        let counts = vm.precompile_calls.entry(address_low).or_default();
        counts[valid as usize] += 1;
    }
    vm.write_dst0(ins, ops, TaggedWord::integer(U256::one()));
    extra_pubdata as i32
}

impl Vm {
    /// Adds pubdata spent by the current frame (to the frame and to the running total).
    pub(crate) fn add_pubdata(&mut self, cost: i32) {
        let frame = &mut self.stack.current;
        frame.total_pubdata_spent = frame.total_pubdata_spent.wrapping_add(cost);
        self.pubdata_revert_counter = self.pubdata_revert_counter.wrapping_add(cost);
    }

    /// Makes a bytecode available on a code page: the page it was decommitted to before, or
    /// `candidate`, filled now. Returns the page and whether it was filled now.
    pub(crate) fn decommit_into(
        &mut self,
        hash: &U256,
        candidate: crate::state::PageId,
    ) -> Result<(crate::state::PageId, bool), VmError> {
        let normalized = code_hash::normalized(hash);
        if let Some(&page) = self.world.decommitted_hashes.get(&normalized) {
            return Ok((crate::state::PageId(page), false));
        }
        let code = self
            .storage
            .decommit(*hash)
            .ok_or(VmError::MissingBytecode(*hash))?;
        self.memory.fill(candidate, code);
        // The page may be one some frame runs code from.
        self.recheck();
        self.world.mark_decommitted(normalized, candidate.0);
        Ok((candidate, true))
    }
}
