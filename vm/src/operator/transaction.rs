//! Transactions as the production bootloader reads them: the protocol's `Transaction`
//! struct, ABI-encoded into the bootloader's heap, with the operator's per-transaction words
//! (overhead, trusted gas limit) and the L2 block it runs in.
//!
//! Both operators place transactions with this code (it is protocol encoding, shared like
//! the case model, see `docs/backends.md`); what checks it independently is the real
//! bootloader, which decodes and validates every field, and the accounts' signature checks.

use primitive_types::{H160, U256};

/// The gas a node charges any transaction for its slot in the batch, at least.
const TX_SLOT_OVERHEAD_GAS: u32 = 10_000;
/// The gas per word of the encoded transaction.
const TX_MEMORY_OVERHEAD_GAS: u32 = 10;
/// The most gas the bootloader trusts a transaction with for computation.
const TX_MAX_COMPUTE_GAS_LIMIT: u64 = 80_000_000;
/// Words of the encoding before the dynamic tails: the outer offset, 19 head words of the
/// struct and the five length words of its dynamic fields.
const FIXED_ENCODING_WORDS: usize = 25;
/// Head words of the struct: ten static fields, `reserved[4]`, five tail offsets.
const HEAD_WORDS: usize = 19;

/// The protocol's transaction struct, field for field (`txType` … `reservedDynamic`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransactionData {
    /// 0 legacy, 1 EIP-2930, 2 EIP-1559, 113 EIP-712, 254 upgrade, 255 L1 priority.
    pub tx_type: u8,
    pub from: H160,
    pub to: H160,
    pub gas_limit: U256,
    pub gas_per_pubdata_limit: U256,
    pub max_fee_per_gas: U256,
    pub max_priority_fee_per_gas: U256,
    pub paymaster: H160,
    pub nonce: U256,
    pub value: U256,
    /// L2: (check chain id, deploy); L1: (value to mint, refund recipient).
    pub reserved: [U256; 4],
    pub data: Vec<u8>,
    pub signature: Vec<u8>,
    /// Versioned hashes of the factory dependencies.
    pub factory_deps: Vec<U256>,
    pub paymaster_input: Vec<u8>,
    pub reserved_dynamic: Vec<u8>,
}

fn address_word(a: &H160) -> U256 {
    U256::from_big_endian(a.as_bytes())
}

/// `bytes` as ABI tail words: the length, then the bytes padded to whole words.
fn bytes_tail(bytes: &[u8]) -> Vec<U256> {
    let mut words = Vec::with_capacity(1 + bytes.len().div_ceil(32));
    words.push(U256::from(bytes.len()));
    words.extend(super::words_of_bytes(bytes));
    words
}

impl TransactionData {
    /// `abi.encode(transaction)` as words: the offset of the struct (0x20), its head, then
    /// the tails of `data`, `signature`, `factoryDeps`, `paymasterInput`, `reservedDynamic`.
    pub fn abi_encode(&self) -> Vec<U256> {
        let tails = [
            bytes_tail(&self.data),
            bytes_tail(&self.signature),
            std::iter::once(U256::from(self.factory_deps.len()))
                .chain(self.factory_deps.iter().copied())
                .collect(),
            bytes_tail(&self.paymaster_input),
            bytes_tail(&self.reserved_dynamic),
        ];
        let mut words = vec![
            U256::from(32),
            U256::from(self.tx_type),
            address_word(&self.from),
            address_word(&self.to),
            self.gas_limit,
            self.gas_per_pubdata_limit,
            self.max_fee_per_gas,
            self.max_priority_fee_per_gas,
            address_word(&self.paymaster),
            self.nonce,
            self.value,
        ];
        #[cfg(feature = "fault-injection")]
        if crate::faults::is_active(crate::faults::Fault::TxEncodingNonceOffByOne) {
            words[9] = words[9].overflowing_add(U256::one()).0;
        }
        words.extend(self.reserved);
        // Tail offsets are in bytes from the start of the struct's head.
        let mut offset = HEAD_WORDS;
        for tail in &tails {
            words.push(U256::from(offset * 32));
            offset += tail.len();
        }
        words.extend(tails.into_iter().flatten());
        words
    }

    /// The words the encoding takes, as the overhead counts them.
    fn encoding_words(&self) -> usize {
        FIXED_ENCODING_WORDS
            + self.data.len().div_ceil(32)
            + self.signature.len().div_ceil(32)
            + self.paymaster_input.len().div_ceil(32)
            + self.reserved_dynamic.len().div_ceil(32)
            + self.factory_deps.len()
    }

    /// The overhead the operator suggests for the transaction.
    pub fn overhead(&self) -> u32 {
        let words = u32::try_from(self.encoding_words()).unwrap_or(u32::MAX);
        TX_SLOT_OVERHEAD_GAS.max(TX_MEMORY_OVERHEAD_GAS.saturating_mul(words))
    }

    /// The gas the bootloader may trust the transaction with.
    pub fn trusted_gas_limit(&self) -> U256 {
        self.gas_limit.min(U256::from(TX_MAX_COMPUTE_GAS_LIMIT))
    }

    pub fn is_l1(&self) -> bool {
        self.tx_type == 255 || self.tx_type == 254
    }
}

/// An L2 block, as the operator writes it for the bootloader (four words per transaction).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L2BlockEnv {
    pub number: u32,
    pub timestamp: u64,
    pub prev_block_hash: U256,
    pub max_virtual_blocks: u32,
}

impl L2BlockEnv {
    /// The four words; the last is the virtual block count only when the block starts.
    pub fn words(&self, starts: bool) -> [U256; 4] {
        [
            self.number.into(),
            self.timestamp.into(),
            self.prev_block_hash,
            if starts {
                self.max_virtual_blocks.into()
            } else {
                U256::zero()
            },
        ]
    }
}

/// How the bootloader treats a transaction (the top byte of its description).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TxExecution {
    /// Validate, then execute (also fee estimation).
    #[default]
    VerifyExecute,
    /// Execute without validation (the playground bootloader only).
    EthCall,
}

impl TxExecution {
    /// The description word: the mode in byte 0, "execute" in byte 31.
    pub fn description(self) -> U256 {
        let mut word = [0u8; 32];
        word[0] = match self {
            TxExecution::VerifyExecute => 0x00,
            TxExecution::EthCall => 0x02,
        };
        word[31] = 1;
        U256::from_big_endian(&word)
    }
}

/// A transaction for the production bootloader: its data, the L2 block it runs in, and how
/// the bootloader treats it. Whether it starts its block the operator knows from what it
/// placed before (a rolled-back first transaction leaves the block to the next one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolTransaction {
    pub data: TransactionData,
    pub block: L2BlockEnv,
    pub execution: TxExecution,
}

/// The fee inputs of a batch and vm1's refund rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fees {
    pub fair_l2_gas_price: u64,
    pub fair_pubdata_price: u64,
    /// The base fee of the batch (what the operator writes to slot 6).
    pub base_fee: u64,
}

/// The most gas per pubdata byte the protocol allows; sets the lowest base fee.
pub const MAX_GAS_PER_PUBDATA_BYTE: u64 = 50_000;

impl Fees {
    /// The base fee a node derives when none is enforced.
    pub fn derived_base_fee(fair_l2_gas_price: u64, fair_pubdata_price: u64) -> u64 {
        fair_l2_gas_price.max(fair_pubdata_price.div_ceil(MAX_GAS_PER_PUBDATA_BYTE))
    }

    /// The operator's refund for a transaction with `gas_limit`, given what the bootloader
    /// proposes, the gas it spent on pubdata, its gas per pubdata byte, and the pubdata bytes
    /// the transaction published: the prepaid fee less the fair fee, in gas, rounded up.
    /// Zero when the base fee is zero (a node would divide by it).
    pub fn operator_refund(
        &self,
        gas_limit: U256,
        proposed: U256,
        spent_on_pubdata: U256,
        gas_per_pubdata: U256,
        pubdata_published: u32,
    ) -> U256 {
        let base_fee = U256::from(self.base_fee);
        if base_fee.is_zero() {
            return U256::zero();
        }
        let total_spent = gas_limit.saturating_sub(proposed);
        let computation = total_spent.saturating_sub(spent_on_pubdata);
        let price_per_pubdata = base_fee
            .saturating_mul(gas_per_pubdata)
            .min(U256::from(self.fair_pubdata_price));
        let fair_fee = computation
            .saturating_mul(U256::from(self.fair_l2_gas_price))
            .saturating_add(U256::from(pubdata_published).saturating_mul(price_per_pubdata));
        let prepaid = gas_limit.saturating_mul(base_fee);
        let refund = prepaid.saturating_sub(fair_fee);
        let gas = (refund + base_fee - 1) / base_fee;
        #[cfg(feature = "fault-injection")]
        if crate::faults::is_active(crate::faults::Fault::SharedRefundOffByOne) {
            return gas + 1;
        }
        gas
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encoding_points_each_tail_past_the_previous_one() {
        let tx = TransactionData {
            data: vec![0xaa; 33],
            signature: vec![1; 65],
            factory_deps: vec![U256::from(7)],
            ..Default::default()
        };
        let words = tx.abi_encode();
        // Head: offset word + 19; tails: data 1+2, signature 1+3, deps 1+1, two empty 1+1.
        assert_eq!(words.len(), 1 + 19 + 3 + 4 + 2 + 1 + 1);
        assert_eq!(words[15], U256::from(19 * 32));
        assert_eq!(words[16], U256::from((19 + 3) * 32));
        assert_eq!(words[17], U256::from((19 + 3 + 4) * 32));
        assert_eq!(words[1 + 19], U256::from(33));
        assert_eq!(words[1 + 19 + 3 + 4 + 1], U256::from(7));
        assert_eq!(tx.overhead(), 10_000);
    }

    #[test]
    fn the_refund_rounds_the_unspent_prepaid_fee_up_to_gas() {
        let fees = Fees {
            fair_l2_gas_price: 100,
            fair_pubdata_price: 1_000,
            base_fee: 100,
        };
        // Spent 400 of 1000 gas, 100 of it on pubdata; 3 bytes at min(100*10, 1000) each.
        let refund = fees.operator_refund(1000.into(), 600.into(), 100.into(), 10.into(), 3);
        // prepaid 100_000, fair 300*100 + 3*1000 = 33_000 → 67_000 / 100 = 670.
        assert_eq!(refund, U256::from(670));
    }
}
