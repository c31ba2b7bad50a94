//! The world the VM runs against, and the state of L2 changes it builds while running.
//!
//! The host answers through [`Storage`] (the interface of the seed design: bytecodes, slot
//! values, the pubdata price of a write and which slots are free). Everything a run changes
//! lives in [`VmState`] (the seed's `VMState`): storage and transient storage changes,
//! events, L2→L1 logs, pubdata, refunds and the sets of touched slots. Changes that a
//! reverting frame undoes go through a journal with one mark per frame, so a rollback costs
//! what was changed, not the size of the state.

use primitive_types::{H160, U256};
use rustc_hash::{FxHashMap, FxHashSet};

/// A storage slot: the contract and the key within its storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageKey {
    pub address: H160,
    pub key: U256,
}

/// What the VM asks of the chain it runs on.
pub trait Storage {
    /// The code words of a versioned bytecode hash (only bytes 4..32, the hash proper, are
    /// significant), or `None` if unknown.
    fn decommit(&mut self, hash: U256) -> Option<Vec<U256>>;
    /// The value of a slot at the start of the batch; `None` reads as zero.
    fn storage_read(&mut self, key: &StorageKey) -> Option<U256>;
    /// The pubdata, in bytes, that setting the slot to `value` costs relative to its value at
    /// the start of the batch.
    fn cost_of_writing_storage(&mut self, key: &StorageKey, value: U256) -> u32;
    /// Slots that cost no pubdata and whose accesses are always warm.
    fn is_free_storage_slot(&self, key: &StorageKey) -> bool;
    /// The slot's index in the state tree, if an earlier batch wrote it (then writing it is
    /// a repeated write); `None` for a slot never written. The operator publishes it.
    fn enumeration_index(&mut self, _key: &StorageKey) -> Option<u64> {
        None
    }
}

/// An event or an L2→L1 message, as the VM records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LogEntry {
    pub address: H160,
    pub key: U256,
    pub value: U256,
    /// The first word of a multi-word event or message.
    pub is_first: bool,
    pub tx_number: u16,
    pub shard_id: u8,
}

/// One entry of the rollback journal: how to undo one change.
#[derive(Clone, Debug)]
enum Undo {
    Storage {
        key: StorageKey,
        previous: Option<U256>,
        previous_paid: Option<u32>,
    },
    Transient {
        key: StorageKey,
        previous: Option<U256>,
    },
    Event,
    L2ToL1Log,
}

/// The state of L2 changes of a run.
#[derive(Clone, Debug, Default)]
pub struct VmState {
    /// Slots written in this run, with their current values.
    pub storage_changes: FxHashMap<StorageKey, U256>,
    pub transient_storage: FxHashMap<StorageKey, U256>,
    pub l2_to_l1_logs: Vec<LogEntry>,
    pub events: Vec<LogEntry>,
    /// Pubdata cost of each storage write, in order (reverted writes included).
    pub pubdata_costs: Vec<i32>,
    /// What the current value of each written slot was priced at.
    pub paid_changes: FxHashMap<StorageKey, u32>,
    /// The ergs refund granted for each storage access, in order.
    pub refunds: Vec<u32>,
    pub read_storage_slots: FxHashSet<StorageKey>,
    pub written_storage_slots: FxHashSet<StorageKey>,
    /// Normalised hash (bytes 4..32) of every decommitted bytecode, and the page it went to.
    pub decommitted_hashes: FxHashMap<[u8; 28], u32>,
    /// Every storage write, in order (rolled back ones too).
    pub storage_writes: Vec<StorageKey>,
    /// How many storage writes a reverting frame undid.
    pub storage_writes_rolled_back: u64,
    journal: Vec<Undo>,
    frame_marks: Vec<usize>,
}

impl VmState {
    #[inline]
    pub(crate) fn start_frame(&mut self) {
        self.frame_marks.push(self.journal.len());
    }

    /// Closes the current frame; on `rollback` undoes everything it changed, newest first.
    #[inline]
    pub(crate) fn finish_frame(&mut self, rollback: bool) {
        let mark = self.frame_marks.pop().unwrap_or(0);
        // Nothing to undo is the common case (every near return that does not revert).
        if rollback && self.journal.len() > mark {
            self.roll_back_to(mark);
        }
    }

    #[inline(never)]
    fn roll_back_to(&mut self, mark: usize) {
        #[cfg(feature = "fault-injection")]
        let keep_logs = crate::faults::is_active(crate::faults::Fault::EventsSurviveRevert);
        #[cfg(not(feature = "fault-injection"))]
        let keep_logs = false;
        while self.journal.len() > mark {
            match self.journal.pop().expect("journal is longer than the mark") {
                Undo::Storage {
                    key,
                    previous,
                    previous_paid,
                } => {
                    restore(&mut self.storage_changes, key, previous);
                    restore(&mut self.paid_changes, key, previous_paid);
                    self.storage_writes_rolled_back += 1;
                }
                Undo::Transient { key, previous } => {
                    restore(&mut self.transient_storage, key, previous);
                }
                Undo::Event if !keep_logs => {
                    self.events.pop();
                }
                Undo::L2ToL1Log if !keep_logs => {
                    self.l2_to_l1_logs.pop();
                }
                Undo::Event | Undo::L2ToL1Log => {}
            }
        }
    }

    /// The current value of a slot.
    pub fn read_storage(&self, storage: &mut dyn Storage, key: &StorageKey) -> U256 {
        match self.storage_changes.get(key) {
            Some(v) => *v,
            None => storage.storage_read(key).unwrap_or_default(),
        }
    }

    pub(crate) fn write_storage(&mut self, key: StorageKey, value: U256, paid: u32) {
        self.storage_writes.push(key);
        let previous = self.storage_changes.insert(key, value);
        let previous_paid = self.paid_changes.insert(key, paid);
        self.journal.push(Undo::Storage {
            key,
            previous,
            previous_paid,
        });
    }

    pub fn read_transient(&self, key: &StorageKey) -> U256 {
        self.transient_storage.get(key).copied().unwrap_or_default()
    }

    pub(crate) fn write_transient(&mut self, key: StorageKey, value: U256) {
        let previous = self.transient_storage.insert(key, value);
        self.journal.push(Undo::Transient { key, previous });
    }

    /// A new transaction starts with empty transient storage; the clearing itself can be
    /// rolled back like any write.
    pub(crate) fn clear_transient(&mut self) {
        let mut keys: Vec<StorageKey> = self
            .transient_storage
            .iter()
            .filter(|(_, v)| !v.is_zero())
            .map(|(k, _)| *k)
            .collect();
        keys.sort();
        for key in keys {
            self.write_transient(key, U256::zero());
        }
    }

    pub(crate) fn record_event(&mut self, entry: LogEntry) {
        self.events.push(entry);
        self.journal.push(Undo::Event);
    }

    pub(crate) fn record_l2_to_l1_log(&mut self, entry: LogEntry) {
        self.l2_to_l1_logs.push(entry);
        self.journal.push(Undo::L2ToL1Log);
    }
}

fn restore<V>(map: &mut FxHashMap<StorageKey, V>, key: StorageKey, previous: Option<V>) {
    match previous {
        Some(v) => {
            map.insert(key, v);
        }
        None => {
            map.remove(&key);
        }
    }
}

/// An in-memory chain state: slot values at the start of the batch, known bytecodes, and
/// which slots were ever written before (so that a write to them is a repeated write).
#[derive(Clone, Debug, Default)]
pub struct InMemoryStorage {
    pub values: FxHashMap<StorageKey, U256>,
    pub bytecodes: FxHashMap<[u8; 28], Vec<U256>>,
    /// Slots that already have an enumeration index (their index in the state tree, from
    /// 1): writing them is a repeated write.
    pub enumerated: FxHashMap<StorageKey, u64>,
    pub free_slots: FxHashSet<StorageKey>,
    /// Contracts all of whose slots are free.
    pub free_contracts: FxHashSet<H160>,
}

impl InMemoryStorage {
    /// Commits a sealed batch's final values (see `OperatorVm::final_storage_changes`): they
    /// become the values at the start of the next batch, and their slots are enumerated, so
    /// writing them again is a repeated write. Slots new to the tree get the next indices,
    /// in the order given.
    pub fn commit(&mut self, changes: &[(StorageKey, U256)]) {
        for (key, value) in changes {
            self.values.insert(*key, *value);
            let next = self.enumerated.len() as u64 + 1;
            self.enumerated.entry(*key).or_insert(next);
        }
    }

    pub fn add_bytecode(&mut self, hash: U256, code: Vec<U256>) {
        self.bytecodes
            .insert(crate::code_hash::normalized(&hash), code);
    }
}

impl Storage for InMemoryStorage {
    fn decommit(&mut self, hash: U256) -> Option<Vec<U256>> {
        self.bytecodes
            .get(&crate::code_hash::normalized(&hash))
            .cloned()
    }

    fn storage_read(&mut self, key: &StorageKey) -> Option<U256> {
        self.values.get(key).copied()
    }

    fn cost_of_writing_storage(&mut self, key: &StorageKey, value: U256) -> u32 {
        let initial = self.values.get(key).copied().unwrap_or_default();
        if self.is_free_storage_slot(key) || initial == value {
            return 0;
        }
        let key_bytes = if self.enumerated.contains_key(key) {
            REPEATED_WRITE_KEY_BYTES
        } else {
            INITIAL_WRITE_KEY_BYTES
        };
        key_bytes + compressed_state_diff_len(initial, value)
    }

    fn is_free_storage_slot(&self, key: &StorageKey) -> bool {
        self.free_contracts.contains(&key.address) || self.free_slots.contains(key)
    }

    fn enumeration_index(&mut self, key: &StorageKey) -> Option<u64> {
        self.enumerated.get(key).copied()
    }
}

/// Bytes that identify a slot in the state diff the first time it is ever written.
pub const INITIAL_WRITE_KEY_BYTES: u32 = 32;
/// Bytes of the enumeration index that identifies an already known slot.
pub const REPEATED_WRITE_KEY_BYTES: u32 = 4;

/// Length of the shortest encoding of a slot's change in the state diff: one metadata byte
/// and the fewest bytes among adding, subtracting or replacing; 33 bytes when none of these
/// fits in 30.
pub fn compressed_state_diff_len(initial: U256, new: U256) -> u32 {
    let bytes = |v: U256| (v.bits() as u32).div_ceil(8);
    let shortest = [
        bytes(new.overflowing_sub(initial).0),
        bytes(initial.overflowing_sub(new).0),
        bytes(new),
    ]
    .into_iter()
    .filter(|&n| n < 31)
    .min();
    match shortest {
        Some(n) => 1 + n,
        None => 33,
    }
}
