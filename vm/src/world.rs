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
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// The ergs refund granted for each storage access, in order.
    pub refunds: Vec<u32>,
    /// Every slot the run touched: warm for reads, for writes, and what its current value
    /// was priced at (one entry, so that a storage access looks the slot up once).
    pub slot_access: FxHashMap<StorageKey, SlotAccess>,
    /// Normalised hash (bytes 4..32) of every decommitted bytecode, and the page it went to.
    pub decommitted_hashes: FxHashMap<[u8; 28], u32>,
    /// Every storage write, in order (rolled back ones too).
    pub storage_writes: Vec<StorageKey>,
    /// How many storage writes a reverting frame undid.
    pub storage_writes_rolled_back: u64,
    journal: Vec<Undo>,
    frame_marks: Vec<usize>,
    /// While the operator holds snapshots: every change since the oldest, to undo them in
    /// reverse on a rollback. Frame rollbacks are changes too (a frame that began before a
    /// snapshot may revert after it), so this log is separate from the frames' journal.
    changes: Vec<Change>,
    /// Snapshots held; changes are logged only while this is not zero.
    snapshots_held: u32,
}

/// What a run did to one slot. Warmth stays when a frame reverts; the price paid does not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotAccess {
    /// Read (or written) before: further accesses are warm.
    pub read: bool,
    /// Written before: further writes are warm.
    pub written: bool,
    /// The pubdata the slot's current value was priced at, once written.
    pub paid: Option<u32>,
}

/// One change to the state of L2 changes, as an operator rollback undoes it.
#[derive(Clone, Debug)]
enum Change {
    Storage {
        key: StorageKey,
        previous: Option<U256>,
        previous_paid: Option<u32>,
    },
    Transient {
        key: StorageKey,
        previous: Option<U256>,
    },
    EventPushed,
    EventPopped(LogEntry),
    L2ToL1LogPushed,
    L2ToL1LogPopped(LogEntry),
    SlotRead(StorageKey),
    SlotWritten(StorageKey),
    Decommitted([u8; 28], Option<u32>),
    JournalPushed,
    JournalPopped(Undo),
}

/// Where the state of L2 changes was when the operator took a snapshot: positions in its
/// logs, not copies (see [`VmState::snapshot`]).
/// Not `Clone`: a snapshot is rolled back to, or forgotten, once.
#[derive(Debug)]
pub struct WorldSnapshot {
    changes: usize,
    frame_marks: Vec<usize>,
    pubdata_costs: usize,
    refunds: usize,
    storage_writes: usize,
    storage_writes_rolled_back: u64,
}

impl VmState {
    #[inline]
    pub(crate) fn start_frame(&mut self) {
        self.frame_marks.push(self.journal.len());
    }

    /// How many changes the current frame (near or far) has made so far, which a revert
    /// or panic would undo.
    pub fn changes_in_frame(&self) -> usize {
        self.journal.len()
            - self
                .frame_marks
                .last()
                .copied()
                .unwrap_or(0)
                .min(self.journal.len())
    }

    /// Closes the current frame; on `rollback` undoes everything it changed, newest first.
    #[inline]
    pub(crate) fn finish_frame(&mut self, rollback: bool) {
        let mark = self.frame_marks.pop().unwrap_or(0);
        #[cfg(feature = "fault-injection")]
        let mark = if crate::faults::is_active(crate::faults::Fault::RevertUndoesCallerChanges) {
            self.frame_marks.last().copied().unwrap_or(mark)
        } else {
            mark
        };
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
            let Some(undo) = self.journal.pop() else {
                break;
            };
            if self.snapshots_held > 0 {
                self.changes.push(Change::JournalPopped(undo.clone()));
            }
            match undo {
                Undo::Storage {
                    key,
                    previous,
                    previous_paid,
                } => {
                    let now = restore(&mut self.storage_changes, key, previous);
                    let now_paid = self.set_paid(key, previous_paid);
                    self.note(|| Change::Storage {
                        key,
                        previous: now,
                        previous_paid: now_paid,
                    });
                    self.storage_writes_rolled_back += 1;
                }
                Undo::Transient { key, previous } => {
                    let now = restore(&mut self.transient_storage, key, previous);
                    self.note(|| Change::Transient { key, previous: now });
                }
                Undo::Event if !keep_logs => {
                    if let Some(entry) = self.events.pop() {
                        self.note(|| Change::EventPopped(entry));
                    }
                }
                Undo::L2ToL1Log if !keep_logs => {
                    if let Some(entry) = self.l2_to_l1_logs.pop() {
                        self.note(|| Change::L2ToL1LogPopped(entry));
                    }
                }
                Undo::Event | Undo::L2ToL1Log => {}
            }
        }
    }

    /// Logs a change for the operator's rollbacks, if it holds a snapshot.
    #[inline]
    fn note(&mut self, change: impl FnOnce() -> Change) {
        if self.snapshots_held > 0 {
            self.changes.push(change());
        }
    }

    /// Adds to the frames' journal (logged, so that an operator rollback can take it out).
    #[inline]
    fn journal(&mut self, undo: Undo) {
        self.journal.push(undo);
        self.note(|| Change::JournalPushed);
    }

    /// What the run did to a slot so far.
    #[inline]
    pub fn access(&self, key: &StorageKey) -> SlotAccess {
        self.slot_access.get(key).copied().unwrap_or_default()
    }

    /// Marks a slot as read; returns whether it was warm already.
    pub(crate) fn warm_for_read(&mut self, key: StorageKey) -> bool {
        let access = self.slot_access.entry(key).or_default();
        let was_warm = std::mem::replace(&mut access.read, true);
        if !was_warm {
            self.note(|| Change::SlotRead(key));
        }
        was_warm
    }

    /// Sets what a slot's current value was priced at; returns what it was.
    fn set_paid(&mut self, key: StorageKey, paid: Option<u32>) -> Option<u32> {
        let access = self.slot_access.entry(key).or_default();
        let previous = std::mem::replace(&mut access.paid, paid);
        self.forget_if_untouched(key);
        previous
    }

    /// Drops a slot's entry once nothing is left in it (after a rollback), so that the map
    /// holds what a run did, not what it undid.
    fn forget_if_untouched(&mut self, key: StorageKey) {
        if self.slot_access.get(&key) == Some(&SlotAccess::default()) {
            self.slot_access.remove(&key);
        }
    }

    /// Records that a bytecode was decommitted to `page`.
    pub(crate) fn mark_decommitted(&mut self, hash: [u8; 28], page: u32) {
        let previous = self.decommitted_hashes.insert(hash, page);
        if previous != Some(page) {
            self.note(|| Change::Decommitted(hash, previous));
        }
    }

    /// Starts logging changes for an operator rollback. The cost is that of the changes made
    /// while the snapshot is held, not the size of the state. Every snapshot must end in
    /// [`VmState::rollback`] or [`VmState::forget`] (until then, changes are logged).
    pub fn snapshot(&mut self) -> WorldSnapshot {
        self.snapshots_held += 1;
        WorldSnapshot {
            changes: self.changes.len(),
            frame_marks: self.frame_marks.clone(),
            pubdata_costs: self.pubdata_costs.len(),
            refunds: self.refunds.len(),
            storage_writes: self.storage_writes.len(),
            storage_writes_rolled_back: self.storage_writes_rolled_back,
        }
    }

    /// Undoes every change since `snapshot`, newest first.
    pub fn rollback(&mut self, snapshot: WorldSnapshot) {
        while self.changes.len() > snapshot.changes {
            let Some(change) = self.changes.pop() else {
                break;
            };
            match change {
                Change::Storage {
                    key,
                    previous,
                    previous_paid,
                } => {
                    restore(&mut self.storage_changes, key, previous);
                    self.set_paid(key, previous_paid);
                }
                Change::Transient { key, previous } => {
                    restore(&mut self.transient_storage, key, previous);
                }
                Change::EventPushed => {
                    self.events.pop();
                }
                Change::EventPopped(entry) => self.events.push(entry),
                Change::L2ToL1LogPushed => {
                    self.l2_to_l1_logs.pop();
                }
                Change::L2ToL1LogPopped(entry) => self.l2_to_l1_logs.push(entry),
                Change::SlotRead(key) => {
                    if let Some(access) = self.slot_access.get_mut(&key) {
                        access.read = false;
                    }
                    self.forget_if_untouched(key);
                }
                Change::SlotWritten(key) => {
                    if let Some(access) = self.slot_access.get_mut(&key) {
                        access.written = false;
                    }
                    self.forget_if_untouched(key);
                }
                Change::Decommitted(hash, previous) => match previous {
                    Some(page) => {
                        self.decommitted_hashes.insert(hash, page);
                    }
                    None => {
                        self.decommitted_hashes.remove(&hash);
                    }
                },
                Change::JournalPushed => {
                    self.journal.pop();
                }
                Change::JournalPopped(undo) => self.journal.push(undo),
            }
        }
        self.frame_marks = snapshot.frame_marks;
        self.pubdata_costs.truncate(snapshot.pubdata_costs);
        self.refunds.truncate(snapshot.refunds);
        self.storage_writes.truncate(snapshot.storage_writes);
        self.storage_writes_rolled_back = snapshot.storage_writes_rolled_back;
        self.release();
    }

    /// Drops a snapshot without rolling back: its changes stay.
    pub fn forget(&mut self, _snapshot: WorldSnapshot) {
        self.release();
    }

    fn release(&mut self) {
        self.snapshots_held = self.snapshots_held.saturating_sub(1);
        if self.snapshots_held == 0 {
            self.changes.clear();
        }
    }

    /// The current value of a slot.
    pub fn read_storage(&self, storage: &mut dyn Storage, key: &StorageKey) -> U256 {
        match self.storage_changes.get(key) {
            Some(v) => *v,
            None => storage.storage_read(key).unwrap_or_default(),
        }
    }

    /// Writes a slot priced at `paid`, marking it read and written (warm from now on).
    pub(crate) fn write_storage(&mut self, key: StorageKey, value: U256, paid: u32) {
        self.storage_writes.push(key);
        let previous = self.storage_changes.insert(key, value);
        let access = self.slot_access.entry(key).or_default();
        let previous_paid = access.paid.replace(paid);
        let was_read = std::mem::replace(&mut access.read, true);
        let was_written = std::mem::replace(&mut access.written, true);
        if !was_read {
            self.note(|| Change::SlotRead(key));
        }
        if !was_written {
            self.note(|| Change::SlotWritten(key));
        }
        self.note(|| Change::Storage {
            key,
            previous,
            previous_paid,
        });
        self.journal(Undo::Storage {
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
        self.note(|| Change::Transient { key, previous });
        self.journal(Undo::Transient { key, previous });
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
        self.note(|| Change::EventPushed);
        self.journal(Undo::Event);
    }

    pub(crate) fn record_l2_to_l1_log(&mut self, entry: LogEntry) {
        self.l2_to_l1_logs.push(entry);
        self.note(|| Change::L2ToL1LogPushed);
        self.journal(Undo::L2ToL1Log);
    }
}

/// Puts a slot back to `previous` (absent if `None`); returns what it held.
fn restore<V>(
    map: &mut FxHashMap<StorageKey, V>,
    key: StorageKey,
    previous: Option<V>,
) -> Option<V> {
    match previous {
        Some(v) => map.insert(key, v),
        None => map.remove(&key),
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
    /// Slots known only by their derived key (a node's state snapshot): value and
    /// enumeration index, consulted for slots not in `values`.
    pub hashed: FxHashMap<[u8; 32], (U256, Option<u64>)>,
}

impl InMemoryStorage {
    /// Commits a sealed batch's final values (see `OperatorVm::final_storage_changes`): they
    /// become the values at the start of the next batch, and their slots are enumerated, so
    /// writing them again is a repeated write. Slots new to the tree get the next indices,
    /// in the order given.
    pub fn commit(&mut self, changes: &[(StorageKey, U256)]) {
        // Indices go on from the highest given so far, by address or by derived key.
        let by_hash = self.hashed.values().filter_map(|(_, index)| *index);
        let mut last = self
            .enumerated
            .values()
            .copied()
            .chain(by_hash)
            .max()
            .unwrap_or(0);
        for (key, value) in changes {
            self.values.insert(*key, *value);
            if self.index(key).is_none() {
                last += 1;
                self.enumerated.insert(*key, last);
            }
        }
    }

    /// A slot known only by its derived key.
    fn hashed_slot(&self, key: &StorageKey) -> Option<(U256, Option<u64>)> {
        if self.hashed.is_empty() {
            return None;
        }
        self.hashed
            .get(&crate::operator::pubdata::derived_key(
                &key.address,
                &key.key,
            ))
            .copied()
    }

    fn initial_value(&self, key: &StorageKey) -> Option<U256> {
        match self.values.get(key) {
            Some(value) => Some(*value),
            None => self.hashed_slot(key).map(|(value, _)| value),
        }
    }

    fn index(&self, key: &StorageKey) -> Option<u64> {
        match self.enumerated.get(key) {
            Some(index) => Some(*index),
            None => self.hashed_slot(key).and_then(|(_, index)| index),
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
        self.initial_value(key)
    }

    fn cost_of_writing_storage(&mut self, key: &StorageKey, value: U256) -> u32 {
        let initial = self.initial_value(key).unwrap_or_default();
        if self.is_free_storage_slot(key) || initial == value {
            return 0;
        }
        let key_bytes = if self.index(key).is_some() {
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
        self.index(key)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything in the state of L2 changes, in a comparable order.
    #[allow(clippy::type_complexity)]
    fn contents(
        w: &VmState,
    ) -> (
        Vec<(StorageKey, U256, Option<u32>)>,
        Vec<(StorageKey, U256)>,
        [Vec<LogEntry>; 2],
        [Vec<StorageKey>; 2],
        Vec<([u8; 28], u32)>,
        (Vec<i32>, Vec<u32>, Vec<StorageKey>, u64),
        (Vec<Undo>, Vec<usize>),
    ) {
        let sorted = |set: &FxHashSet<StorageKey>| {
            let mut v: Vec<_> = set.iter().copied().collect();
            v.sort();
            v
        };
        let mut storage: Vec<_> = w
            .storage_changes
            .iter()
            .map(|(k, v)| (*k, *v, w.access(k).paid))
            .collect();
        storage.sort();
        let mut transient: Vec<_> = w.transient_storage.iter().map(|(k, v)| (*k, *v)).collect();
        transient.sort();
        let mut decommitted: Vec<_> = w.decommitted_hashes.iter().map(|(h, p)| (*h, *p)).collect();
        // Unstable is the same here: equal elements are identical.
        decommitted.sort_unstable();
        (
            storage,
            transient,
            [w.events.clone(), w.l2_to_l1_logs.clone()],
            [
                sorted(
                    &w.slot_access
                        .iter()
                        .filter(|(_, a)| a.read)
                        .map(|(k, _)| *k)
                        .collect(),
                ),
                sorted(
                    &w.slot_access
                        .iter()
                        .filter(|(_, a)| a.written)
                        .map(|(k, _)| *k)
                        .collect(),
                ),
            ],
            decommitted,
            (
                w.pubdata_costs.clone(),
                w.refunds.clone(),
                w.storage_writes.clone(),
                w.storage_writes_rolled_back,
            ),
            (w.journal.clone(), w.frame_marks.clone()),
        )
    }

    /// `n` pseudo-random changes, frames opening and closing among them (closing frames
    /// that began before the current snapshot too).
    fn change(w: &mut VmState, rng: &mut u64, n: usize) {
        for _ in 0..n {
            *rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = *rng >> 33;
            let key = StorageKey {
                address: H160::from_low_u64_be(r % 3),
                key: U256::from((r >> 2) % 5),
            };
            let value = U256::from(r >> 8 & 3);
            let entry = LogEntry {
                address: key.address,
                key: key.key,
                value,
                is_first: r & 1 == 0,
                tx_number: 0,
                shard_id: 0,
            };
            match r % 13 {
                0 | 1 => w.write_storage(key, value, (r >> 12) as u32 % 40),
                2 => w.write_transient(key, value),
                3 => w.record_event(entry),
                4 => w.record_l2_to_l1_log(entry),
                5 => {
                    w.warm_for_read(key);
                }
                6 => {
                    let paid = w.access(&key).paid.unwrap_or(0);
                    w.write_storage(key, value, paid + 1);
                }
                7 => w.mark_decommitted([(r >> 4) as u8 % 4; 28], (r >> 8) as u32 % 3),
                8 => w.refunds.push(r as u32),
                9 => w.pubdata_costs.push(r as i32),
                10 => w.clear_transient(),
                11 => w.start_frame(),
                _ => w.finish_frame(r & 16 != 0),
            }
        }
    }

    #[test]
    fn a_rollback_restores_what_a_copy_would_hold() {
        for seed in 0..300u64 {
            let mut rng = seed;
            let mut w = VmState::default();
            w.start_frame();
            change(&mut w, &mut rng, 25);
            let at_outer = contents(&w);
            let outer = w.snapshot();
            change(&mut w, &mut rng, 30);
            let at_inner = contents(&w);
            let inner = w.snapshot();
            change(&mut w, &mut rng, 30);
            if seed % 2 == 0 {
                w.rollback(inner);
                assert_eq!(contents(&w), at_inner, "seed {seed}: inner rollback");
            } else {
                w.forget(inner);
            }
            change(&mut w, &mut rng, 20);
            w.rollback(outer);
            assert_eq!(contents(&w), at_outer, "seed {seed}: outer rollback");
            assert!(w.changes.is_empty(), "no snapshot held, nothing logged");
        }
    }
}
