//! The operator (the seed's `OperatorVm`): it writes the batch information and transactions
//! into the bootloader's heap, runs the bootloader, answers the hooks it raises (the VM
//! notices them, see [`crate::Vm::take_hook`]), builds the pubdata, and snapshots and rolls
//! back the VM and its own state together. `layout` says where things live in the heap;
//! `bootloader` is our bootloader program; `pubdata` encodes what the batch publishes.
//!
//! On PubdataRequested (batch mode) the operator writes the protocol's pubdata (rollup form,
//! v26+) from the word after the pubdata region's start, as vm1's operator does: user L2→L1
//! logs, long messages and bytecode publication requests from the L1 messenger's (0x8008)
//! events, then the state diffs (compressed, then padded). Simplifications, since our worlds
//! have no system contracts (details in [`pubdata`]): an event counts whether the L1 messenger
//! emitted it itself or through the event writer (vm1 keeps only the latter); undecodable
//! events and unknown bytecodes are left out (vm1 panics); the L2 DA validator is a fixed
//! address. Our bootloader does not pass the pubdata on to an L1 messenger (there is none).

pub mod bootloader;
pub mod layout;
pub mod pubdata;
pub mod transaction;

pub use transaction::{Fees, L2BlockEnv, ProtocolTransaction, TransactionData, TxExecution};

use primitive_types::{H160, U256};

use crate::fat_pointer::FatPointer;
use crate::state::{PageId, TaggedWord};
use crate::vm::{Bootloader, ChainSettings, Outcome, Vm, VmError, VmSnapshot, BOOTLOADER_BASE_PAGE};
use crate::world::Storage;

/// Bytes as big-endian words, the last one padded with zeros.
pub fn words_of_bytes(bytes: &[u8]) -> impl Iterator<Item = U256> + '_ {
    bytes.chunks(32).map(|chunk| {
        let mut word = [0u8; 32];
        word[..chunk.len()].copy_from_slice(chunk);
        U256::from_big_endian(&word)
    })
}

/// Words as their big-endian bytes, 32 each.
pub fn bytes_of_words(words: impl IntoIterator<Item = U256>) -> Vec<u8> {
    words
        .into_iter()
        .flat_map(|w| {
            let mut bytes = [0u8; 32];
            w.to_big_endian(&mut bytes);
            bytes
        })
        .collect()
}

/// The hooks of the protocol, by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hook {
    AccountValidationEntered,
    PaymasterValidationEntered,
    ValidationExited,
    ValidationStepEnded,
    TxHasEnded,
    DebugLog,
    DebugReturnData,
    NearCallCatch,
    AskOperatorForRefund,
    NotifyAboutRefund,
    PostResult,
    FinalBatchInfo,
    PubdataRequested,
}

impl Hook {
    /// The hook a number names; vm1 refuses any other number (and any value of 2^32 or more).
    pub fn from_value(value: &U256) -> Option<Hook> {
        if value.bits() > 32 {
            return None;
        }
        use Hook::*;
        Some(match value.low_u32() {
            0 => AccountValidationEntered,
            1 => PaymasterValidationEntered,
            2 => ValidationExited,
            3 => ValidationStepEnded,
            4 => TxHasEnded,
            5 => DebugLog,
            6 => DebugReturnData,
            7 => NearCallCatch,
            8 => AskOperatorForRefund,
            9 => NotifyAboutRefund,
            10 => PostResult,
            11 => FinalBatchInfo,
            12 => PubdataRequested,
            _ => return None,
        })
    }
}

/// A hook the bootloader raised: the value it wrote to the hook slot and the three parameter
/// words below it, as they were just before the write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookCall {
    pub value: U256,
    pub params: [U256; 3],
}

impl HookCall {
    pub fn hook(&self) -> Option<Hook> {
        Hook::from_value(&self.value)
    }
}

/// A transaction in our bootloader's encoding (see [`bootloader::TxEncoding`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimpleTransaction {
    pub to: H160,
    pub gas_limit: u32,
    pub calldata: Vec<u8>,
}

/// A transaction the operator pushes: for our bootloader, or for the production one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transaction {
    Simple(SimpleTransaction),
    Protocol(Box<ProtocolTransaction>),
}

/// The batch information the operator writes to slots 0–7 before the bootloader starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchEnv {
    /// The operator (fee) account.
    pub operator: H160,
    /// Zero for the first batch; otherwise the new-batch flag (slot 7) is set.
    pub previous_batch_hash: U256,
    pub timestamp: u64,
    pub number: u64,
    pub fair_pubdata_price: u64,
    pub fair_l2_gas_price: u64,
    pub expected_base_fee: u64,
}

impl BatchEnv {
    /// The eight words, by slot.
    pub fn words(&self) -> [(u32, U256); 8] {
        let at = |i: u32, v: U256| (layout::BATCH_INFO + i, v);
        [
            at(0, U256::from_big_endian(self.operator.as_bytes())),
            at(1, self.previous_batch_hash),
            at(2, self.timestamp.into()),
            at(3, self.number.into()),
            at(4, self.fair_pubdata_price.into()),
            at(5, self.fair_l2_gas_price.into()),
            at(6, self.expected_base_fee.into()),
            at(7, U256::from(!self.previous_batch_hash.is_zero() as u8)),
        ]
    }

    /// The fee inputs the operator's refund uses.
    pub fn fees(&self) -> Fees {
        Fees {
            fair_l2_gas_price: self.fair_l2_gas_price,
            fair_pubdata_price: self.fair_pubdata_price,
            base_fee: self.expected_base_fee,
        }
    }
}

/// How far [`OperatorVm::run`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutionMode {
    /// Until the next transaction has ended (TxHasEnded).
    OneTx,
    /// Until the bootloader returns, answering PubdataRequested.
    Batch,
    /// Until the bootloader returns or requests pubdata, which it then does not get.
    BootloaderOnly,
    /// Until the first transaction's validation has ended (ValidationStepEnded), as a node
    /// validating a transaction for its mempool stops.
    Validation,
}

/// What the operator learned about one transaction.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TxResult {
    pub success: bool,
    /// The first bytes of what the transaction returned (at most [`RESULT_BYTES`]).
    pub return_data: Vec<u8>,
    /// The refund the bootloader notified.
    pub refund: U256,
}

/// Return data kept per transaction.
pub const RESULT_BYTES: usize = 1024;

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    TxEnded,
    ValidationEnded,
    PubdataRequested,
    /// The bootloader returned (ok, revert or panic) or the cycle cap was hit.
    Finished,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    #[error(transparent)]
    Vm(#[from] VmError),
    #[error("the bootloader raised an unknown hook {0:#x}")]
    UnknownHook(U256),
    #[error("the bootloader requested pubdata twice")]
    PubdataTwice,
    #[error("no room for another transaction")]
    BatchFull,
    #[error("the pubdata does not fit its region of the bootloader's heap")]
    PubdataTooLarge,
}

/// The operator's own state: what it pushed and what it learned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BootloaderState {
    pub transactions: usize,
    /// Next free word of the transaction data area.
    pub next_data_word: u32,
    pub results: Vec<TxResult>,
    /// Every hook, in order, with its parameters.
    pub hooks: Vec<(Hook, [U256; 3])>,
    /// The pubdata written on PubdataRequested.
    pub pubdata: Option<Vec<u8>>,
    /// The fee inputs of the batch (for the refund of protocol transactions).
    pub fees: Fees,
    /// Per pushed transaction: its gas limit if it is a protocol transaction (the operator
    /// computes its refund), `None` for ours (the operator offers what the bootloader does).
    refund_rules: Vec<Option<U256>>,
    /// The VM's pubdata counter where the current transaction's run began (when it was
    /// pushed, or when the one before it ended): vm1 counts the pubdata a transaction
    /// published from the start of its run.
    run_start_pubdata: i32,
    /// The L2 block of the last transaction placed: the next starts a block if it differs.
    open_block: Option<u32>,
    /// The L2 block that closes the batch (the fictive block), written on FinalBatchInfo.
    closing_block: Option<L2BlockEnv>,
}

/// Where the bootloader state was at a snapshot. The state only grows, except that the
/// last result learns its refund later: lengths and a copy of that one result restore it,
/// so a snapshot does not copy the batch so far.
#[derive(Debug)]
pub struct BootloaderMark {
    transactions: usize,
    next_data_word: u32,
    results: usize,
    last_result: Option<TxResult>,
    hooks: usize,
    pubdata: Option<Vec<u8>>,
    run_start_pubdata: i32,
    open_block: Option<u32>,
}

/// What the operator does about a hook, on either VM: words to write into the bootloader's
/// heap, the refund it offers (a word to write, kept apart so that a test can corrupt one
/// side's), whether to stop, and whether the VM's side must now supply the pubdata.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// The closing L2 block's words, on FinalBatchInfo.
    pub writes: Vec<(u32, U256)>,
    pub refund: Option<(u32, U256)>,
    pub stop: Option<Stop>,
    pub pubdata_wanted: bool,
}

impl BootloaderState {
    /// Where the state is now, to [`BootloaderState::restore`] it later.
    pub fn mark(&self) -> BootloaderMark {
        BootloaderMark {
            transactions: self.transactions,
            next_data_word: self.next_data_word,
            results: self.results.len(),
            last_result: self.results.last().cloned(),
            hooks: self.hooks.len(),
            pubdata: self.pubdata.clone(),
            run_start_pubdata: self.run_start_pubdata,
            open_block: self.open_block,
        }
    }

    /// Goes back to `mark`.
    pub fn restore(&mut self, mark: BootloaderMark) {
        self.transactions = mark.transactions;
        self.refund_rules.truncate(mark.transactions);
        self.next_data_word = mark.next_data_word;
        self.results.truncate(mark.results);
        if let (Some(last), Some(kept)) = (self.results.last_mut(), mark.last_result) {
            *last = kept;
        }
        self.hooks.truncate(mark.hooks);
        self.pubdata = mark.pubdata;
        self.run_start_pubdata = mark.run_start_pubdata;
        self.open_block = mark.open_block;
    }

    /// Takes the batch's fee inputs (for refunds) and the block that closes it.
    pub fn start_batch(&mut self, env: &BatchEnv, closing_block: Option<L2BlockEnv>) {
        self.fees = env.fees();
        self.closing_block = closing_block;
    }

    /// The four words of `block` for the transaction (or closing block) at `index`, with its
    /// virtual blocks if it starts a block; the block is then the open one.
    fn place_block(&mut self, block: &L2BlockEnv, index: u32) -> Vec<(u32, U256)> {
        let starts = self.open_block != Some(block.number);
        self.open_block = Some(block.number);
        let at = layout::L2_BLOCK_INFO + 4 * index;
        (at..).zip(block.words(starts)).collect()
    }

    /// Where `tx` goes in the bootloader's heap (word index and value: its description,
    /// its operator words, its data), counting it as pushed while the VM's pubdata counter
    /// is `pubdata_counter`. Both operators place transactions this way.
    pub fn place_transaction(
        &mut self,
        tx: &Transaction,
        pubdata_counter: i32,
    ) -> Result<Vec<(u32, U256)>, OperatorError> {
        let data = match tx {
            Transaction::Simple(tx) => bootloader::TxEncoding::words(tx),
            Transaction::Protocol(tx) => tx.data.abi_encode(),
        };
        let words = u32::try_from(data.len()).unwrap_or(u32::MAX);
        if self.transactions as u32 >= layout::MAX_TRANSACTIONS
            || self.next_data_word.saturating_add(words) >= layout::HOOK_PARAMS
        {
            return Err(OperatorError::BatchFull);
        }
        let index = self.transactions as u32;
        let start = self.next_data_word;
        let description = layout::TX_DESCRIPTIONS + 2 * index;
        let (mode, rule) = match tx {
            Transaction::Simple(_) => (U256::one(), None),
            Transaction::Protocol(tx) => (tx.execution.description(), Some(tx.data.gas_limit)),
        };
        let mut placed = vec![
            (description, mode),
            (description + 1, U256::from(start as u64 * 32)),
        ];
        if let Transaction::Protocol(tx) = tx {
            placed.push((layout::OPERATOR_REFUNDS + index, U256::zero()));
            placed.push((layout::TX_OVERHEADS + index, tx.data.overhead().into()));
            placed.push((
                layout::TRUSTED_GAS_LIMITS + index,
                tx.data.trusted_gas_limit(),
            ));
            placed.extend(self.place_block(&tx.block, index));
        }
        placed.extend((start..).zip(data));
        self.next_data_word = start + words;
        self.transactions += 1;
        self.refund_rules.push(rule);
        self.run_start_pubdata = pubdata_counter;
        Ok(placed)
    }

    /// Learns from a hook the bootloader raised (in `mode`, with the VM's pubdata counter
    /// now), as vm1's operator does, and says what to do about it. `read_bytes` reads the
    /// bytes a fat pointer (as a word) names, for PostResult.
    pub fn answer(
        &mut self,
        call: &HookCall,
        mode: ExecutionMode,
        pubdata_counter: i32,
        read_bytes: impl FnOnce(&U256) -> Vec<u8>,
    ) -> Result<Answer, OperatorError> {
        let hook = call.hook().ok_or(OperatorError::UnknownHook(call.value))?;
        self.hooks.push((hook, call.params));
        let mut answer = Answer::default();
        if hook == Hook::TxHasEnded {
            // A state keeper runs each transaction on its own: the next one's run, whose
            // pubdata vm1's refund rule counts, starts here.
            self.run_start_pubdata = pubdata_counter;
        }
        match hook {
            Hook::PostResult => self.results.push(TxResult {
                success: !call.params[0].is_zero(),
                return_data: read_bytes(&call.params[1]),
                refund: U256::zero(),
            }),
            Hook::AskOperatorForRefund => answer.refund = self.refund(call, pubdata_counter),
            Hook::NotifyAboutRefund => {
                if let Some(last) = self.results.last_mut() {
                    last.refund = call.params[0];
                }
            }
            Hook::FinalBatchInfo => {
                if let Some(block) = self.closing_block {
                    answer.writes = self.place_block(&block, self.transactions as u32);
                }
            }
            Hook::TxHasEnded if mode == ExecutionMode::OneTx => answer.stop = Some(Stop::TxEnded),
            Hook::ValidationStepEnded if mode == ExecutionMode::Validation => {
                answer.stop = Some(Stop::ValidationEnded);
            }
            Hook::PubdataRequested if mode != ExecutionMode::Batch => {
                answer.stop = Some(Stop::PubdataRequested);
            }
            Hook::PubdataRequested if self.pubdata.is_some() => {
                return Err(OperatorError::PubdataTwice)
            }
            Hook::PubdataRequested => answer.pubdata_wanted = true,
            _ => {}
        }
        Ok(answer)
    }

    /// The refund the operator offers for the current transaction: for ours, what the
    /// bootloader proposes; for a protocol transaction, vm1's rule, which a node applies to
    /// every transaction (a state keeper runs each on its own, in vm_latest's one-transaction
    /// mode, where its refund tracer is on), counting the pubdata published since the
    /// previous transaction ended. The bootloader refunds the larger of the two.
    fn refund(&self, call: &HookCall, pubdata_counter: i32) -> Option<(u32, U256)> {
        let tx = self.current_tx();
        let slot = layout::OPERATOR_REFUNDS + tx;
        match self.refund_rules.get(tx as usize).copied().flatten() {
            None => Some((slot, call.params[0])),
            Some(gas_limit) => {
                let published = pubdata_counter
                    .saturating_sub(self.run_start_pubdata)
                    .max(0);
                let [proposed, spent_on_pubdata, gas_per_pubdata] = call.params;
                Some((
                    slot,
                    self.fees.operator_refund(
                        gas_limit,
                        proposed,
                        spent_on_pubdata,
                        gas_per_pubdata,
                        published as u32,
                    ),
                ))
            }
        }
    }

    /// The transaction the bootloader is on: the number of results so far, less one.
    fn current_tx(&self) -> u32 {
        self.results.len().saturating_sub(1) as u32
    }

    /// Records the pubdata the VM's side built on PubdataRequested and says where it goes:
    /// word by word from the word after the pubdata region's start.
    pub fn place_pubdata(&mut self, pubdata: Vec<u8>) -> Result<Vec<(u32, U256)>, OperatorError> {
        if pubdata.len().div_ceil(32) + 1 >= layout::L1_MESSENGER_PUBDATA_WORDS as usize {
            return Err(OperatorError::PubdataTooLarge);
        }
        let words = (layout::L1_MESSENGER_PUBDATA + 1..)
            .zip(words_of_bytes(&pubdata))
            .collect();
        self.pubdata = Some(pubdata);
        Ok(words)
    }

    /// A fresh state: nothing pushed yet.
    pub fn new() -> BootloaderState {
        BootloaderState {
            next_data_word: layout::TX_DATA,
            ..Default::default()
        }
    }
}

/// The operator and its VM (the seed's `OperatorVm`).
pub struct OperatorVm {
    pub vm: Vm,
    pub bootloader_state: BootloaderState,
    snapshots: Vec<(VmSnapshot, BootloaderMark)>,
}

fn heap() -> PageId {
    BOOTLOADER_BASE_PAGE.heap()
}

impl OperatorVm {
    /// A VM running our bootloader with `ergs`, on the chain `storage` answers for.
    pub fn new(storage: Box<dyn Storage>, settings: ChainSettings, ergs: u32) -> OperatorVm {
        OperatorVm::from_vm(Vm::with_storage(
            Bootloader::new(bootloader::program(), ergs),
            storage,
            settings,
        ))
    }

    /// The operator around a VM already built (its first frame must run our bootloader).
    pub fn from_vm(vm: Vm) -> OperatorVm {
        OperatorVm {
            vm,
            bootloader_state: BootloaderState::new(),
            snapshots: Vec::new(),
        }
    }

    /// Writes the batch information (before the bootloader starts) and keeps the block
    /// that closes the batch for FinalBatchInfo.
    pub fn write_batch_env(&mut self, env: &BatchEnv, closing_block: Option<L2BlockEnv>) {
        self.bootloader_state.start_batch(env, closing_block);
        self.write_words(env.words());
    }

    fn write_words(&mut self, words: impl IntoIterator<Item = (u32, U256)>) {
        for (index, value) in words {
            self.vm
                .memory
                .write_from_host(heap(), index, TaggedWord::integer(value));
        }
    }

    /// Writes a transaction into the bootloader's heap: its description, then its data.
    pub fn push_transaction(&mut self, tx: &Transaction) -> Result<(), OperatorError> {
        let placed = self
            .bootloader_state
            .place_transaction(tx, self.vm.pubdata())?;
        self.write_words(placed);
        Ok(())
    }

    /// Runs until `mode` says to stop (or `max_cycles` cycles in all have run): the VM runs
    /// on its own until a hook suspends it.
    pub fn run(&mut self, mode: ExecutionMode, max_cycles: u64) -> Result<Stop, OperatorError> {
        while !self.vm.has_ended() && self.vm.cycles() < max_cycles {
            match self.vm.run(Some(max_cycles))? {
                Outcome::Suspended => {
                    if let Some(stop) = self.answer_hook(mode)? {
                        return Ok(stop);
                    }
                }
                Outcome::Finished { .. } | Outcome::CycleLimit => break,
            }
        }
        Ok(Stop::Finished)
    }

    /// One VM cycle, and the answer to the hook it raised if it raised one; `Some` when
    /// `mode` says to stop there.
    pub fn step(&mut self, mode: ExecutionMode) -> Result<Option<Stop>, OperatorError> {
        self.vm.step()?;
        self.answer_hook(mode)
    }

    /// Answers the hook the VM raised, if it raised one.
    fn answer_hook(&mut self, mode: ExecutionMode) -> Result<Option<Stop>, OperatorError> {
        let Some(call) = self.vm.take_hook() else {
            return Ok(None);
        };
        let memory = &self.vm.memory;
        let answer = self
            .bootloader_state
            .answer(&call, mode, self.vm.pubdata(), |word| {
                let pointer = FatPointer::from_u256(word);
                memory.read_bytes(
                    PageId(pointer.page),
                    pointer.start.wrapping_add(pointer.offset),
                    pointer.length.saturating_sub(pointer.offset),
                    RESULT_BYTES,
                )
            })?;
        #[allow(unused_mut)]
        let mut writes = answer.writes;
        #[cfg(feature = "fault-injection")]
        if crate::faults::is_active(crate::faults::Fault::FictiveBlockTimestampOffByOne) {
            if let Some((_, timestamp)) = writes.get_mut(1) {
                *timestamp = timestamp.overflowing_add(U256::one()).0;
            }
        }
        self.write_words(writes);
        if let Some((slot, refund)) = answer.refund {
            #[cfg(feature = "fault-injection")]
            let refund = if crate::faults::is_active(crate::faults::Fault::RefundOffByOne) {
                refund.overflowing_add(U256::one()).0
            } else {
                refund
            };
            self.write_words([(slot, refund)]);
        }
        if answer.pubdata_wanted {
            let pubdata = self.pubdata();
            let placed = self.bootloader_state.place_pubdata(pubdata)?;
            self.write_words(placed);
        }
        Ok(answer.stop)
    }

    /// What the batch publishes, collected from this VM: the L1 messenger's events, the
    /// bytecodes they ask to publish (from the host), and the state diffs (see [`pubdata`]).
    pub fn pubdata_input(&mut self) -> pubdata::PubdataInput {
        let events = pubdata::merge_events(&self.vm.world.events);
        #[allow(unused_mut)]
        let mut diffs: Vec<pubdata::StateDiff> = self
            .final_storage_changes()
            .into_iter()
            .filter(|(key, _)| key.address != pubdata::L1_MESSENGER)
            .map(|(key, final_value)| pubdata::StateDiff {
                address: key.address,
                key: key.key,
                enumeration_index: self.vm.storage.enumeration_index(&key).unwrap_or(0),
                initial: self.vm.storage.storage_read(&key).unwrap_or_default(),
                final_value,
            })
            .collect();
        #[cfg(feature = "fault-injection")]
        if crate::faults::is_active(crate::faults::Fault::PubdataDropsLastDiff) {
            diffs.pop();
        }
        let storage = &mut self.vm.storage;
        pubdata::PubdataInput::from_events(
            &events,
            |hash| {
                let words = storage.decommit(hash)?;
                Some(
                    words
                        .iter()
                        .flat_map(|w| {
                            let mut b = [0u8; 32];
                            w.to_big_endian(&mut b);
                            b
                        })
                        .collect(),
                )
            },
            diffs,
        )
    }

    /// The bytes written into the pubdata region on PubdataRequested.
    pub fn pubdata(&mut self) -> Vec<u8> {
        self.pubdata_input().memory_bytes()
    }

    /// The slots whose value now differs from the start of the batch, with their final
    /// values, sorted by address and key: the state diffs to publish and to commit.
    pub fn final_storage_changes(&mut self) -> Vec<(crate::world::StorageKey, U256)> {
        let changes: Vec<_> = self
            .vm
            .world
            .storage_changes
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect();
        let mut diffs: Vec<_> = changes
            .into_iter()
            .filter(|(key, value)| self.vm.storage.storage_read(key).unwrap_or_default() != *value)
            .collect();
        diffs.sort();
        diffs
    }

    /// Saves the VM and the operator's state (before pushing a transaction).
    pub fn make_snapshot(&mut self) {
        let vm = self.vm.snapshot();
        let mark = self.bootloader_state.mark();
        self.snapshots.push((vm, mark));
    }

    /// Goes back to the latest snapshot, dropping it. False if there is none.
    pub fn rollback_to_the_latest_snapshot(&mut self) -> bool {
        match self.snapshots.pop() {
            Some((vm, state)) => {
                #[cfg(feature = "fault-injection")]
                let (events, decommitted) = (
                    self.vm.world.events.clone(),
                    self.vm.world.decommitted_hashes.clone(),
                );
                self.vm.rollback(vm);
                #[cfg(feature = "fault-injection")]
                if crate::faults::is_active(crate::faults::Fault::RollbackKeepsEvents) {
                    self.vm.world.events = events;
                }
                #[cfg(feature = "fault-injection")]
                if crate::faults::is_active(crate::faults::Fault::RollbackKeepsDecommits) {
                    self.vm.world.decommitted_hashes = decommitted;
                }
                self.bootloader_state.restore(state);
                true
            }
            None => false,
        }
    }

    /// Drops the latest snapshot without going back.
    pub fn pop_snapshot_no_rollback(&mut self) {
        if let Some((vm, _)) = self.snapshots.pop() {
            self.vm.forget(vm);
        }
    }
}
