//! The operator on the reference side: the host code a node wraps around `zk_evm` to drive
//! our bootloader. It writes the batch information, places transactions, notices hooks from
//! the tracer and answers them as [`eravm::operator::OperatorVm`] promises to, builds the
//! pubdata from zk_evm's own event sink, decommitter and storage oracle, and takes external
//! snapshots (clones of zk_evm's local state, memory and host oracles with its own state),
//! so that a batch case compares both VMs under the same operator protocol.

use eravm::operator::{
    layout, pubdata, BootloaderState, ExecutionMode, HookCall, Stop, RESULT_BYTES,
};
use eravm::U256;
use zk_evm::zkevm_opcode_defs::ethereum_types::U256 as RefU256;
use zk_evm::zkevm_opcode_defs::{FatPointer as RefFatPointer, BOOTLOADER_BASE_PAGE};

use super::reference::{from_ref, log_entry, to_ref, RefVm};
use super::reference_memory::ReferenceMemory;
use super::BackendError;
use crate::case::Batch;

/// The page of the bootloader's heap.
const HEAP: u32 = BOOTLOADER_BASE_PAGE + 2;

/// A hook seen by the tracer: the value written and the parameters as they were before.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RaisedHook {
    pub value: U256,
    pub params: [U256; 3],
}

/// Whether an instruction about to run raises a hook: a heap write by the bootloader's frame
/// to the hook slot (the offset is the low bits of src0, as the bootloader computes it).
pub(crate) fn raised_hook(
    is_heap_write: bool,
    base_page: u32,
    src0: &RefU256,
    src1: &RefU256,
    memory: &ReferenceMemory,
) -> Option<RaisedHook> {
    if !is_heap_write || base_page != BOOTLOADER_BASE_PAGE || src0.0[0] as u32 != layout::HOOK * 32
    {
        return None;
    }
    let param = |i: u32| from_ref(memory.read(HEAP, layout::HOOK_PARAMS + i).0);
    Some(RaisedHook {
        value: from_ref(*src1),
        params: [param(0), param(1), param(2)],
    })
}

/// The reference operator's state over one run, and its external snapshots.
pub(crate) struct ReferenceOperator {
    pub state: BootloaderState,
    snapshots: Vec<Snapshot>,
}

/// All of zk_evm's state a run changes (its local state, memory and host oracles), the
/// operator's state, and the cycle count: what `make_snapshot` saves.
struct Snapshot {
    local_state: zk_evm::vm_state::VmLocalState,
    memory: ReferenceMemory,
    storage: super::reference_host::OracleStorage,
    events: super::reference_host::JournaledEvents,
    decommitter: super::reference_host::WorldDecommitter,
    dst1_was_updated: bool,
    state: eravm::operator::BootloaderMark,
    cycles: u64,
}

impl ReferenceOperator {
    /// Writes the batch information into the bootloader's heap.
    pub fn start(batch: &Batch, memory: &mut ReferenceMemory) -> Self {
        let (state, words) = super::start_batch(batch);
        write(memory, words);
        ReferenceOperator {
            state,
            snapshots: Vec::new(),
        }
    }

    /// Places a transaction in the bootloader's heap.
    pub fn push(
        &mut self,
        tx: &eravm::operator::Transaction,
        vm: &mut RefVm,
    ) -> Result<(), BackendError> {
        let placed = self
            .state
            .place_transaction(tx, pubdata_counter(vm))
            .map_err(|e| BackendError::Unsupported(e.to_string()))?;
        write(&mut vm.memory, placed);
        Ok(())
    }

    /// Saves the VM, its host and the operator's state (`cycles` is the run's count so far).
    pub fn make_snapshot(&mut self, vm: &RefVm, cycles: u64) {
        self.snapshots.push(Snapshot {
            local_state: vm.local_state.clone(),
            memory: vm.memory.clone(),
            storage: vm.storage.clone(),
            events: vm.event_sink.clone(),
            decommitter: vm.decommittment_processor.clone(),
            dst1_was_updated: vm.dst1_was_updated_this_cycle,
            state: self.state.mark(),
            cycles,
        });
    }

    /// Goes back to the latest snapshot, dropping it; the cycle count it had, if any.
    pub fn rollback_to_the_latest_snapshot(&mut self, vm: &mut RefVm) -> Option<u64> {
        let s = self.snapshots.pop()?;
        vm.local_state = s.local_state;
        // The write log (when tracing) goes on; only the contents go back.
        let write_log = vm.memory.write_log.take();
        vm.memory = s.memory;
        vm.memory.write_log = write_log;
        vm.storage = s.storage;
        vm.event_sink = s.events;
        vm.decommittment_processor = s.decommitter;
        vm.dst1_was_updated_this_cycle = s.dst1_was_updated;
        self.state.restore(s.state);
        Some(s.cycles)
    }

    /// Drops the latest snapshot without going back.
    pub fn pop_snapshot_no_rollback(&mut self) {
        self.snapshots.pop();
    }

    /// Answers a hook raised in the last cycle; `Some` when the mode says to stop.
    pub fn answer(
        &mut self,
        hook: RaisedHook,
        vm: &mut RefVm,
        mode: ExecutionMode,
    ) -> Result<Option<Stop>, BackendError> {
        let call = HookCall {
            value: hook.value,
            params: hook.params,
        };
        let memory = &vm.memory;
        let answer = self
            .state
            .answer(&call, mode, pubdata_counter(vm), |word| {
                memory.slice(RefFatPointer::from_u256(to_ref(*word)), RESULT_BYTES)
            })
            .map_err(|e| BackendError::Unsupported(e.to_string()))?;
        write(&mut vm.memory, answer.writes);
        if let Some(refund) = answer.refund {
            write(&mut vm.memory, [refund]);
        }
        if answer.pubdata_wanted {
            let placed = self
                .state
                .place_pubdata(pubdata(vm))
                .map_err(|e| BackendError::Unsupported(e.to_string()))?;
            write(&mut vm.memory, placed);
        }
        Ok(answer.stop)
    }
}

fn write(memory: &mut ReferenceMemory, words: impl IntoIterator<Item = (u32, U256)>) {
    for (index, value) in words {
        memory.set(HEAP, index, to_ref(value));
    }
}

/// zk_evm's global pubdata counter (what the bootloader reads through `context.meta`).
fn pubdata_counter(vm: &RefVm) -> i32 {
    vm.local_state.pubdata_revert_counter.0
}

/// What the batch publishes, collected from zk_evm's event sink, decommitter and storage
/// oracle, encoded by the protocol's rules (`eravm::operator::pubdata`).
fn pubdata(vm: &RefVm) -> Vec<u8> {
    let pieces: Vec<eravm::LogEntry> = vm.event_sink.events.iter().map(log_entry).collect();
    let events = pubdata::merge_events(&pieces);
    let storage = &vm.storage;
    let diffs: Vec<pubdata::StateDiff> = storage
        .current
        .iter()
        .filter(|(k, v)| storage.initial_value(k) != **v && k.address != pubdata::L1_MESSENGER)
        .map(|(k, v)| pubdata::StateDiff {
            address: k.address,
            key: k.key,
            enumeration_index: storage.enumeration_index(k).unwrap_or(0),
            initial: storage.initial_value(k),
            final_value: *v,
        })
        .collect();
    let known = &vm.decommittment_processor;
    pubdata::PubdataInput::from_events(&events, |hash| known.bytes_of(hash), diffs).memory_bytes()
}
