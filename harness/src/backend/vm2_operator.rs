//! The operator on vm2's side, as vm_fast wraps vm2: it writes the batch information and
//! transactions into the bootloader's heap (`HeapId::FIRST`), answers the hooks vm2
//! suspends on (its hook address is the bootloader's hook slot) as
//! [`eravm::operator::OperatorVm`] promises to, builds the pubdata from vm2's own events,
//! storage changes and known bytecodes, and takes vm2's snapshot (vm2 keeps one at a time,
//! which the operator's protocol never nests).
//!
//! vm2's events carry no address: every event is read as the EventWriter's (its first topic
//! names the emitter), as vm_fast reads them. That holds for the production system
//! contracts; our small bootloader's stand-in messenger emits raw events, so vm2 hosts only
//! batches of the production bootloader (see [`super::vm2::unsupported`]).

use eravm::operator::{layout, pubdata, BootloaderMark, BootloaderState, ExecutionMode, HookCall};
use eravm::operator::{Stop, RESULT_BYTES};
use eravm::{StorageKey, H160, U256};
use rustc_hash::FxHashMap;
use zksync_vm2::interface::{HeapId, StateInterface, Tracer};
use zksync_vm2::VirtualMachine;

use super::BackendError;
use crate::case::Batch;

/// The address vm2 sees on every event (see the module comment).
const EVENT_WRITER: H160 = H160([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x0d,
]);

/// The operator's state over one run, and the mark of its one snapshot.
pub(crate) struct Vm2Operator {
    pub state: BootloaderState,
    /// The operator's state and the cycle count when vm2's snapshot was taken.
    snapshot: Option<(BootloaderMark, u64)>,
    /// Enumeration indices of the slots earlier batches wrote (`ResolvedWorld::enumerated`).
    enumerated: FxHashMap<StorageKey, u64>,
}

impl Vm2Operator {
    /// Writes the batch information into the bootloader's heap.
    pub fn start<T: Tracer, W: zksync_vm2::World<T>>(
        batch: &Batch,
        enumerated: FxHashMap<StorageKey, u64>,
        vm: &mut VirtualMachine<T, W>,
    ) -> Self {
        let (state, words) = super::start_batch(batch);
        write(vm, words);
        Vm2Operator {
            state,
            snapshot: None,
            enumerated,
        }
    }

    /// Places a transaction in the bootloader's heap.
    pub fn push<T: Tracer, W: zksync_vm2::World<T>>(
        &mut self,
        tx: &eravm::operator::Transaction,
        vm: &mut VirtualMachine<T, W>,
    ) -> Result<(), BackendError> {
        let placed = self
            .state
            .place_transaction(tx, vm.pubdata())
            .map_err(|e| BackendError::Unsupported(e.to_string()))?;
        write(vm, placed);
        Ok(())
    }

    pub fn make_snapshot<T: Tracer, W: zksync_vm2::World<T>>(
        &mut self,
        vm: &mut VirtualMachine<T, W>,
        cycles: u64,
    ) {
        vm.make_snapshot();
        self.snapshot = Some((self.state.mark(), cycles));
    }

    /// Goes back to the snapshot, dropping it; the cycle count it had.
    pub fn rollback<T: Tracer, W: zksync_vm2::World<T>>(
        &mut self,
        vm: &mut VirtualMachine<T, W>,
    ) -> Option<u64> {
        let (mark, cycles) = self.snapshot.take()?;
        vm.rollback();
        self.state.restore(mark);
        Some(cycles)
    }

    pub fn pop_snapshot<T: Tracer, W: zksync_vm2::World<T>>(
        &mut self,
        vm: &mut VirtualMachine<T, W>,
    ) {
        if self.snapshot.take().is_some() {
            vm.pop_snapshot();
        }
    }

    /// Answers the hook vm2 suspended on; `Some` when the mode says to stop.
    pub fn answer<T: Tracer, W: zksync_vm2::World<T>>(
        &mut self,
        hook: u32,
        vm: &mut VirtualMachine<T, W>,
        known_code: impl Fn(U256) -> Option<Vec<u8>>,
        mode: ExecutionMode,
    ) -> Result<Option<Stop>, BackendError> {
        let param = |i: u32| vm.read_heap_u256(HeapId::FIRST, (layout::HOOK_PARAMS + i) * 32);
        let call = HookCall {
            value: U256::from(hook),
            params: [param(0), param(1), param(2)],
        };
        let answer = self
            .state
            .answer(&call, mode, vm.pubdata(), |word| slice(vm, word))
            .map_err(|e| BackendError::Unsupported(e.to_string()))?;
        write(vm, answer.writes);
        if let Some((slot, refund)) = answer.refund {
            // The adapter's own mutation check: a refund one gas too high on vm2's side.
            let refund = refund + u32::from(super::projection_fault::is_on("vm2"));
            write(vm, [(slot, refund)]);
        }
        if answer.pubdata_wanted {
            let bytes = self.pubdata(vm, known_code);
            let placed = self
                .state
                .place_pubdata(bytes)
                .map_err(|e| BackendError::Unsupported(e.to_string()))?;
            write(vm, placed);
        }
        Ok(answer.stop)
    }

    /// What the batch publishes, from vm2's events, storage changes and known bytecodes,
    /// encoded by the protocol's rules (`eravm::operator::pubdata`).
    fn pubdata<T: Tracer, W: zksync_vm2::World<T>>(
        &self,
        vm: &VirtualMachine<T, W>,
        known_code: impl Fn(U256) -> Option<Vec<u8>>,
    ) -> Vec<u8> {
        let pieces: Vec<eravm::LogEntry> = vm
            .events()
            .map(|e| eravm::LogEntry {
                address: EVENT_WRITER,
                key: e.key,
                value: e.value,
                is_first: e.is_first,
                tx_number: e.tx_number,
                shard_id: e.shard_id,
            })
            .collect();
        let events = pubdata::merge_events(&pieces);
        let diffs = vm
            .world_diff()
            .get_storage_changes()
            .filter(|((address, _), _)| *address != pubdata::L1_MESSENGER)
            .map(|((address, key), change)| {
                let slot = StorageKey { address, key };
                pubdata::StateDiff {
                    address,
                    key,
                    enumeration_index: self.enumerated.get(&slot).copied().unwrap_or(0),
                    initial: change.before,
                    final_value: change.after,
                }
            })
            .collect();
        pubdata::PubdataInput::from_events(&events, known_code, diffs).memory_bytes()
    }
}

/// Writes words into the bootloader's heap.
fn write<T: Tracer, W: zksync_vm2::World<T>>(
    vm: &mut VirtualMachine<T, W>,
    words: impl IntoIterator<Item = (u32, U256)>,
) {
    for (index, value) in words {
        vm.write_heap_u256(HeapId::FIRST, index * 32, value);
    }
}

/// The bytes a fat pointer in vm2's numbering (its page is a vm2 heap) points at, at most
/// [`RESULT_BYTES`] of them.
fn slice<T: Tracer, W: zksync_vm2::World<T>>(vm: &VirtualMachine<T, W>, word: &U256) -> Vec<u8> {
    let p = eravm::FatPointer::from_u256(word);
    let len = p.length.saturating_sub(p.offset).min(RESULT_BYTES as u32);
    let heap = HeapId::from_u32_unchecked(p.page);
    let start = p.start.saturating_add(p.offset);
    (0..len)
        .map(|i| vm.read_heap_byte(heap, start.saturating_add(i)))
        .collect()
}
