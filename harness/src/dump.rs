//! zksync-era's `VmDump` (what a node writes when its shadow VM sees vm_latest and vm_fast
//! disagree, and what `VmDump::play_back` replays) turned into a case: the production
//! bootloader as the first frame, the batch information, the transactions of each L2 block
//! in the protocol's encoding, and the node's storage snapshot (slots by derived key) with
//! the bytecodes it holds.
//!
//! Only what the case needs is read; a field the conversion cannot honour (an unsupported
//! protocol version, a deploy through the EVM emulator, a legacy transaction) is an input
//! error naming it. The bytecode in a dump is a user's file, never part of this repository.

use std::collections::HashMap;

use serde::Deserialize;

use crate::case::{
    Address, Batch, BatchInfo, BatchMode, Bytes, Case, FrameSettings, InitialFlags, L2Block,
    ProtocolTx, RegisterValue, Word, CASE_FORMAT_VERSION,
};
use crate::world::{bytecode_hash, HashedSlot, World};

/// The package on crates.io that ships zksync-era's two test dumps (`tests/vm_dumps/`).
pub const DUMPS_PACKAGE: &str = "zksync_multivm-29.13.0-non-semver-compat";

/// Where zksync-era's test dumps are: `ERADIFF_VM_DUMPS`, else the package's folder in
/// cargo's registry if a `cargo fetch` (`ci/fetch-vm-dumps.sh`) unpacked it there.
pub fn vm_dumps_dir() -> Option<std::path::PathBuf> {
    use std::path::PathBuf;
    if let Some(dir) = std::env::var_os("ERADIFF_VM_DUMPS") {
        return Some(PathBuf::from(dir));
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    std::fs::read_dir(home.join("registry/src"))
        .ok()?
        .flatten()
        .map(|index| index.path().join(DUMPS_PACKAGE).join("tests/vm_dumps"))
        .find(|dir| dir.is_dir())
}

/// Cycles a dump may run (a real transaction takes thousands, a sealed batch about 1.5M).
pub const DUMP_MAX_CYCLES: u64 = 50_000_000;

/// The protocol's cap on gas per pubdata byte, which Ethereum-typed transactions get.
const MAX_GAS_PER_PUBDATA_BYTE: u64 = eravm::operator::transaction::MAX_GAS_PER_PUBDATA_BYTE;
/// L1 gas per pubdata byte, which prices pubdata in an L1-pegged fee input.
const L1_GAS_PER_PUBDATA_BYTE: u64 = 17;

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error(transparent)]
    File(#[from] crate::case::CaseError),
    #[error("invalid VM dump: field `{field}`: {message}")]
    Field { field: String, message: String },
}

fn field<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, DumpError> {
    Err(DumpError::Field {
        field: field.into(),
        message: message.into(),
    })
}

#[derive(Deserialize)]
pub struct VmDump {
    pub l1_batch_env: L1BatchEnv,
    pub system_env: SystemEnv,
    pub l2_blocks: Vec<DumpBlock>,
    pub storage: StorageSnapshot,
}

#[derive(Deserialize)]
pub struct L1BatchEnv {
    pub previous_batch_hash: Option<Word>,
    pub number: u64,
    pub timestamp: u64,
    pub fee_input: FeeInput,
    pub fee_account: Address,
    pub enforced_base_fee: Option<u64>,
}

#[derive(Deserialize)]
pub enum FeeInput {
    PubdataIndependent {
        fair_l2_gas_price: u64,
        fair_pubdata_price: u64,
    },
    L1Pegged {
        fair_l2_gas_price: u64,
        l1_gas_price: u64,
    },
}

impl FeeInput {
    /// (fair L2 gas price, fair pubdata price).
    fn prices(&self) -> (u64, u64) {
        match *self {
            FeeInput::PubdataIndependent {
                fair_l2_gas_price,
                fair_pubdata_price,
            } => (fair_l2_gas_price, fair_pubdata_price),
            FeeInput::L1Pegged {
                fair_l2_gas_price,
                l1_gas_price,
            } => (
                fair_l2_gas_price,
                l1_gas_price.saturating_mul(L1_GAS_PER_PUBDATA_BYTE),
            ),
        }
    }
}

#[derive(Deserialize)]
pub struct SystemEnv {
    pub version: String,
    pub base_system_smart_contracts: BaseSystemContracts,
    pub bootloader_gas_limit: u32,
    pub execution_mode: String,
}

#[derive(Deserialize)]
pub struct BaseSystemContracts {
    pub bootloader: SystemContract,
    pub default_aa: SystemContract,
    pub evm_emulator: Option<SystemContract>,
}

#[derive(Deserialize)]
pub struct SystemContract {
    pub code: Vec<Word>,
    pub hash: Word,
}

#[derive(Deserialize)]
pub struct DumpBlock {
    pub number: u32,
    pub timestamp: u64,
    pub prev_block_hash: Word,
    pub virtual_blocks: u32,
    pub txs: Vec<DumpTransaction>,
}

#[derive(Deserialize)]
pub struct DumpTransaction {
    pub common_data: CommonData,
    pub execute: Execute,
}

#[derive(Deserialize)]
pub enum CommonData {
    L2(Box<L2CommonData>),
    L1(serde_json::Value),
    ProtocolUpgrade(serde_json::Value),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct L2CommonData {
    #[serde(rename = "nonce")]
    pub nonce: u32,
    #[serde(rename = "fee")]
    pub fee: Fee,
    pub initiator_address: Address,
    #[serde(rename = "signature")]
    pub signature: Vec<u8>,
    pub transaction_type: String,
    pub paymaster_params: PaymasterParams,
}

#[derive(Deserialize)]
pub struct Fee {
    pub gas_limit: Word,
    pub max_fee_per_gas: Word,
    pub max_priority_fee_per_gas: Word,
    pub gas_per_pubdata_limit: Word,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymasterParams {
    pub paymaster: Address,
    pub paymaster_input: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execute {
    pub contract_address: Option<Address>,
    pub calldata: Bytes,
    pub value: Word,
    #[serde(default)]
    pub factory_deps: Vec<Bytes>,
}

#[derive(Deserialize)]
pub struct StorageSnapshot {
    /// Derived key → (value, enumeration index), or null for a slot not in the tree.
    pub storage: HashMap<Word, Option<(Word, u64)>>,
    pub factory_deps: HashMap<Word, Bytes>,
}

impl VmDump {
    /// Parses a dump, naming the offending field on error.
    pub fn parse(text: &str) -> Result<VmDump, DumpError> {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| DumpError::Field {
            field: e.path().to_string(),
            message: e.inner().to_string(),
        })
    }

    /// Reads a dump file (to the case-file size limit).
    pub fn load(path: &std::path::Path) -> Result<VmDump, DumpError> {
        VmDump::parse(&crate::case::read_limited(path)?)
    }

    /// The case that replays the dump as a node does (`VmDump::play_back` for one
    /// transaction: push it, run to its end).
    pub fn to_case(&self) -> Result<Case, DumpError> {
        let version = &self.system_env.version;
        use crate::contracts::ProtocolVersion;
        let layout_known = version
            .parse::<ProtocolVersion>()
            .is_ok_and(|v| v <= ProtocolVersion::V28);
        if !layout_known {
            return field(
                "system_env.version",
                format!("{version}: this build has the heap layout of protocol versions 26 to 28"),
            );
        }
        let contracts = &self.system_env.base_system_smart_contracts;
        let bootloader = &contracts.bootloader;
        check_hash(
            "system_env.base_system_smart_contracts.bootloader",
            &bootloader.code,
            bootloader.hash,
        )?;
        check_hash(
            "system_env.base_system_smart_contracts.default_aa",
            &contracts.default_aa.code,
            contracts.default_aa.hash,
        )?;
        let eth_call = match self.system_env.execution_mode.as_str() {
            "VerifyExecute" | "EstimateFee" => false,
            "EthCall" => true,
            other => return field("system_env.execution_mode", format!("unknown mode {other}")),
        };
        let mut world = World {
            default_account: contracts.default_aa.code.clone(),
            evm_emulator: match &contracts.evm_emulator {
                Some(emulator) => emulator.code.clone(),
                // A node runs the default account for EVM code when there is no emulator.
                None => contracts.default_aa.code.clone(),
            },
            ..World::default()
        };
        let mut deps: Vec<_> = self.storage.factory_deps.iter().collect();
        deps.sort_by_key(|(hash, _)| hash.0);
        for (hash, bytes) in deps {
            world.bytecodes.push(code_of(
                &format!("storage.factory_deps[{:#x}]", hash.0),
                bytes,
                Some(*hash),
            )?);
        }
        world.hashed_storage = self
            .storage
            .storage
            .iter()
            .map(|(key, entry)| HashedSlot {
                derived_key: *key,
                value: entry.map(|(v, _)| v).unwrap_or_default(),
                enumeration_index: entry.map(|(_, index)| index),
            })
            .collect();
        world.hashed_storage.sort_by_key(|slot| slot.derived_key.0);
        let mut blocks = Vec::new();
        for (b, block) in self.l2_blocks.iter().enumerate() {
            let mut transactions = Vec::new();
            for (t, tx) in block.txs.iter().enumerate() {
                let name = format!("l2_blocks[{b}].txs[{t}]");
                let (protocol, deps) = protocol_tx(&name, tx)?;
                world.bytecodes.extend(deps);
                transactions.push(ProtocolTx {
                    eth_call,
                    ..protocol
                });
            }
            blocks.push(L2Block {
                number: block.number,
                timestamp: block.timestamp,
                prev_block_hash: block.prev_block_hash,
                virtual_blocks: block.virtual_blocks,
                transactions,
            });
        }
        Ok(Case {
            version: CASE_FORMAT_VERSION,
            code: bootloader.code.clone(),
            ergs: self.system_env.bootloader_gas_limit,
            registers: vec![formal_calldata_pointer()],
            calldata: Bytes::default(),
            frame: FrameSettings::default(),
            flags: InitialFlags::default(),
            max_cycles: DUMP_MAX_CYCLES,
            world: Some(world),
            start: None,
            batch: Some(Batch {
                transactions: Vec::new(),
                blocks,
                mode: BatchMode::OneTx,
                info: self.batch_info(),
            }),
            note: format!(
                "zksync-era VM dump: batch {}, protocol {version}, {} mode",
                self.l1_batch_env.number, self.system_env.execution_mode
            ),
        })
    }

    fn batch_info(&self) -> BatchInfo {
        let env = &self.l1_batch_env;
        let (fair_l2_gas_price, fair_pubdata_price) = env.fee_input.prices();
        BatchInfo {
            operator: env.fee_account,
            previous_batch_hash: env.previous_batch_hash.unwrap_or_default(),
            timestamp: env.timestamp,
            number: env.number,
            fair_pubdata_price,
            fair_l2_gas_price,
            expected_base_fee: env.enforced_base_fee.unwrap_or_else(|| {
                eravm::operator::Fees::derived_base_fee(fair_l2_gas_price, fair_pubdata_price)
            }),
        }
    }
}

/// r1 of the bootloader as a node starts it: an empty pointer into its calldata page (7).
/// r1 of the bootloader's first frame as a node starts it: a pointer to the empty
/// calldata page.
pub(crate) fn formal_calldata_pointer() -> RegisterValue {
    RegisterValue {
        index: 1,
        value: Word(eravm::U256::from(eravm::BOOTLOADER_CALLDATA_PAGE.0) << 32),
        pointer: true,
    }
}

fn check_hash(name: &str, code: &[Word], hash: Word) -> Result<(), DumpError> {
    let ours = bytecode_hash(code, false);
    if ours != hash.0 {
        return field(
            format!("{name}.hash"),
            format!("{:#x} is not the hash of the code, {ours:#x}", hash.0),
        );
    }
    Ok(())
}

/// Bytecode bytes as code words, checked against `hash` if given.
fn code_of(name: &str, bytes: &Bytes, hash: Option<Word>) -> Result<Vec<Word>, DumpError> {
    if bytes.0.len() % 32 != 0 || (bytes.0.len() / 32) % 2 == 0 {
        return field(name, "a bytecode is an odd number of 32-byte words");
    }
    let code: Vec<Word> = eravm::operator::words_of_bytes(&bytes.0)
        .map(Word)
        .collect();
    if let Some(hash) = hash {
        check_hash(name, &code, hash)?;
    }
    Ok(code)
}

/// The protocol encoding of an L2 transaction, as a node builds it, and the code of its
/// factory dependencies.
fn protocol_tx(
    name: &str,
    tx: &DumpTransaction,
) -> Result<(ProtocolTx, Vec<Vec<Word>>), DumpError> {
    let CommonData::L2(common) = &tx.common_data else {
        return field(
            format!("{name}.common_data"),
            "only L2 transactions are read so far",
        );
    };
    let tx_type = match common.transaction_type.as_str() {
        "EIP2930Transaction" => 1,
        "EIP1559Transaction" => 2,
        "EIP712Transaction" => 113,
        other => {
            return field(
                format!("{name}.common_data.L2.transactionType"),
                format!("{other} is not read so far (legacy transactions need their chain id)"),
            )
        }
    };
    let Some(to) = tx.execute.contract_address else {
        return field(
            format!("{name}.execute.contractAddress"),
            "a deploy without a target needs the EVM emulator, not read so far",
        );
    };
    let mut deps = Vec::new();
    let mut hashes = Vec::new();
    for (i, bytes) in tx.execute.factory_deps.iter().enumerate() {
        let code = code_of(&format!("{name}.execute.factoryDeps[{i}]"), bytes, None)?;
        hashes.push(Word(bytecode_hash(&code, false)));
        deps.push(code);
    }
    // Ethereum-typed transactions do not sign a gas per pubdata limit: a node uses the cap.
    let gas_per_pubdata_limit = if tx_type == 113 {
        common.fee.gas_per_pubdata_limit
    } else {
        Word(MAX_GAS_PER_PUBDATA_BYTE.into())
    };
    let protocol = ProtocolTx {
        tx_type,
        from: common.initiator_address,
        to,
        gas_limit: common.fee.gas_limit,
        gas_per_pubdata_limit,
        max_fee_per_gas: common.fee.max_fee_per_gas,
        max_priority_fee_per_gas: common.fee.max_priority_fee_per_gas,
        paymaster: common.paymaster_params.paymaster,
        nonce: Word(common.nonce.into()),
        value: tx.execute.value,
        reserved: Default::default(),
        data: tx.execute.calldata.clone(),
        signature: Bytes(common.signature.clone()),
        factory_deps: hashes,
        paymaster_input: Bytes(common.paymaster_params.paymaster_input.clone()),
        reserved_dynamic: Bytes::default(),
        eth_call: false,
        rollback: false,
        expected: None,
    };
    Ok((protocol, deps))
}
