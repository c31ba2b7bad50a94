//! The host a node gives `zk_evm`: a storage oracle, an event sink and a decommitter.
//!
//! The storage rules are those of zksync-era's vm1 storage oracle
//! (`zksync_multivm::versions::vm_latest::oracles::storage`), restated here:
//! - refunds are decided before an access: a read of a slot read before in the batch (or a
//!   free slot) refunds cold − warm read; a write to a slot written before (or free) refunds
//!   cold − warm write; a write to a slot only read before refunds the cold read cost;
//! - every storage access (reads, writes, and the far call's code-hash read) marks the slot
//!   read; writes mark it written; neither set is rolled back by a reverting frame;
//! - a write costs pubdata `price(new) − paid`, where price(v) is 0 for free slots or when v
//!   equals the slot's value at the start of the batch, else the key bytes (32 for a slot
//!   never written in an earlier batch, 4 otherwise) plus the length of the best state-diff
//!   compression of the change; `paid` then becomes price(new);
//! - a reverting frame restores its writes newest first, and sets `paid` to the price of the
//!   restored value;
//! - transient accesses are always warm with no refund (the VM does not even ask), and a new
//!   transaction clears transient storage with writes that can themselves be rolled back.
//!
//! The event sink keeps events and L2→L1 messages per frame and drops a reverting frame's.
//! The decommitter serves the world's bytecodes and remembers which page each went to.

use eravm::{StorageKey, H160, U256};
use rustc_hash::{FxHashMap, FxHashSet};
use zk_evm::aux_structures::{
    LogQuery, MemoryIndex, MemoryLocation, MemoryPage, PubdataCost, Timestamp,
};
use zk_evm::zkevm_opcode_defs::ethereum_types::{Address as RefAddress, U256 as RefU256};
use zk_evm::zkevm_opcode_defs::system_params::{
    EVENT_AUX_BYTE, STORAGE_AUX_BYTE, TRANSIENT_STORAGE_AUX_BYTE,
};
use zk_evm_abstractions::queries::{DecommittmentQuery, MemoryQuery};
use zk_evm_abstractions::vm::{
    DecommittmentProcessor, EventSink, Memory, MemoryType, Storage, StorageAccessRefund,
};

use super::reference::{from_ref, to_ref};
use crate::world::ResolvedWorld;

const COLD_READ: u32 = 2000;
const WARM_READ: u32 = 30;
const COLD_WRITE: u32 = 5500;
const WARM_WRITE: u32 = 60;

fn storage_key(address: &RefAddress, key: &RefU256) -> StorageKey {
    StorageKey {
        address: H160::from_slice(address.as_bytes()),
        key: from_ref(*key),
    }
}

/// How to undo a write when its frame reverts.
#[derive(Clone, Debug)]
enum Rollback {
    Storage { key: StorageKey, restore: U256 },
    Transient { key: StorageKey, restore: U256 },
}

#[derive(Clone, Debug)]
pub struct OracleStorage {
    world: std::sync::Arc<ResolvedWorld>,
    /// Current values of slots written in this run.
    pub current: FxHashMap<StorageKey, U256>,
    pub transient: FxHashMap<StorageKey, U256>,
    frames: Vec<Vec<Rollback>>,
    paid: FxHashMap<StorageKey, u32>,
    read: FxHashSet<StorageKey>,
    written: FxHashSet<StorageKey>,
    pub refunds: Vec<u32>,
    pub pubdata_costs: Vec<i32>,
}

impl OracleStorage {
    pub fn new(world: &ResolvedWorld) -> OracleStorage {
        OracleStorage {
            // Only the slots: the bytecodes go to the decommitter.
            world: std::sync::Arc::new(ResolvedWorld {
                values: world.values.clone(),
                enumerated: world.enumerated.clone(),
                hashed: world.hashed.clone(),
                ..Default::default()
            }),
            current: FxHashMap::default(),
            transient: FxHashMap::default(),
            frames: vec![Vec::new()],
            paid: FxHashMap::default(),
            read: FxHashSet::default(),
            written: FxHashSet::default(),
            refunds: Vec::new(),
            pubdata_costs: Vec::new(),
        }
    }

    pub fn initial_value(&self, key: &StorageKey) -> U256 {
        self.world.initial_value(key)
    }

    /// The slot's index in the state tree, if an earlier batch wrote it.
    pub fn enumeration_index(&self, key: &StorageKey) -> Option<u64> {
        self.world.enumeration_index(key)
    }

    fn value(&self, key: &StorageKey) -> U256 {
        match self.current.get(key) {
            Some(v) => *v,
            None => self.initial_value(key),
        }
    }

    /// Pubdata bytes of a slot holding `value` at the end, against its value at the start.
    fn price(&self, key: &StorageKey, value: U256) -> u32 {
        let initial = self.initial_value(key);
        if ResolvedWorld::is_free(key) || initial == value {
            return 0;
        }
        let key_bytes = if self.enumeration_index(key).is_some() {
            4
        } else {
            32
        };
        key_bytes + state_diff_bytes(initial, value)
    }

    fn journal(&mut self, entry: Rollback) {
        match self.frames.last_mut() {
            Some(frame) => frame.push(entry),
            None => self.frames.push(vec![entry]),
        }
    }
}

/// One metadata byte plus the shortest of: the difference up, the difference down, the new
/// value itself — each in as few bytes as it needs, if that is under 31; else 33 bytes.
pub(crate) fn state_diff_bytes(initial: U256, new: U256) -> u32 {
    let len = |v: U256| v.bits().div_ceil(8);
    let candidates = [
        len(new.overflowing_sub(initial).0),
        len(initial.overflowing_sub(new).0),
        len(new),
    ];
    match candidates.iter().copied().filter(|&n| n < 31).min() {
        Some(n) => 1 + n as u32,
        None => 33,
    }
}

impl Storage for OracleStorage {
    fn get_access_refund(&mut self, _cycle: u32, query: &LogQuery) -> StorageAccessRefund {
        let refund = if query.aux_byte == TRANSIENT_STORAGE_AUX_BYTE {
            StorageAccessRefund::Warm { ergs: 0 }
        } else {
            let key = storage_key(&query.address, &query.key);
            let free = ResolvedWorld::is_free(&key);
            if query.rw_flag {
                if free || self.written.contains(&key) {
                    StorageAccessRefund::Warm {
                        ergs: COLD_WRITE - WARM_WRITE,
                    }
                } else if self.read.contains(&key) {
                    StorageAccessRefund::Warm { ergs: COLD_READ }
                } else {
                    StorageAccessRefund::Cold
                }
            } else if free || self.read.contains(&key) {
                StorageAccessRefund::Warm {
                    ergs: COLD_READ - WARM_READ,
                }
            } else {
                StorageAccessRefund::Cold
            }
        };
        self.refunds.push(refund.refund());
        refund
    }

    fn execute_partial_query(
        &mut self,
        _cycle: u32,
        mut query: LogQuery,
    ) -> (LogQuery, PubdataCost) {
        let key = storage_key(&query.address, &query.key);
        let written = from_ref(query.written_value);
        let mut pubdata = 0;
        if query.aux_byte == TRANSIENT_STORAGE_AUX_BYTE {
            let previous = self.transient.get(&key).copied().unwrap_or_default();
            query.read_value = to_ref(previous);
            if query.rw_flag {
                self.journal(Rollback::Transient {
                    key,
                    restore: previous,
                });
                self.transient.insert(key, written);
            }
        } else {
            assert_eq!(
                query.aux_byte, STORAGE_AUX_BYTE,
                "only storage reaches the oracle"
            );
            self.read.insert(key);
            let previous = self.value(&key);
            query.read_value = to_ref(previous);
            if query.rw_flag {
                let price = self.price(&key, written);
                pubdata = price as i32 - self.paid.get(&key).copied().unwrap_or(0) as i32;
                self.paid.insert(key, price);
                self.pubdata_costs.push(pubdata);
                self.written.insert(key);
                self.journal(Rollback::Storage {
                    key,
                    restore: previous,
                });
                self.current.insert(key, written);
            }
        }
        (query, PubdataCost(pubdata))
    }

    fn start_frame(&mut self, _timestamp: Timestamp) {
        self.frames.push(Vec::new());
    }

    fn finish_frame(&mut self, _timestamp: Timestamp, panicked: bool) {
        let frame = self.frames.pop().unwrap_or_default();
        if panicked {
            for entry in frame.into_iter().rev() {
                match entry {
                    Rollback::Storage { key, restore } => {
                        self.current.insert(key, restore);
                        let price = self.price(&key, restore);
                        self.paid.insert(key, price);
                    }
                    Rollback::Transient { key, restore } => {
                        self.transient.insert(key, restore);
                    }
                }
            }
        } else {
            match self.frames.last_mut() {
                Some(parent) => parent.extend(frame),
                None => self.frames.push(frame),
            }
        }
    }

    fn start_new_tx(&mut self, _timestamp: Timestamp) {
        let keys: Vec<StorageKey> = self.transient.keys().copied().collect();
        for key in keys {
            let previous = self.transient.insert(key, U256::zero()).unwrap_or_default();
            self.journal(Rollback::Transient {
                key,
                restore: previous,
            });
        }
    }
}

/// Events and L2→L1 messages, in order, with the counts at each frame's start.
#[derive(Clone, Debug, Default)]
pub struct JournaledEvents {
    pub events: Vec<LogQuery>,
    pub messages: Vec<LogQuery>,
    marks: Vec<(usize, usize)>,
}

impl EventSink for JournaledEvents {
    fn add_partial_query(&mut self, _cycle: u32, query: LogQuery) {
        if query.aux_byte == EVENT_AUX_BYTE {
            self.events.push(query);
        } else {
            self.messages.push(query);
        }
    }

    fn start_frame(&mut self, _timestamp: Timestamp) {
        self.marks.push((self.events.len(), self.messages.len()));
    }

    fn finish_frame(&mut self, panicked: bool, _timestamp: Timestamp) {
        let (events, messages) = self.marks.pop().unwrap_or((0, 0));
        if panicked {
            self.events.truncate(events);
            self.messages.truncate(messages);
        }
    }
}

/// Serves bytecodes by the hash proper (bytes 4..32) and remembers where each was loaded.
#[derive(Clone, Debug, Default)]
pub struct WorldDecommitter {
    known: FxHashMap<[u8; 28], Vec<RefU256>>,
    /// Hash proper → (page, length in words) of every decommitted bytecode.
    pub loaded: FxHashMap<[u8; 28], (u32, u16)>,
}

impl WorldDecommitter {
    pub fn new(world: &ResolvedWorld) -> WorldDecommitter {
        let mut known = FxHashMap::default();
        for (hash, code) in &world.bytecodes {
            let mut bytes = [0u8; 32];
            hash.to_big_endian(&mut bytes);
            let mut proper = [0u8; 28];
            proper.copy_from_slice(&bytes[4..]);
            known.insert(proper, code.iter().map(|w| to_ref(*w)).collect());
        }
        WorldDecommitter {
            known,
            loaded: FxHashMap::default(),
        }
    }
}

impl WorldDecommitter {
    /// The bytes of a bytecode the decommitter knows, by its versioned hash.
    pub fn bytes_of(&self, hash: U256) -> Option<Vec<u8>> {
        let mut bytes = [0u8; 32];
        hash.to_big_endian(&mut bytes);
        let proper: [u8; 28] = bytes[4..].try_into().ok()?;
        let code = self.known.get(&proper)?;
        Some(
            code.iter()
                .flat_map(|w| {
                    let mut b = [0u8; 32];
                    w.to_big_endian(&mut b);
                    b
                })
                .collect(),
        )
    }
}

impl DecommittmentProcessor for WorldDecommitter {
    fn prepare_to_decommit(
        &mut self,
        _cycle: u32,
        mut query: DecommittmentQuery,
    ) -> anyhow::Result<DecommittmentQuery> {
        let proper = query.normalized_preimage.0;
        if let Some(&(page, length)) = self.loaded.get(&proper) {
            query.is_fresh = false;
            query.memory_page = MemoryPage(page);
            query.decommitted_length = length;
            return Ok(query);
        }
        let code = self
            .known
            .get(&proper)
            .ok_or_else(|| anyhow::anyhow!("no bytecode for hash {:02x?}", proper))?;
        query.is_fresh = true;
        query.decommitted_length = code.len() as u16;
        Ok(query)
    }

    fn decommit_into_memory<M: Memory>(
        &mut self,
        cycle: u32,
        query: DecommittmentQuery,
        memory: &mut M,
    ) -> anyhow::Result<Option<Vec<RefU256>>> {
        let proper = query.normalized_preimage.0;
        let code = self
            .known
            .get(&proper)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no bytecode for hash {:02x?}", proper))?;
        for (i, word) in code.iter().enumerate() {
            memory.specialized_code_query(
                cycle,
                MemoryQuery {
                    timestamp: query.timestamp,
                    location: MemoryLocation {
                        memory_type: MemoryType::Code,
                        page: query.memory_page,
                        index: MemoryIndex(i as u32),
                    },
                    value: *word,
                    rw_flag: true,
                    value_is_pointer: false,
                },
            );
        }
        self.loaded
            .insert(proper, (query.memory_page.0, query.decommitted_length));
        Ok(Some(code))
    }
}
