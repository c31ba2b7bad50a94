//! A test case: one program run as the bootloader, with everything needed to replay it.
//!
//! Cases are stored as JSON (format documented in `docs/case-format.md`). Every finding is
//! written as one, and `eradiff replay` reads them back.

use std::fmt;
use std::path::Path;

use eravm::{TaggedWord, H160, U256};
use serde::{Deserialize, Serialize};

// The hex newtypes live in `hex`; they stay reachable here, where cases and docs name them.
pub use crate::hex::{Address, Bytes, Word};

/// The version of the case file format this build writes; it reads this one and older.
/// Version 2 added `world`, version 3 `batch`, version 4 protocol transactions (`batch.blocks`)
/// and hashed storage (`world.hashed_storage`, `world.bytecodes`), version 5 start states
/// (`start`).
pub const CASE_FORMAT_VERSION: u32 = 5;

/// The default cap on cycles, so that loops end in a comparable state.
pub const DEFAULT_MAX_CYCLES: u64 = 20_000;

/// A program run as the first frame of the VM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub version: u32,
    /// The code page, as 32-byte words (four instructions, or one constant, each).
    pub code: Vec<Word>,
    pub ergs: u32,
    /// Initial values of registers that are not zero.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registers: Vec<RegisterValue>,
    /// Bytes on the calldata page.
    #[serde(default, skip_serializing_if = "Bytes::is_empty")]
    pub calldata: Bytes,
    #[serde(default)]
    pub frame: FrameSettings,
    /// The flags at the start (default: all clear, as a node starts).
    #[serde(default, skip_serializing_if = "InitialFlags::is_clear")]
    pub flags: InitialFlags,
    /// Both VMs stop after this many cycles if the program has not ended.
    pub max_cycles: u64,
    /// Contracts and storage the program can reach with far calls and storage opcodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world: Option<crate::world::World>,
    /// Transactions for the operator to push; `code` then holds our bootloader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<Batch>,
    /// Frames below the first one, their memory and what they changed: a state built
    /// directly (the case's own frame is the running one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<crate::start::Start>,
    /// Free text: where the case came from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// A batch: transactions the operator pushes before the bootloader runs, and how far to run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// Transactions for our bootloader.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transactions: Vec<Transaction>,
    /// L2 blocks of protocol transactions, for the production bootloader (`code`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<L2Block>,
    #[serde(default)]
    pub mode: BatchMode,
    /// The batch information (slots 0–7); every field defaults to zero.
    #[serde(default)]
    pub info: BatchInfo,
}

impl Batch {
    /// What the operator pushes, in order, each with whether it is rolled back after: our
    /// transactions, or the protocol transactions of the blocks (each knowing its block).
    pub fn pushes(&self) -> Vec<(eravm::operator::Transaction, bool)> {
        let ours = self
            .transactions
            .iter()
            .map(|t| (t.to_operator(), t.rollback));
        let protocol = self.blocks.iter().flat_map(|block| {
            block.transactions.iter().map(move |tx| {
                let pushed = eravm::operator::ProtocolTransaction {
                    data: tx.to_operator(),
                    block: block.to_operator(),
                    execution: if tx.eth_call {
                        eravm::operator::TxExecution::EthCall
                    } else {
                        eravm::operator::TxExecution::VerifyExecute
                    },
                };
                (
                    eravm::operator::Transaction::Protocol(Box::new(pushed)),
                    tx.rollback,
                )
            })
        });
        ours.chain(protocol).collect()
    }

    /// Whether every transaction the operator would push fits the bootloader's heap (the
    /// protocol's limits on the number of transactions and on their data), placing them as
    /// both operators do: a rolled-back transaction frees its room again, and in one-tx mode
    /// nothing is pushed after the first transaction kept. The error names the first
    /// transaction that does not fit (its index among all pushed).
    pub fn fits(&self) -> Result<(), (usize, String)> {
        let mut state = eravm::operator::BootloaderState::new();
        let one_by_one = self.fed_one_by_one();
        for (i, (tx, rollback)) in self.pushes().iter().enumerate() {
            let mark = state.mark();
            if state.place_transaction(tx, 0).is_err() {
                return Err((
                    i,
                    format!(
                        "does not fit the bootloader's heap: at most {} transactions, and \
                         their data must end before word {}; \
                         {} transactions and {} words of data are placed before it",
                        eravm::operator::layout::MAX_TRANSACTIONS,
                        eravm::operator::layout::HOOK_PARAMS,
                        state.transactions,
                        state.next_data_word - eravm::operator::layout::TX_DATA,
                    ),
                ));
            }
            if one_by_one && *rollback {
                state.restore(mark);
            } else if one_by_one && self.mode == BatchMode::OneTx {
                break;
            }
        }
        Ok(())
    }

    /// The block that closes the batch (the fictive block the bootloader asks for on
    /// FinalBatchInfo): the last block, when it has no transactions. A batch whose last block
    /// has transactions gets none, and the bootloader cannot seal it.
    pub fn closing_block(&self) -> Option<eravm::operator::L2BlockEnv> {
        self.blocks
            .last()
            .filter(|b| b.transactions.is_empty())
            .map(L2Block::to_operator)
    }

    /// A readable account of the `index`th protocol transaction pushed and its L2 block, for
    /// reports; `None` for our transactions.
    pub fn describe_protocol_transaction(&self, index: usize) -> Option<String> {
        let (block, tx) = self
            .blocks
            .iter()
            .flat_map(|b| b.transactions.iter().map(move |t| (b, t)))
            .nth(index)?;
        let kind = tx_type_name(tx.tx_type);
        let selector = match tx.data.0.get(..4) {
            Some(s) => format!("selector 0x{}, ", hex::encode(s)),
            None => String::new(),
        };
        Some(format!(
            "Transaction {index}, in L2 block {} (timestamp {}): {kind} from {:#x} to {:#x}, \
             nonce {}, value {}, gas limit {}, max fee per gas {}, {selector}{} bytes of \
             calldata, {} bytes of signature, {} factory dependencies{}.",
            block.number,
            block.timestamp,
            tx.from.0,
            tx.to.0,
            tx.nonce.0,
            tx.value.0,
            tx.gas_limit.0,
            tx.max_fee_per_gas.0,
            tx.data.0.len(),
            tx.signature.0.len(),
            tx.factory_deps.len(),
            if tx.eth_call { ", as an eth_call" } else { "" },
        ))
    }

    /// Whether the operator pushes the transactions one at a time, each after the previous
    /// one has ended (taking a snapshot before each push), rather than all before the start:
    /// when some transaction is to be rolled back.
    pub fn fed_one_by_one(&self) -> bool {
        self.rollbacks() > 0
    }

    /// Whether the batch runs the production bootloader: protocol transactions in L2 blocks,
    /// none of our small bootloader's.
    pub fn runs_production_bootloader(&self) -> bool {
        !self.blocks.is_empty() && self.transactions.is_empty()
    }

    /// Whether the batch keeps a legacy transaction signed without a chain id (pre-EIP-155),
    /// which zksync-era's operators cannot follow into the next L2 block
    /// (`corpus/trophies/node/`).
    pub fn keeps_a_legacy_tx_without_chain_id(&self) -> bool {
        self.blocks
            .iter()
            .flat_map(|b| &b.transactions)
            .any(|tx| tx.tx_type == 0 && tx.reserved[0].0.is_zero() && !tx.rollback)
    }

    /// Per transaction pushed, in the order of [`Batch::pushes`]: whether it is marked to be
    /// rolled back.
    pub fn rollback_flags(&self) -> Vec<bool> {
        let ours = self.transactions.iter().map(|t| t.rollback);
        let protocol = self
            .blocks
            .iter()
            .flat_map(|b| &b.transactions)
            .map(|t| t.rollback);
        ours.chain(protocol).collect()
    }

    /// How many transactions are marked to be rolled back.
    pub fn rollbacks(&self) -> usize {
        let ours = self.transactions.iter().filter(|t| t.rollback).count();
        let protocol = self.blocks.iter().flat_map(|b| &b.transactions);
        ours + protocol.filter(|t| t.rollback).count()
    }
}

/// A transaction type's name, for reports.
pub fn tx_type_name(tx_type: u8) -> &'static str {
    match tx_type {
        0 => "legacy",
        1 => "EIP-2930",
        2 => "EIP-1559",
        113 => "EIP-712",
        254 => "protocol upgrade",
        255 => "L1 priority",
        _ => "unknown-type",
    }
}

/// An L2 block of protocol transactions, as the operator tells the bootloader about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L2Block {
    pub number: u32,
    pub timestamp: u64,
    pub prev_block_hash: Word,
    pub virtual_blocks: u32,
    pub transactions: Vec<ProtocolTx>,
}

impl L2Block {
    pub fn to_operator(&self) -> eravm::operator::L2BlockEnv {
        eravm::operator::L2BlockEnv {
            number: self.number,
            timestamp: self.timestamp,
            prev_block_hash: self.prev_block_hash.0,
            max_virtual_blocks: self.virtual_blocks,
        }
    }
}

/// A transaction for the production bootloader: the protocol's transaction struct, field
/// for field (see `eravm::operator::TransactionData`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolTx {
    pub tx_type: u8,
    pub from: Address,
    pub to: Address,
    pub gas_limit: Word,
    pub gas_per_pubdata_limit: Word,
    pub max_fee_per_gas: Word,
    pub max_priority_fee_per_gas: Word,
    #[serde(default)]
    pub paymaster: Address,
    pub nonce: Word,
    #[serde(default)]
    pub value: Word,
    #[serde(default)]
    pub reserved: [Word; 4],
    #[serde(default)]
    pub data: Bytes,
    #[serde(default)]
    pub signature: Bytes,
    /// Versioned hashes of the factory dependencies (their code is in `world.bytecodes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub factory_deps: Vec<Word>,
    #[serde(default, skip_serializing_if = "Bytes::is_empty")]
    pub paymaster_input: Bytes,
    #[serde(default, skip_serializing_if = "Bytes::is_empty")]
    pub reserved_dynamic: Bytes,
    /// Run as an eth_call (no validation; the playground bootloader only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub eth_call: bool,
    /// Rolled back once it has ended, as for [`Transaction::rollback`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollback: bool,
    /// What the generator meant the transaction to do, if it says: checked against the run
    /// (see [`Expected`]); never read by an operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected>,
}

/// What a generator meant a transaction to do. The campaign checks it against the run: a
/// transaction that does otherwise is a defect of the generator (counted apart from
/// findings, which compare the VMs with each other, not with this).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    /// Executes and succeeds.
    Success,
    /// Executes and reverts, its changes rolled back.
    Revert,
    /// Executes and panics.
    Panic,
    /// Executes and runs out of gas.
    OutOfGas,
    /// The bootloader rejects it (halts before executing); the operator rolls it back.
    Rejection,
}

/// What a run shows of a transaction: its result, or that the bootloader rejected it (a
/// failure's kind is not in the result the bootloader posts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Rejection,
}

impl Expected {
    pub fn name(self) -> &'static str {
        match self {
            Expected::Success => "success",
            Expected::Revert => "revert",
            Expected::Panic => "panic",
            Expected::OutOfGas => "out of gas",
            Expected::Rejection => "rejection",
        }
    }

    /// The outcome a run shows when the transaction does what was meant.
    pub fn outcome(self) -> Outcome {
        match self {
            Expected::Success => Outcome::Success,
            Expected::Revert | Expected::Panic | Expected::OutOfGas => Outcome::Failure,
            Expected::Rejection => Outcome::Rejection,
        }
    }
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Rejection => "rejection",
        }
    }
}

impl ProtocolTx {
    pub fn to_operator(&self) -> eravm::operator::TransactionData {
        eravm::operator::TransactionData {
            tx_type: self.tx_type,
            from: self.from.0,
            to: self.to.0,
            gas_limit: self.gas_limit.0,
            gas_per_pubdata_limit: self.gas_per_pubdata_limit.0,
            max_fee_per_gas: self.max_fee_per_gas.0,
            max_priority_fee_per_gas: self.max_priority_fee_per_gas.0,
            paymaster: self.paymaster.0,
            nonce: self.nonce.0,
            value: self.value.0,
            reserved: self.reserved.map(|w| w.0),
            data: self.data.0.clone(),
            signature: self.signature.0.clone(),
            factory_deps: self.factory_deps.iter().map(|w| w.0).collect(),
            paymaster_input: self.paymaster_input.0.clone(),
            reserved_dynamic: self.reserved_dynamic.0.clone(),
        }
    }
}

/// The batch information the operator writes before the bootloader starts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchInfo {
    pub operator: Address,
    pub previous_batch_hash: Word,
    pub timestamp: u64,
    pub number: u64,
    pub fair_pubdata_price: u64,
    pub fair_l2_gas_price: u64,
    pub expected_base_fee: u64,
}

impl BatchInfo {
    pub fn to_operator(&self) -> eravm::operator::BatchEnv {
        eravm::operator::BatchEnv {
            operator: self.operator.0,
            previous_batch_hash: self.previous_batch_hash.0,
            timestamp: self.timestamp,
            number: self.number,
            fair_pubdata_price: self.fair_pubdata_price,
            fair_l2_gas_price: self.fair_l2_gas_price,
            expected_base_fee: self.expected_base_fee,
        }
    }
}

/// A transaction in our bootloader's encoding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transaction {
    pub to: Address,
    pub gas_limit: u32,
    #[serde(default, skip_serializing_if = "Bytes::is_empty")]
    pub calldata: Bytes,
    /// The operator snapshots before pushing this transaction and rolls back once it has
    /// ended, as a state keeper rejecting it would: it leaves no trace. A batch with such a
    /// transaction is fed one transaction at a time (see [`Batch::fed_one_by_one`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollback: bool,
}

/// How far the operator runs the bootloader.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchMode {
    /// Until the bootloader returns, answering the pubdata request.
    #[default]
    Batch,
    /// Until the first transaction has ended.
    OneTx,
    /// Until the bootloader returns or asks for pubdata.
    BootloaderOnly,
    /// Until the first transaction's validation has ended, as a node validating a
    /// transaction for its mempool stops.
    Validation,
}

impl BatchMode {
    pub fn execution_mode(self) -> eravm::operator::ExecutionMode {
        match self {
            BatchMode::Batch => eravm::operator::ExecutionMode::Batch,
            BatchMode::OneTx => eravm::operator::ExecutionMode::OneTx,
            BatchMode::BootloaderOnly => eravm::operator::ExecutionMode::BootloaderOnly,
            BatchMode::Validation => eravm::operator::ExecutionMode::Validation,
        }
    }
}

impl Transaction {
    pub fn to_operator(&self) -> eravm::operator::Transaction {
        eravm::operator::Transaction::Simple(eravm::operator::SimpleTransaction {
            to: self.to.0,
            gas_limit: self.gas_limit,
            calldata: self.calldata.0.clone(),
        })
    }
}

/// How the first frame is set up; the defaults are the bootloader as a node starts it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FrameSettings {
    pub address: Address,
    pub caller: Address,
    pub is_static: bool,
    pub heap_bound: u32,
    pub aux_heap_bound: u32,
    pub context_u128: Word,
}

impl Default for FrameSettings {
    fn default() -> Self {
        FrameSettings {
            address: Address(H160::from_low_u64_be(eravm::BOOTLOADER_ADDRESS as u64)),
            caller: Address(H160::zero()),
            is_static: false,
            heap_bound: u32::MAX,
            aux_heap_bound: u32::MAX,
            context_u128: Word(U256::zero()),
        }
    }
}

/// The flags LT (less than, or overflow), EQ and GT at the start of the first frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InitialFlags {
    pub lt: bool,
    pub eq: bool,
    pub gt: bool,
}

impl InitialFlags {
    pub fn is_clear(&self) -> bool {
        *self == InitialFlags::default()
    }

    pub fn to_vm(self) -> eravm::Flags {
        eravm::Flags {
            lt_of: self.lt,
            eq: self.eq,
            gt: self.gt,
        }
    }
}

/// An initial register value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterValue {
    /// 1..=15.
    pub index: u8,
    pub value: Word,
    #[serde(default)]
    pub pointer: bool,
}

/// The field name errors give for the file as a whole.
pub const TOP_LEVEL: &str = "(top level)";

/// Why a case file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid case file: field `{field}`: {message}")]
    Field { field: String, message: String },
    #[error("{path} is larger than a case file may be ({limit} bytes; set ERADIFF_MAX_CASE_BYTES to allow more)")]
    TooLarge { path: String, limit: u64 },
}

/// Whether `path` names a case file by its extension: `*.json`, or `*.zasm` assembly.
pub fn is_case_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json") || crate::zasm::is_zasm(path)
}

/// The largest case file read, in bytes: `ERADIFF_MAX_CASE_BYTES`, or 64 MiB (a case of 2^16
/// code words and a world of a hundred full contracts is under 30 MiB).
pub fn max_case_bytes() -> u64 {
    std::env::var("ERADIFF_MAX_CASE_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64 << 20)
}

/// A case (or VM dump) file's text, at most [`max_case_bytes`] of it (`/dev/zero` is
/// refused, not read to the end of memory).
pub fn read_limited(path: &Path) -> Result<String, CaseError> {
    use std::io::Read;
    let io = |source| CaseError::Io {
        path: path.display().to_string(),
        source,
    };
    let limit = max_case_bytes();
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(limit + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > limit {
        return Err(CaseError::TooLarge {
            path: path.display().to_string(),
            limit,
        });
    }
    Ok(text)
}

impl Case {
    /// Parses a case from JSON, naming the offending field on error.
    pub fn from_json(text: &str) -> Result<Case, CaseError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let case: Case = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            // serde reports a missing field at the object holding it: name the field itself.
            if let Some(name) = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
            {
                let field = if path == "." {
                    name.to_string()
                } else {
                    format!("{path}.{name}")
                };
                return CaseError::Field {
                    field,
                    message: "required, and missing".into(),
                };
            }
            CaseError::Field {
                field: if path == "." {
                    TOP_LEVEL.to_string()
                } else {
                    path
                },
                message,
            }
        })?;
        // One JSON object and nothing after it but white space.
        de.end().map_err(|e| CaseError::Field {
            field: TOP_LEVEL.into(),
            message: format!(
                "text after the case's JSON object (line {}, column {})",
                e.line(),
                e.column()
            ),
        })?;
        case.validate()?;
        Ok(case)
    }

    /// Reads a case file, JSON or (named `*.zasm`) EraVM assembly, at most
    /// [`max_case_bytes`] of it (`/dev/zero` is refused, not read to the end of memory).
    pub fn load(path: &Path) -> Result<Case, CaseError> {
        let text = read_limited(path)?;
        if crate::zasm::is_zasm(path) {
            crate::zasm::case_from_zasm(&text)
        } else {
            Case::from_json(&text)
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a case always serialises")
    }

    /// Checks what the types alone do not.
    pub fn validate(&self) -> Result<(), CaseError> {
        let field = |field: String, message: String| Err(CaseError::Field { field, message });
        if !(1..=CASE_FORMAT_VERSION).contains(&self.version) {
            return field(
                "version".into(),
                format!(
                    "this build reads versions 1 to {CASE_FORMAT_VERSION}, the file is version {}",
                    self.version
                ),
            );
        }
        if self.version < 2 && self.world.is_some() {
            return field("world".into(), "worlds need format version 2".into());
        }
        if self.version < 3 && self.batch.is_some() {
            return field("batch".into(), "batches need format version 3".into());
        }
        if let Some(start) = &self.start {
            if self.version < 5 {
                return field("start".into(), "start states need format version 5".into());
            }
            if self.batch.is_some() {
                return field(
                    "start".into(),
                    "a batch starts from the bootloader's first frame, not a start state".into(),
                );
            }
            start.check().or_else(|(f, message)| field(f, message))?;
        }
        if let Some(world) = &self.world {
            for (i, c) in world.contracts.iter().enumerate() {
                if c.code.len() > MAX_CODE_WORDS {
                    return field(
                        format!("world.contracts[{i}].code"),
                        format!("at most {MAX_CODE_WORDS} words"),
                    );
                }
                if let Some(first) = world.contracts[..i]
                    .iter()
                    .position(|d| d.address == c.address)
                {
                    return field(
                        format!("world.contracts[{i}].address"),
                        format!(
                            "{:#x} is already deployed by world.contracts[{first}]: one \
                             contract per address",
                            c.address.0
                        ),
                    );
                }
            }
        }
        if self.version < 4
            && self
                .world
                .as_ref()
                .is_some_and(|w| !w.hashed_storage.is_empty() || !w.bytecodes.is_empty())
        {
            return field(
                "world.hashed_storage".into(),
                "hashed storage and bytecodes need format version 4".into(),
            );
        }
        if let Some(batch) = &self.batch {
            if self.version < 4 && !batch.blocks.is_empty() {
                return field(
                    "batch.blocks".into(),
                    "protocol transactions need format version 4".into(),
                );
            }
            if !batch.blocks.is_empty() && !batch.transactions.is_empty() {
                return field(
                    "batch.blocks".into(),
                    "a batch has transactions for our bootloader or blocks for the production \
                     one, not both"
                        .into(),
                );
            }
            if let Err((i, message)) = batch.fits() {
                let name = if batch.blocks.is_empty() {
                    "transactions"
                } else {
                    "blocks[*].transactions (in order)"
                };
                return field(format!("batch.{name}[{i}]"), message);
            }
        }
        if self.code.len() > MAX_CODE_WORDS {
            return field(
                "code".into(),
                format!(
                    "at most {MAX_CODE_WORDS} words fit a code page, got {}",
                    self.code.len()
                ),
            );
        }
        for (i, r) in self.registers.iter().enumerate() {
            if !(1..=15).contains(&r.index) {
                return field(
                    format!("registers[{i}].index"),
                    format!("registers are r1 to r15, got r{}", r.index),
                );
            }
        }
        if self.frame.context_u128.0.bits() > 128 {
            return field(
                "frame.context_u128".into(),
                "the context value has 128 bits".into(),
            );
        }
        if self.calldata.0.len() > MAX_CALLDATA_BYTES {
            return field(
                "calldata".into(),
                format!("at most {MAX_CALLDATA_BYTES} bytes"),
            );
        }
        Ok(())
    }

    /// The initial registers r1..r15.
    pub fn initial_registers(&self) -> [TaggedWord; 15] {
        let mut registers = [TaggedWord::ZERO; 15];
        for r in &self.registers {
            if (1..=15).contains(&r.index) {
                registers[r.index as usize - 1] = TaggedWord {
                    value: r.value.0,
                    is_pointer: r.pointer,
                };
            }
        }
        registers
    }

    /// The code as plain words.
    pub fn code_words(&self) -> Vec<U256> {
        self.code.iter().map(|w| w.0).collect()
    }

    /// The same case as a bootloader for `eravm`.
    pub fn bootloader(&self) -> eravm::Bootloader {
        eravm::Bootloader {
            code: self.code_words(),
            ergs: self.ergs,
            registers: self.initial_registers(),
            calldata: self.calldata.0.clone(),
            address: self.frame.address.0,
            caller: self.frame.caller.0,
            is_static: self.frame.is_static,
            heap_bound: self.frame.heap_bound,
            aux_heap_bound: self.frame.aux_heap_bound,
            context_u128: self.frame.context_u128.0.low_u128(),
            flags: self.flags.to_vm(),
        }
    }

    /// The world, resolved for the hosts; an empty world (with empty default account code)
    /// when the case has none.
    pub fn resolved_world(&self) -> crate::world::ResolvedWorld {
        use std::cell::RefCell;
        type Resolution = (Option<crate::world::World>, crate::world::ResolvedWorld);
        // Both backends of a check resolve the same world, and hashing its bytecodes is
        // most of the cost: the last resolution is kept, keyed by the whole world.
        thread_local! {
            static LAST: RefCell<Option<Resolution>> = const { RefCell::new(None) };
        }
        let hit = LAST.with(|last| match &*last.borrow() {
            Some((world, resolved)) if *world == self.world => Some(resolved.clone()),
            _ => None,
        });
        if let Some(resolved) = hit {
            return resolved;
        }
        let resolved = self.world.clone().unwrap_or_default().resolve();
        LAST.with(|last| *last.borrow_mut() = Some((self.world.clone(), resolved.clone())));
        resolved
    }

    /// Number of instructions the program holds, counting every slot of every code word.
    pub fn instruction_slots(&self) -> usize {
        self.code.len() * 4
    }

    /// The code running at `address`: the case's program at the first frame's address, else
    /// the world contract deployed there.
    pub fn code_at(&self, address: &eravm::H160) -> Option<&[Word]> {
        if *address == self.frame.address.0 {
            return Some(&self.code);
        }
        let contracts = &self.world.as_ref()?.contracts;
        let contract = contracts.iter().find(|c| c.address.0 == *address)?;
        Some(&contract.code)
    }
}

/// A code page holds 2^16 instructions, four to a word.
pub const MAX_CODE_WORDS: usize = 1 << 14;
/// Calldata a case may carry.
pub const MAX_CALLDATA_BYTES: usize = 1 << 20;

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}
