//! The state of a new chain, as a node's genesis writes it: every contract of a bundle at its
//! address, its code hash in the account code storage and marked known, SystemContext's
//! chain id, block gas limit, coinbase and difficulty, and balances for the accounts a batch
//! spends from. Slots are enumerated 1..n in (address, key) order, as zksync-era's
//! in-memory storage does.

use eravm::{H160, U256};
use sha3::{Digest, Keccak256};

use crate::case::{Address, Word};
use crate::contracts::Bundle;
use crate::world::{bytecode_hash, Contract, Slot, SlotKey, World, BASE_TOKEN, SYSTEM_CONTEXT};

/// The known-codes storage: a code hash's slot holds 1 once the code is known.
pub const KNOWN_CODES_STORAGE: u64 = 0x8004;
/// The ContractDeployer: deploys are calls to it.
pub const CONTRACT_DEPLOYER: u64 = 0x8006;
/// The chain id a node's in-memory storage defaults to.
pub const DEFAULT_CHAIN_ID: u64 = 270;

/// SystemContext's slots a genesis sets.
const CHAIN_ID_SLOT: u64 = 0;
const BLOCK_GAS_LIMIT_SLOT: u64 = 3;
const COINBASE_SLOT: u64 = 4;
const DIFFICULTY_SLOT: u64 = 5;
/// SystemContext's block gas limit at genesis (2^50) and difficulty (2.5 × 10^15).
const BLOCK_GAS_LIMIT: u64 = 1 << 50;
const DIFFICULTY: u64 = 2_500_000_000_000_000;

/// What a genesis needs beyond the bundle.
#[derive(Clone, Debug, Default)]
pub struct Genesis {
    /// The chain id, as the system context contract holds it.
    pub chain_id: u64,
    /// Base-token balances.
    pub balances: Vec<(H160, U256)>,
    /// More contracts (user code) deployed at genesis.
    pub contracts: Vec<Contract>,
}

/// An account's balance slot in the base token (`balance` is the contract's first mapping).
pub fn balance_key(account: &H160) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[12..32].copy_from_slice(account.as_bytes());
    U256::from_big_endian(&Keccak256::digest(preimage))
}

fn slot(address: u64, key: U256, value: U256) -> Slot {
    Slot {
        address: Address(H160::from_low_u64_be(address)),
        key: Word(key),
        value: Word(value),
    }
}

impl Genesis {
    /// The world at genesis: `bundle`'s contracts and these accounts and contracts.
    pub fn world(&self, bundle: &Bundle) -> World {
        let mut world = bundle.world();
        world.contracts.extend(self.contracts.iter().cloned());
        let mut hashes: Vec<U256> = world
            .contracts
            .iter()
            .map(|c| bytecode_hash(&c.code, c.constructing))
            .collect();
        hashes.push(bytecode_hash(&world.default_account, false));
        if !world.evm_emulator.is_empty() {
            hashes.push(bytecode_hash(&world.evm_emulator, false));
        }
        hashes.sort();
        hashes.dedup();
        let mut storage: Vec<Slot> = hashes
            .into_iter()
            .map(|hash| slot(KNOWN_CODES_STORAGE, hash, U256::one()))
            .collect();
        storage.extend([
            slot(SYSTEM_CONTEXT, CHAIN_ID_SLOT.into(), self.chain_id.into()),
            slot(
                SYSTEM_CONTEXT,
                BLOCK_GAS_LIMIT_SLOT.into(),
                BLOCK_GAS_LIMIT.into(),
            ),
            slot(
                SYSTEM_CONTEXT,
                COINBASE_SLOT.into(),
                eravm::BOOTLOADER_ADDRESS.into(),
            ),
            slot(SYSTEM_CONTEXT, DIFFICULTY_SLOT.into(), DIFFICULTY.into()),
        ]);
        storage.extend(
            self.balances
                .iter()
                .map(|(account, amount)| slot(BASE_TOKEN, balance_key(account), *amount)),
        );
        // Every slot written, code hashes included, is enumerated in key order.
        let mut enumerated: Vec<SlotKey> = storage
            .iter()
            .map(|s| SlotKey {
                address: s.address,
                key: s.key,
            })
            .chain(world.contracts.iter().map(|c| SlotKey {
                address: Address(H160::from_low_u64_be(crate::world::ACCOUNT_CODE_STORAGE)),
                key: Word(U256::from_big_endian(c.address.0.as_bytes())),
            }))
            .collect();
        enumerated.sort_by_key(|k| (k.address.0, k.key.0));
        enumerated.dedup();
        world.storage.extend(storage);
        world.enumerated = enumerated;
        world
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_keys_hash_the_padded_address_and_slot_zero() {
        let account = H160::from_low_u64_be(0x8001);
        let mut preimage = [0u8; 64];
        preimage[30] = 0x80;
        preimage[31] = 0x01;
        assert_eq!(
            balance_key(&account),
            U256::from_big_endian(&Keccak256::digest(preimage))
        );
        assert_eq!(
            balance_key(&account),
            crate::world::bootloader_balance_key()
        );
    }
}
