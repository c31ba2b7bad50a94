//! The world of a case: contracts, initial storage, and the chain rules both VMs' hosts apply.

use eravm::{StorageKey, H160, U256};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hex::{Address, Word};

/// The account code storage contract: slot `address` holds the code hash of `address`.
pub const ACCOUNT_CODE_STORAGE: u64 = 0x8002;
/// The base token contract; the bootloader's balance slot in it is free.
pub const BASE_TOKEN: u64 = 0x800a;
/// Every slot of the system context contract is free.
pub const SYSTEM_CONTEXT: u64 = 0x800b;

/// Contracts and storage a case starts from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    /// Deployed contracts: their code hashes go into the account code storage.
    #[serde(default)]
    pub contracts: Vec<Contract>,
    /// Initial slot values (on top of the code hashes of `contracts`).
    #[serde(default)]
    pub storage: Vec<Slot>,
    /// Slots written in earlier batches: writing them again is a repeated write. Their
    /// enumeration indices (published in the pubdata) follow this order, from 1.
    #[serde(default)]
    pub enumerated: Vec<SlotKey>,
    /// Code run for addresses without code.
    #[serde(default)]
    pub default_account: Vec<Word>,
    /// Code run for addresses holding EVM bytecode.
    #[serde(default)]
    pub evm_emulator: Vec<Word>,
    /// Slots known only by their derived key, as a node's state snapshot holds them (the
    /// storage a `VmDump` carries).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashed_storage: Vec<HashedSlot>,
    /// More bytecodes the decommitter knows (factory dependencies), by their own hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bytecodes: Vec<Vec<Word>>,
}

/// A slot by its derived key (`blake2s(address as 32 bytes ‖ key)`), with its value and its
/// enumeration index; no index means the slot was never written (its write is initial).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashedSlot {
    pub derived_key: Word,
    #[serde(default)]
    pub value: Word,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enumeration_index: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub address: Address,
    pub code: Vec<Word>,
    /// Deployed with the "being constructed" marker.
    #[serde(default)]
    pub constructing: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    pub address: Address,
    pub key: Word,
    pub value: Word,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotKey {
    pub address: Address,
    pub key: Word,
}

/// The versioned hash of EraVM bytecode: version 1, the construction marker, the length in
/// words, then the last 28 bytes of the sha256 of the code.
pub fn bytecode_hash(code: &[Word], constructing: bool) -> U256 {
    let mut hasher = Sha256::new();
    let mut bytes = [0u8; 32];
    for w in code {
        w.0.to_big_endian(&mut bytes);
        hasher.update(bytes);
    }
    let digest = hasher.finalize();
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&digest);
    hash[0] = 1;
    hash[1] = constructing as u8;
    hash[2..4].copy_from_slice(&(code.len() as u16).to_be_bytes());
    U256::from_big_endian(&hash)
}

/// The bootloader's balance slot in the base token contract (hashed once: hosts ask often).
pub fn bootloader_balance_key() -> U256 {
    static KEY: std::sync::LazyLock<U256> = std::sync::LazyLock::new(|| {
        use sha3::{Digest as _, Keccak256};
        let mut preimage = [0u8; 64];
        preimage[30..32].copy_from_slice(&eravm::BOOTLOADER_ADDRESS.to_be_bytes());
        U256::from_big_endian(&Keccak256::digest(preimage))
    });
    *KEY
}

/// Everything a host needs, resolved once from a [`World`].
#[derive(Clone, Debug, Default)]
pub struct ResolvedWorld {
    pub values: FxHashMap<StorageKey, U256>,
    /// Bytecodes by hash.
    pub bytecodes: Vec<(U256, Vec<U256>)>,
    /// Slots written in earlier batches, with their enumeration indices: the position of
    /// their first mention in [`World::enumerated`], from 1.
    pub enumerated: FxHashMap<StorageKey, u64>,
    pub default_aa_code_hash: U256,
    pub evm_emulator_code_hash: U256,
    /// Slots known by their derived key only: value and enumeration index.
    pub hashed: FxHashMap<[u8; 32], (U256, Option<u64>)>,
}

impl ResolvedWorld {
    /// Whether a slot is free: no pubdata, always warm.
    pub fn is_free(key: &StorageKey) -> bool {
        key.address == H160::from_low_u64_be(SYSTEM_CONTEXT)
            || (key.address == H160::from_low_u64_be(BASE_TOKEN)
                && key.key == bootloader_balance_key())
    }

    fn hashed_slot(&self, key: &StorageKey) -> Option<(U256, Option<u64>)> {
        if self.hashed.is_empty() {
            return None;
        }
        let derived = eravm::operator::pubdata::derived_key(&key.address, &key.key);
        self.hashed.get(&derived).copied()
    }

    /// A slot's value at the start of the batch.
    pub fn initial_value(&self, key: &StorageKey) -> U256 {
        match self.values.get(key) {
            Some(value) => *value,
            None => self.hashed_slot(key).map(|(v, _)| v).unwrap_or_default(),
        }
    }

    /// A slot's enumeration index, if an earlier batch wrote it.
    pub fn enumeration_index(&self, key: &StorageKey) -> Option<u64> {
        match self.enumerated.get(key) {
            Some(index) => Some(*index),
            None => self.hashed_slot(key).and_then(|(_, index)| index),
        }
    }
}

fn key(address: &Address, key: &Word) -> StorageKey {
    StorageKey {
        address: address.0,
        key: key.0,
    }
}

impl World {
    pub fn resolve(&self) -> ResolvedWorld {
        let mut resolved = ResolvedWorld::default();
        let words = |code: &[Word]| code.iter().map(|w| w.0).collect::<Vec<U256>>();
        for c in &self.contracts {
            let hash = bytecode_hash(&c.code, c.constructing);
            resolved.values.insert(
                StorageKey {
                    address: H160::from_low_u64_be(ACCOUNT_CODE_STORAGE),
                    key: U256::from_big_endian(c.address.0.as_bytes()),
                },
                hash,
            );
            resolved.bytecodes.push((hash, words(&c.code)));
        }
        resolved.default_aa_code_hash = bytecode_hash(&self.default_account, false);
        resolved
            .bytecodes
            .push((resolved.default_aa_code_hash, words(&self.default_account)));
        resolved.evm_emulator_code_hash = bytecode_hash(&self.evm_emulator, false);
        resolved
            .bytecodes
            .push((resolved.evm_emulator_code_hash, words(&self.evm_emulator)));
        for s in &self.storage {
            resolved.values.insert(key(&s.address, &s.key), s.value.0);
        }
        for code in &self.bytecodes {
            resolved
                .bytecodes
                .push((bytecode_hash(code, false), words(code)));
        }
        for s in &self.hashed_storage {
            let mut derived = [0u8; 32];
            s.derived_key.0.to_big_endian(&mut derived);
            resolved
                .hashed
                .insert(derived, (s.value.0, s.enumeration_index));
        }
        for k in &self.enumerated {
            let next = resolved.enumerated.len() as u64 + 1;
            resolved
                .enumerated
                .entry(key(&k.address, &k.key))
                .or_insert(next);
        }
        // Identical code deployed twice has one hash: keep one copy.
        let mut seen = FxHashSet::default();
        resolved.bytecodes.retain(|(h, _)| seen.insert(*h));
        resolved
    }
}

impl ResolvedWorld {
    /// The chain state as `eravm`'s in-memory host.
    pub fn eravm_storage(&self) -> eravm::InMemoryStorage {
        let mut storage = eravm::InMemoryStorage {
            values: self.values.clone(),
            enumerated: self.enumerated.clone(),
            hashed: self.hashed.clone(),
            ..Default::default()
        };
        for (hash, code) in &self.bytecodes {
            storage.add_bytecode(*hash, code.clone());
        }
        storage
            .free_contracts
            .insert(H160::from_low_u64_be(SYSTEM_CONTEXT));
        storage.free_slots.insert(StorageKey {
            address: H160::from_low_u64_be(BASE_TOKEN),
            key: bootloader_balance_key(),
        });
        storage
    }

    pub fn chain_settings(&self) -> eravm::ChainSettings {
        eravm::ChainSettings {
            default_aa_code_hash: self.default_aa_code_hash,
            evm_emulator_code_hash: self.evm_emulator_code_hash,
        }
    }
}
