//! A request as the harness writes it, and the node's own types built from it.

use std::collections::HashMap;

use serde::Deserialize;
use zksync_types::{
    fee::Fee,
    fee_model::{BatchFeeInput, PubdataIndependentBatchFeeModelInput},
    l1::{OpProcessingType, PriorityQueueType},
    l2::TransactionType,
    transaction_request::PaymasterParams,
    web3::Bytes,
    Address, Execute, ExecuteTransactionCommon, InputData, L1BatchNumber, L1TxCommonData,
    L2ChainId, L2TxCommonData, Nonce, PriorityOpId, ProtocolVersionId, Transaction, H256, U256,
};
use zksync_vm_interface::{L1BatchEnv, L2BlockEnv, SystemEnv, TxExecutionMode};

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NodeVm {
    /// `vm_latest`: the vm1 operator on zk_evm.
    Vm1,
    /// `vm_fast`: the operator on zksync_vm2.
    Fast,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Every transaction, then the block tip (`finish_batch`).
    Batch,
    /// The first transaction only, as `VmDump::play_back` and a node's API run one.
    OneTx,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub vm: NodeVm,
    pub mode: Mode,
    /// The protocol version's number (26 for v26).
    pub protocol: u16,
    pub chain_id: u64,
    pub eth_call: bool,
    pub bootloader_gas_limit: u32,
    pub bootloader: Bytes,
    pub default_aa: Bytes,
    pub evm_emulator: Option<Bytes>,
    pub batch: BatchInfo,
    /// The base fee to enforce, when the case's differs from what the fee input gives;
    /// none: the node derives it from the fee input itself.
    pub enforced_base_fee: Option<u64>,
    /// The storage at the start: derived key, value and enumeration index (none: never
    /// written, so a write to it is initial). A slot not listed reads zero.
    pub storage: Vec<(U256, U256, Option<u64>)>,
    /// Bytecodes by versioned hash.
    pub bytecodes: Vec<(U256, Bytes)>,
    pub blocks: Vec<Block>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchInfo {
    pub operator: Address,
    pub previous_batch_hash: U256,
    pub timestamp: u64,
    pub number: u32,
    pub fair_pubdata_price: u64,
    pub fair_l2_gas_price: u64,
    /// The case's base fee: the node derives its own from the fee input (or takes
    /// `enforced_base_fee`), so it is read only to accept the field.
    #[allow(dead_code)]
    pub expected_base_fee: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Block {
    pub number: u32,
    pub timestamp: u64,
    pub prev_block_hash: U256,
    pub virtual_blocks: u32,
    pub transactions: Vec<Tx>,
}

/// The protocol's transaction struct, field for field, as the harness's case holds it.
#[derive(Deserialize)]
pub struct Tx {
    pub tx_type: u8,
    pub from: Address,
    pub to: Address,
    pub gas_limit: U256,
    pub gas_per_pubdata_limit: U256,
    pub max_fee_per_gas: U256,
    pub max_priority_fee_per_gas: U256,
    #[serde(default)]
    pub paymaster: Address,
    pub nonce: U256,
    #[serde(default)]
    pub value: U256,
    #[serde(default)]
    pub reserved: [U256; 4],
    #[serde(default)]
    pub data: Bytes,
    #[serde(default)]
    pub signature: Bytes,
    #[serde(default)]
    pub factory_deps: Vec<U256>,
    #[serde(default)]
    pub paymaster_input: Bytes,
    #[serde(default)]
    pub rollback: bool,
}

impl Request {
    pub fn version(&self) -> Result<ProtocolVersionId, String> {
        ProtocolVersionId::try_from(self.protocol)
            .map_err(|e| format!("protocol {}: {e}", self.protocol))
    }

    pub fn system_env(&self) -> Result<SystemEnv, String> {
        let code = |bytes: &Bytes| zksync_contracts::SystemContractCode {
            hash: zksync_types::bytecode::BytecodeHash::for_bytecode(&bytes.0).value(),
            code: bytes.0.clone(),
        };
        Ok(SystemEnv {
            zk_porter_available: false,
            version: self.version()?,
            base_system_smart_contracts: zksync_contracts::BaseSystemContracts {
                bootloader: code(&self.bootloader),
                default_aa: code(&self.default_aa),
                evm_emulator: self.evm_emulator.as_ref().map(code),
            },
            bootloader_gas_limit: self.bootloader_gas_limit,
            execution_mode: if self.eth_call {
                TxExecutionMode::EthCall
            } else {
                TxExecutionMode::VerifyExecute
            },
            default_validation_computational_gas_limit: u32::MAX,
            chain_id: L2ChainId::new(self.chain_id)?,
        })
    }

    pub fn batch_env(&self) -> Result<L1BatchEnv, String> {
        let first = self.blocks.first().ok_or("a batch needs an L2 block")?;
        let b = &self.batch;
        Ok(L1BatchEnv {
            previous_batch_hash: (!b.previous_batch_hash.is_zero())
                .then(|| u256_to_h256(b.previous_batch_hash)),
            number: L1BatchNumber(b.number),
            timestamp: b.timestamp,
            fee_input: BatchFeeInput::PubdataIndependent(PubdataIndependentBatchFeeModelInput {
                l1_gas_price: 0,
                fair_l2_gas_price: b.fair_l2_gas_price,
                fair_pubdata_price: b.fair_pubdata_price,
            }),
            fee_account: b.operator,
            enforced_base_fee: self.enforced_base_fee,
            first_l2_block: first.env(),
        })
    }
}

pub fn u256_to_h256(value: U256) -> H256 {
    let mut bytes = [0u8; 32];
    value.to_big_endian(&mut bytes);
    H256(bytes)
}

impl Block {
    pub fn env(&self) -> L2BlockEnv {
        L2BlockEnv {
            number: self.number,
            timestamp: self.timestamp,
            prev_block_hash: u256_to_h256(self.prev_block_hash),
            max_virtual_blocks_to_create: self.virtual_blocks,
            interop_roots: vec![],
        }
    }
}

/// The protocol's transaction types (the bootloader's `txType`).
const LEGACY: u8 = 0;
const EIP_2930: u8 = 1;
const EIP_1559: u8 = 2;
const EIP_712: u8 = 113;
const L1: u8 = 255;

impl Tx {
    /// The node's transaction for these fields; `deps` finds factory dependencies' code.
    pub fn to_node(
        &self,
        deps: &HashMap<H256, Vec<u8>>,
        chain_id: u64,
    ) -> Result<Transaction, String> {
        let mut factory_deps = Vec::new();
        for hash in &self.factory_deps {
            let hash = u256_to_h256(*hash);
            let code = deps
                .get(&hash)
                .ok_or_else(|| format!("factory dependency {hash:?} has no bytecode"))?;
            factory_deps.push(code.clone());
        }
        let execute = Execute {
            contract_address: Some(self.to),
            calldata: self.data.0.clone(),
            value: self.value,
            factory_deps,
        };
        let common_data = match self.tx_type {
            L1 => ExecuteTransactionCommon::L1(self.l1_common()),
            LEGACY | EIP_2930 | EIP_1559 | EIP_712 => {
                ExecuteTransactionCommon::L2(self.l2_common(chain_id)?)
            }
            other => {
                return Err(format!(
                    "transaction type {other} is not built by the node adapter"
                ))
            }
        };
        Ok(Transaction {
            common_data,
            execute,
            received_timestamp_ms: 0,
            raw_bytes: None,
        })
    }

    fn l2_common(&self, chain_id: u64) -> Result<L2TxCommonData, String> {
        let transaction_type = match self.tx_type {
            LEGACY => TransactionType::LegacyTransaction,
            EIP_2930 => TransactionType::EIP2930Transaction,
            EIP_1559 => TransactionType::EIP1559Transaction,
            _ => TransactionType::EIP712Transaction,
        };
        if self.reserved[1..].iter().any(|w| !w.is_zero())
            || (self.tx_type != LEGACY && !self.reserved[0].is_zero())
        {
            return Err(
                "an L2 transaction's reserved fields cannot be set through the node".into(),
            );
        }
        let nonce = u32::try_from(self.nonce)
            .map_err(|_| "a nonce above u32 does not fit the node's Nonce")?;
        Ok(L2TxCommonData {
            nonce: Nonce(nonce),
            fee: Fee {
                gas_limit: self.gas_limit,
                max_fee_per_gas: self.max_fee_per_gas,
                max_priority_fee_per_gas: self.max_priority_fee_per_gas,
                gas_per_pubdata_limit: self.gas_per_pubdata_limit,
            },
            initiator_address: self.from,
            signature: self.signature.0.clone(),
            transaction_type,
            input: self.legacy_chain_input(chain_id),
            paymaster_params: PaymasterParams {
                paymaster: self.paymaster,
                paymaster_input: self.paymaster_input.0.clone(),
            },
        })
    }

    /// A legacy transaction checks its chain id (reserved word 0 = 1) when the node finds
    /// one in its raw bytes: the RLP list's seventh item, `v`, is read from them. An
    /// RLP list with only `v` filled (the signature's last byte, EIP-155 style) says so.
    fn legacy_chain_input(&self, chain_id: u64) -> Option<InputData> {
        if self.tx_type != LEGACY || self.reserved[0].is_zero() {
            return None;
        }
        // The signature is r ‖ s ‖ v with v = 27 or 28; EIP-155 makes it 35 + 2·chain + parity.
        let parity = u64::from(*self.signature.0.get(64)?).checked_sub(27)?;
        let v = 35 + 2 * chain_id + parity;
        let v_bytes: Vec<u8> = v
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        let mut items = vec![0x80u8; 6];
        if v_bytes.len() == 1 && v_bytes[0] < 0x80 {
            items.push(v_bytes[0]);
        } else {
            items.push(0x80 + v_bytes.len() as u8);
            items.extend(&v_bytes);
        }
        items.extend([0x80, 0x80]);
        let mut data = vec![0xc0 + items.len() as u8];
        data.extend(items);
        Some(InputData {
            hash: H256::zero(),
            data,
        })
    }

    fn l1_common(&self) -> L1TxCommonData {
        let mut refund_recipient = [0u8; 32];
        self.reserved[1].to_big_endian(&mut refund_recipient);
        L1TxCommonData {
            sender: self.from,
            serial_id: PriorityOpId(self.nonce.low_u64()),
            layer_2_tip_fee: U256::zero(),
            full_fee: U256::zero(),
            max_fee_per_gas: self.max_fee_per_gas,
            gas_limit: self.gas_limit,
            gas_per_pubdata_limit: self.gas_per_pubdata_limit,
            op_processing_type: OpProcessingType::Common,
            priority_queue_type: PriorityQueueType::Deque,
            canonical_tx_hash: H256::zero(),
            to_mint: self.reserved[0],
            refund_recipient: Address::from_slice(&refund_recipient[12..]),
            eth_block: 0,
        }
    }
}
