//! Running a request on the node's operator, as a state keeper does, and what it reports.

use std::{
    collections::HashMap,
    panic::{catch_unwind, AssertUnwindSafe},
    rc::Rc,
};

use serde::Serialize;
use zksync_multivm::{
    pubdata_builders::FullPubdataBuilder,
    vm_fast,
    vm_latest::{self, HistoryEnabled},
};
use zksync_types::{web3::Bytes, Address, StorageKey, StorageValue, H256, U256};
use zksync_vm_interface::{
    storage::{ImmutableStorageView, ReadStorage, StorageView},
    ExecutionResult, VmExecutionResultAndLogs, VmFactory, VmInterfaceExt,
    VmInterfaceHistoryEnabled,
};

use crate::request::{Mode, NodeVm, Request};

/// What became of a request.
#[derive(Serialize, Default)]
pub struct Outcome {
    /// `done`; `crash` (the node panicked: `message` says where); `input_error` (the
    /// request cannot be run by the node: `message` says why).
    pub status: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Every transaction pushed, in order (also those rolled back).
    pub transactions: Vec<TxOutcome>,
    /// Batch mode: the block tip's run (sealing the batch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_tip: Option<TxOutcome>,
    /// Batch mode: slots whose final value differs from the start (address, key, value).
    pub storage: Vec<(Address, U256, U256)>,
    /// Batch mode: the L2→L1 logs the VM itself emitted (`to_l1`; the node calls them
    /// system logs). The node's user logs are read from the L1 messenger's events, which
    /// the pubdata holds.
    pub l2_to_l1_logs: Vec<L2ToL1Log>,
    /// Batch mode: the bootloader's heap at the end, words that are not zero.
    pub bootloader_memory: Vec<(usize, U256)>,
    /// Time from making the VM to the end of the run, in microseconds (the node's own
    /// work: its operator and its VM), and the cycles its VM ran.
    pub micros: u64,
    pub cycles: u64,
}

#[derive(Serialize)]
pub struct TxOutcome {
    /// `success`, `revert` or `halt` (the bootloader rejected it).
    pub status: &'static str,
    /// What it returned (success) or its revert data.
    pub output: Bytes,
    /// Why it reverted or halted, as the node words it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The bootloader's final refund, and the operator's suggestion.
    pub refund: u64,
    pub operator_refund: u64,
    pub gas_used: u64,
    pub pubdata_published: u32,
    pub events: usize,
    /// Rolled back after it ended (rejected, or asked for by the request).
    pub rolled_back: bool,
    /// The hash the node's operator folds into the L2 block's rolling hash (L2
    /// transactions: recovered from the fields as a state keeper does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<H256>,
}

#[derive(Serialize)]
pub struct L2ToL1Log {
    pub shard_id: u8,
    pub is_service: bool,
    pub tx_number: u16,
    pub sender: Address,
    pub key: H256,
    pub value: H256,
}

impl Outcome {
    pub fn input_error(message: String) -> Outcome {
        Outcome {
            status: "input_error",
            message,
            ..Outcome::default()
        }
    }
}

/// The storage at the start by derived key, as a node's state snapshot holds it.
#[derive(Debug)]
pub struct HashedStorage {
    slots: HashMap<H256, (U256, Option<u64>)>,
    bytecodes: HashMap<H256, Vec<u8>>,
}

impl HashedStorage {
    fn initial(&self, key: &StorageKey) -> U256 {
        self.slots
            .get(&key.hashed_key())
            .map_or(U256::zero(), |(value, _)| *value)
    }
}

impl ReadStorage for HashedStorage {
    fn read_value(&mut self, key: &StorageKey) -> StorageValue {
        crate::request::u256_to_h256(self.initial(key))
    }

    fn is_write_initial(&mut self, key: &StorageKey) -> bool {
        self.get_enumeration_index(key).is_none()
    }

    fn load_factory_dep(&mut self, hash: H256) -> Option<Vec<u8>> {
        self.bytecodes.get(&hash).cloned()
    }

    fn get_enumeration_index(&mut self, key: &StorageKey) -> Option<u64> {
        self.slots
            .get(&key.hashed_key())
            .and_then(|(_, index)| *index)
    }
}

/// Runs a request; a panic in the node becomes a `crash` outcome with what ran before it.
pub fn serve(request: Request) -> Outcome {
    let mut outcome = Outcome {
        status: "done",
        ..Outcome::default()
    };
    let result = catch_unwind(AssertUnwindSafe(|| run(&request, &mut outcome)));
    match result {
        Ok(Ok(())) => outcome,
        Ok(Err(message)) => Outcome::input_error(message),
        Err(panic) => {
            outcome.status = "crash";
            outcome.message = panic_message(&*panic);
            outcome
        }
    }
}

thread_local! {
    /// Where the last panic was raised (set by the panic hook).
    pub static PANIC_AT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// `at vm_latest/utils/l2_blocks.rs:41: assertion failed …`.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let message = if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    };
    let at = PANIC_AT.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
    format!("at {at}: {message}")
}

fn run(request: &Request, outcome: &mut Outcome) -> Result<(), String> {
    let system_env = request.system_env()?;
    let batch_env = request.batch_env()?;
    let bytecodes: HashMap<H256, Vec<u8>> = request
        .bytecodes
        .iter()
        .map(|(hash, code)| (crate::request::u256_to_h256(*hash), code.0.clone()))
        .collect();
    let storage = HashedStorage {
        slots: request
            .storage
            .iter()
            .map(|(key, value, index)| (crate::request::u256_to_h256(*key), (*value, *index)))
            .collect(),
        bytecodes: bytecodes.clone(),
    };
    let mut transactions = Vec::new();
    for block in &request.blocks {
        let txs = block
            .transactions
            .iter()
            .map(|tx| {
                tx.to_node(&bytecodes, request.chain_id)
                    .map(|t| (t, tx.rollback))
            })
            .collect::<Result<Vec<_>, _>>()?;
        transactions.push((block.env(), txs));
    }
    let view = StorageView::new(storage).to_rc_ptr();
    let started = std::time::Instant::now();
    match request.vm {
        NodeVm::Vm1 => {
            let vm = vm_latest::Vm::<StorageView<HashedStorage>, HistoryEnabled>::new(
                batch_env,
                system_env,
                view.clone(),
            );
            drive(vm, transactions, request.mode, request.chain_id, outcome);
        }
        NodeVm::Fast => {
            let vm = vm_fast::Vm::<
                ImmutableStorageView<HashedStorage>,
                (),
                vm_fast::FastValidationTracer,
            >::new(batch_env, system_env, view.clone());
            drive(vm, transactions, request.mode, request.chain_id, outcome);
        }
    }
    outcome.micros = started.elapsed().as_micros() as u64;
    {
        let mut view = view.borrow_mut();
        let start = view.inner_mut();
        outcome.storage.retain(|(address, key, value)| {
            let key = StorageKey::new(
                zksync_types::AccountTreeId::new(*address),
                crate::request::u256_to_h256(*key),
            );
            start.initial(&key) != *value
        });
    }
    Ok(())
}

type Blocks = Vec<(
    zksync_vm_interface::L2BlockEnv,
    Vec<(zksync_types::Transaction, bool)>,
)>;

/// Pushes every transaction with a snapshot before it, as a state keeper does, then seals.
fn drive<V: VmInterfaceHistoryEnabled>(
    mut vm: V,
    blocks: Blocks,
    mode: Mode,
    chain_id: u64,
    out: &mut Outcome,
) {
    for (b, (env, txs)) in blocks.into_iter().enumerate() {
        if b > 0 {
            vm.start_new_l2_block(env);
        }
        for (tx, rollback) in txs {
            let hash = l2_tx_hash(&tx, chain_id);
            vm.make_snapshot();
            // Without compressed bytecodes, as our operators push them: the protocol lets
            // an operator publish a new bytecode whole, and the choice changes the pubdata.
            let (_, result) = vm.execute_transaction_with_bytecode_compression(tx, false);
            let halted = matches!(result.result, ExecutionResult::Halt { .. });
            if halted || rollback {
                vm.rollback_to_the_latest_snapshot();
            } else {
                vm.pop_snapshot_no_rollback();
            }
            out.cycles += u64::from(result.statistics.cycles_used);
            let mut outcome = tx_outcome(&result, halted || rollback);
            outcome.tx_hash = hash;
            out.transactions.push(outcome);
            if mode == Mode::OneTx {
                if !(halted || rollback) {
                    out.storage = written_by(&result);
                }
                return;
            }
        }
    }
    let finished = vm.finish_batch(Rc::new(FullPubdataBuilder::new(Address::zero())));
    let tip = &finished.block_tip_execution_result;
    out.cycles += u64::from(tip.statistics.cycles_used);
    out.block_tip = Some(tx_outcome(tip, false));
    let state = &finished.final_execution_state;
    out.storage = state
        .deduplicated_storage_logs
        .iter()
        .filter(|log| log.is_write())
        .map(|log| {
            let value = U256::from_big_endian(log.value.as_bytes());
            let key = U256::from_big_endian(log.key.key().as_bytes());
            (*log.key.address(), key, value)
        })
        .collect();
    out.l2_to_l1_logs = state
        .system_logs
        .iter()
        .map(|l| &l.0)
        .map(|l| L2ToL1Log {
            shard_id: l.shard_id,
            is_service: l.is_service,
            tx_number: l.tx_number_in_block,
            sender: l.sender,
            key: l.key,
            value: l.value,
        })
        .collect();
    out.bootloader_memory = finished
        .final_bootloader_memory
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, word)| !word.is_zero())
        .collect();
}

/// The slots one transaction's run wrote, each with the value it wrote last (the final state
/// of a one-transaction run, whose batch never seals).
fn written_by(result: &VmExecutionResultAndLogs) -> Vec<(Address, U256, U256)> {
    let mut last = std::collections::BTreeMap::new();
    for log in result
        .logs
        .storage_logs
        .iter()
        .map(|l| &l.log)
        .filter(|l| l.is_write())
    {
        let key = U256::from_big_endian(log.key.key().as_bytes());
        last.insert(
            (*log.key.address(), key),
            U256::from_big_endian(log.value.as_bytes()),
        );
    }
    last.into_iter()
        .map(|((address, key), value)| (address, key, value))
        .collect()
}

fn tx_outcome(result: &VmExecutionResultAndLogs, rolled_back: bool) -> TxOutcome {
    let (status, output, reason) = match &result.result {
        ExecutionResult::Success { output } => ("success", output.clone(), String::new()),
        ExecutionResult::Revert { output } => ("revert", output.encoded_data(), output.to_string()),
        ExecutionResult::Halt { reason } => ("halt", Vec::new(), reason.to_string()),
    };
    TxOutcome {
        status,
        output: Bytes(output),
        reason,
        refund: result.refunds.gas_refunded,
        operator_refund: result.refunds.operator_suggested_refund,
        gas_used: result.statistics.gas_used,
        pubdata_published: result.statistics.pubdata_published,
        events: result.logs.events.len(),
        rolled_back,
        tx_hash: None,
    }
}

/// An L2 transaction's hash as the node's operator recovers it from the transaction's
/// fields; none for L1 transactions.
fn l2_tx_hash(tx: &zksync_types::Transaction, chain_id: u64) -> Option<H256> {
    let l2 = zksync_types::l2::L2Tx::try_from(tx.clone()).ok()?;
    let mut request = zksync_types::transaction_request::TransactionRequest::from(l2);
    request.chain_id = Some(chain_id);
    request
        .get_signed_and_tx_hashes()
        .ok()
        .map(|(_, hash)| hash)
}
