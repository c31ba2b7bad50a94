//! The operator on the reference side: the host code a node wraps around `zk_evm` to drive
//! our bootloader. It writes the batch information, places transactions, notices hooks from the tracer and answers them as
//! [`eravm::operator::OperatorVm`] promises to, so that a batch case compares both VMs under
//! the same operator protocol.

use eravm::operator::{layout, BootloaderState, ExecutionMode, Hook, Stop, TxResult, RESULT_BYTES};
use eravm::U256;
use zk_evm::zkevm_opcode_defs::ethereum_types::U256 as RefU256;
use zk_evm::zkevm_opcode_defs::{FatPointer as RefFatPointer, BOOTLOADER_BASE_PAGE};

use super::reference::{from_ref, to_ref, RefVm};
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

/// The reference operator's state over one run.
pub(crate) struct ReferenceOperator {
    pub state: BootloaderState,
    mode: ExecutionMode,
}

impl ReferenceOperator {
    /// Places the batch's transactions in the bootloader's heap.
    pub fn start(batch: &Batch, memory: &mut ReferenceMemory) -> Result<Self, BackendError> {
        for (index, value) in batch.info.to_operator().words() {
            memory.set(HEAP, index, to_ref(value));
        }
        let mut state = BootloaderState::new();
        for tx in &batch.transactions {
            let placed = state
                .place_transaction(&tx.to_operator())
                .map_err(|e| BackendError::Unsupported(e.to_string()))?;
            for (index, value) in placed {
                memory.set(HEAP, index, to_ref(value));
            }
        }
        Ok(ReferenceOperator {
            state,
            mode: batch.mode.execution_mode(),
        })
    }

    /// Answers a hook raised in the last cycle; `Some` when the mode says to stop.
    pub fn answer(
        &mut self,
        hook: RaisedHook,
        vm: &mut RefVm,
    ) -> Result<Option<Stop>, BackendError> {
        let Some(kind) = Hook::from_value(&hook.value) else {
            return Err(BackendError::Unsupported(format!(
                "the bootloader raised an unknown hook {:#x}",
                hook.value
            )));
        };
        self.state.hooks.push((kind, hook.params));
        match kind {
            Hook::PostResult => {
                let pointer = RefFatPointer::from_u256(to_ref(hook.params[1]));
                self.state.results.push(TxResult {
                    success: !hook.params[0].is_zero(),
                    return_data: vm.memory.slice(pointer, RESULT_BYTES),
                    refund: U256::zero(),
                });
            }
            Hook::AskOperatorForRefund => {
                let tx = self.state.results.len().saturating_sub(1) as u32;
                vm.memory
                    .set(HEAP, layout::OPERATOR_REFUNDS + tx, to_ref(hook.params[0]));
            }
            Hook::NotifyAboutRefund => {
                if let Some(last) = self.state.results.last_mut() {
                    last.refund = hook.params[0];
                }
            }
            Hook::TxHasEnded if self.mode == ExecutionMode::OneTx => {
                return Ok(Some(Stop::TxEnded))
            }
            Hook::PubdataRequested => {
                if self.mode != ExecutionMode::Batch {
                    return Ok(Some(Stop::PubdataRequested));
                }
                if self.state.pubdata.is_some() {
                    return Err(BackendError::Unsupported(
                        "the bootloader requested pubdata twice".into(),
                    ));
                }
                let pubdata = pubdata(vm);
                for (i, chunk) in pubdata.chunks(32).enumerate() {
                    let mut word = [0u8; 32];
                    word[..chunk.len()].copy_from_slice(chunk);
                    vm.memory.set(
                        HEAP,
                        layout::L1_MESSENGER_PUBDATA + i as u32,
                        RefU256::from_big_endian(&word),
                    );
                }
                self.state.pubdata = Some(pubdata);
            }
            _ => {}
        }
        Ok(None)
    }
}

/// The simplified pubdata of the protocol notes: L2→L1 messages (a 4-byte count, then
/// address, key and value of each), then the slots whose value differs from the start of the
/// batch, by address and key (a count, then address, key and value).
fn pubdata(vm: &RefVm) -> Vec<u8> {
    let word = |v: RefU256| {
        let mut b = [0u8; 32];
        v.to_big_endian(&mut b);
        b
    };
    let mut out = Vec::new();
    let messages = &vm.event_sink.messages;
    out.extend((messages.len() as u32).to_be_bytes());
    for m in messages {
        out.extend(m.address.as_bytes());
        out.extend(word(m.key));
        out.extend(word(m.written_value));
    }
    let storage = &vm.storage;
    let mut diffs: Vec<(eravm::StorageKey, U256)> = storage
        .current
        .iter()
        .filter(|(k, v)| storage.initial_value(k) != **v)
        .map(|(k, v)| (*k, *v))
        .collect();
    diffs.sort();
    out.extend((diffs.len() as u32).to_be_bytes());
    for (key, value) in diffs {
        out.extend(key.address.as_bytes());
        out.extend(word(to_ref(key.key)));
        out.extend(word(to_ref(value)));
    }
    out
}
