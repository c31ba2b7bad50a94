//! The node as an oracle: zksync-era's own operators — `vm_latest` (vm1 on zk_evm 0.153.8)
//! and `vm_fast` (on zksync_vm2 0.5.0) — run a real batch beside our VMs.
//!
//! They live in a binary of their own (`node/`, a workspace apart: `zksync_multivm` cannot
//! share a Cargo graph with our reference). The harness starts it once per thread and
//! speaks to it line by line: one request (the case's real batch, in the node's terms) in,
//! one outcome out. Nothing of our operator goes into the request: the node encodes the
//! transactions, answers the hooks, computes refunds and pubdata and runs the block tip
//! itself, so a bug in protocol code both our sides share shows here.
//!
//! A node reports what a state keeper sees, not a VM's registers: the comparison is on
//! that outcome ([`Unobserved::node_outcome`]; `docs/node-oracle.md` says what it holds).
//! A case that is not a real batch is declined with a reason, never a finding; a panic of
//! the node, or its process dying, is a crash finding.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use eravm::{H160, U256};
use primitive_types::H256;
use serde::{Deserialize, Serialize};

use super::{Backend, BackendError};
use crate::case::{Batch, BatchInfo, BatchMode, Bytes, Case, L2Block, Word};
use crate::compare::Unobserved;
use crate::observe::{BatchView, FinalState, LogView, Run, RunEnd, SlotView, WorldView};

/// The environment variable naming the node binary (else `node/target/release/`).
pub const NODE_ENV: &str = "ERADIFF_NODE";

/// Which of the node's operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeVm {
    /// `vm_latest`: the vm1 operator on zk_evm 0.153.8.
    Vm1,
    /// `vm_fast`: the operator on zksync_vm2 0.5.0.
    Fast,
}

/// A node operator as a backend.
pub struct Node(pub NodeVm);

/// `node-vm1`.
pub const NODE_VM1: Node = Node(NodeVm::Vm1);
/// `node-fast`.
pub const NODE_FAST: Node = Node(NodeVm::Fast);

impl Backend for Node {
    fn name(&self) -> &'static str {
        match self.0 {
            NodeVm::Vm1 => "node-vm1",
            NodeVm::Fast => "node-fast",
        }
    }

    fn run(&self, case: &Case, _trace: bool) -> Result<Run, BackendError> {
        let (outcome, mode) = exchange(case, self.0)?;
        let mut run = outcome.run(mode);
        if super::projection_fault::is_on(self.name()) {
            corrupt_first_refund(&mut run);
        }
        Ok(run)
    }

    fn may_decline(&self) -> bool {
        true
    }

    fn unobserved(&self) -> Unobserved {
        Unobserved {
            node_outcome: true,
            ..Unobserved::default()
        }
    }

    fn runs_our_operator(&self) -> bool {
        false
    }
}

/// Sends the case to this thread's node process: its outcome if it ran the case, else a
/// crash (the node panicked or died) or why it cannot host the case.
fn exchange(case: &Case, vm: NodeVm) -> Result<(Outcome, Mode), BackendError> {
    let request = request(case, vm).map_err(BackendError::Unsupported)?;
    let line = serde_json::to_string(&request).expect("a request serialises");
    let answer = ask(&line).map_err(BackendError::Crashed)?;
    log_exchange(&line, &answer);
    let outcome: Outcome = serde_json::from_str(&answer)
        .map_err(|e| BackendError::Crashed(format!("the node's answer does not parse: {e}")))?;
    match outcome.status.as_str() {
        "done" => Ok((outcome, request.mode)),
        "crash" => Err(BackendError::Crashed(outcome.message)),
        _ => Err(BackendError::Unsupported(outcome.message)),
    }
}

/// How long a node operator takes over a real batch inside its process (from making its
/// VM to the end of the run: the node's operator and VM, not the line protocol), and the
/// cycles its VM ran: what `eradiff bench` sets beside eravm's time.
pub fn timed(case: &Case, vm: NodeVm) -> Result<(std::time::Duration, u64), String> {
    let (outcome, _) = exchange(case, vm).map_err(|e| e.to_string())?;
    Ok((
        std::time::Duration::from_micros(outcome.micros),
        outcome.cycles,
    ))
}

/// node-fast's projection bug ([`super::projection_fault`]): the first transaction's
/// refund reads one more.
fn corrupt_first_refund(run: &mut Run) {
    let first = run.state.batch.as_mut().and_then(|b| b.results.first_mut());
    if let Some((_, _, refund)) = first {
        let value = U256::from_str_radix(refund.trim_start_matches("0x"), 16).unwrap_or_default();
        *refund = format!("{:#x}", value + 1);
    }
}

// ---- the request ----

#[derive(Serialize)]
struct Request<'a> {
    vm: NodeVm,
    mode: Mode,
    protocol: u16,
    chain_id: u64,
    eth_call: bool,
    bootloader_gas_limit: u32,
    bootloader: Bytes,
    default_aa: Bytes,
    evm_emulator: Option<Bytes>,
    batch: &'a BatchInfo,
    enforced_base_fee: Option<u64>,
    storage: Vec<(Word, Word, Option<u64>)>,
    bytecodes: Vec<(Word, Bytes)>,
    blocks: &'a [L2Block],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    Batch,
    OneTx,
}

/// The case's real batch and the mode the node runs it in, or why the node cannot.
fn real_batch(case: &Case) -> Result<(&Batch, Mode), String> {
    let batch = case
        .batch
        .as_ref()
        .filter(|b| b.runs_production_bootloader())
        .ok_or("the node runs real batches only (the production bootloader's L2 blocks)")?;
    let mode = match batch.mode {
        BatchMode::Batch => Mode::Batch,
        BatchMode::OneTx => Mode::OneTx,
        other => return Err(format!("the node adapter has no {other:?} mode")),
    };
    if case.start.is_some() {
        return Err("a start state is not a node's".into());
    }
    let mut txs = batch.blocks.iter().flat_map(|b| &b.transactions);
    if txs.any(|tx| !tx.reserved_dynamic.is_empty()) {
        return Err("reservedDynamic cannot be set through the node".into());
    }
    Ok((batch, mode))
}

/// The node's request for a case, or why the node cannot host it.
fn request(case: &Case, vm: NodeVm) -> Result<Request<'_>, String> {
    let (batch, mode) = real_batch(case)?;
    let hash = crate::world::bytecode_hash(&case.code, false);
    let version = crate::contracts::version_of_bootloader(hash)
        .ok_or_else(|| format!("bootloader {hash:#x} is not one the manifest knows"))?;
    let no_world = crate::world::World::default();
    let world = case.world.as_ref().unwrap_or(&no_world);
    let resolved = case.resolved_world();
    let chain_id = resolved.initial_value(&eravm::StorageKey {
        address: H160::from_low_u64_be(crate::world::SYSTEM_CONTEXT),
        key: U256::zero(),
    });
    let mut txs = batch.blocks.iter().flat_map(|b| &b.transactions);
    let bytes = |words: &[Word]| Bytes(eravm::operator::bytes_of_words(words.iter().map(|w| w.0)));
    Ok(Request {
        vm,
        mode,
        protocol: version.number(),
        chain_id: chain_id.low_u64(),
        eth_call: txs.any(|tx| tx.eth_call),
        bootloader_gas_limit: case.ergs,
        bootloader: bytes(&case.code),
        default_aa: bytes(&world.default_account),
        // A node without an emulator runs the default account for EVM code: what a case
        // with the two codes equal means.
        evm_emulator: (!world.evm_emulator.is_empty()
            && world.evm_emulator != world.default_account)
            .then(|| bytes(&world.evm_emulator)),
        batch: &batch.info,
        // The node derives the base fee from the fee input on its own unless the case
        // names another (a dump's enforced base fee).
        enforced_base_fee: {
            let info = &batch.info;
            let derived = eravm::operator::Fees::derived_base_fee(
                info.fair_l2_gas_price,
                info.fair_pubdata_price,
            );
            (info.expected_base_fee != derived).then_some(info.expected_base_fee)
        },
        storage: node_storage(&resolved),
        bytecodes: resolved
            .bytecodes
            .iter()
            .map(|(hash, code)| {
                (
                    Word(*hash),
                    Bytes(eravm::operator::bytes_of_words(code.iter().copied())),
                )
            })
            .collect(),
        blocks: &batch.blocks,
    })
}

/// Every slot of the world by derived key, with its enumeration index.
fn node_storage(world: &crate::world::ResolvedWorld) -> Vec<(Word, Word, Option<u64>)> {
    let mut slots: Vec<_> = world
        .values
        .iter()
        .map(|(key, value)| {
            let derived = eravm::operator::pubdata::derived_key(&key.address, &key.key);
            (
                Word(U256::from_big_endian(&derived)),
                Word(*value),
                world.enumeration_index(key),
            )
        })
        .collect();
    for key in world
        .enumerated
        .keys()
        .filter(|k| !world.values.contains_key(k))
    {
        let derived = eravm::operator::pubdata::derived_key(&key.address, &key.key);
        slots.push((
            Word(U256::from_big_endian(&derived)),
            Word::default(),
            world.enumeration_index(key),
        ));
    }
    slots.extend(world.hashed.iter().map(|(derived, (value, index))| {
        (Word(U256::from_big_endian(derived)), Word(*value), *index)
    }));
    slots.sort_by_key(|(key, _, _)| key.0);
    slots.dedup_by_key(|(key, _, _)| key.0);
    slots
}

// ---- the outcome ----

#[derive(Deserialize)]
struct Outcome {
    status: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    transactions: Vec<TxOutcome>,
    block_tip: Option<TxOutcome>,
    #[serde(default)]
    storage: Vec<(H160, U256, U256)>,
    #[serde(default)]
    l2_to_l1_logs: Vec<L2ToL1Log>,
    #[serde(default)]
    bootloader_memory: Vec<(u32, U256)>,
    #[serde(default)]
    micros: u64,
    #[serde(default)]
    cycles: u64,
}

#[derive(Deserialize)]
struct TxOutcome {
    status: String,
    output: Bytes,
    refund: u64,
    rolled_back: bool,
}

#[derive(Deserialize)]
struct L2ToL1Log {
    shard_id: u8,
    is_service: bool,
    tx_number: u16,
    sender: H160,
    key: H256,
    value: H256,
}

impl Outcome {
    /// The outcome as a final state holding only what [`Unobserved::node_outcome`] keeps.
    fn run(self, mode: Mode) -> Run {
        let end = match (&self.block_tip, mode) {
            (_, Mode::OneTx) => RunEnd::OperatorStop,
            (Some(tip), Mode::Batch) if tip.status == "success" => RunEnd::Ok,
            _ => RunEnd::Revert,
        };
        let results = self
            .transactions
            .iter()
            .filter(|t| !t.rolled_back)
            .map(|t| {
                let success = t.status == "success";
                (
                    success,
                    hex::encode(&t.output.0),
                    format!("{:#x}", t.refund),
                )
            })
            .collect();
        let rejected = self
            .transactions
            .iter()
            .enumerate()
            .filter(|(_, t)| t.status == "halt")
            .map(|(i, _)| (i, String::new()))
            .collect();
        let mut storage: Vec<SlotView> = self
            .storage
            .iter()
            .map(|&(address, key, value)| SlotView {
                address,
                key,
                value,
            })
            .collect();
        storage.sort();
        let l2_to_l1_logs = self
            .l2_to_l1_logs
            .iter()
            .map(|l| LogView {
                address: l.sender,
                key: U256::from_big_endian(l.key.as_bytes()),
                value: U256::from_big_endian(l.value.as_bytes()),
                is_first: l.is_service,
                tx_number: l.tx_number,
                shard_id: l.shard_id,
            })
            .collect();
        let batch = BatchView {
            results,
            hooks: Vec::new(),
            pubdata: (mode == Mode::Batch)
                .then(|| pubdata_in(&self.bootloader_memory))
                .flatten(),
            rejected,
        };
        let world = WorldView {
            storage,
            l2_to_l1_logs,
            ..WorldView::default()
        };
        let state = FinalState::outcome_only(end, world, Some(batch));
        Run {
            state,
            panics: Default::default(),
            trace: None,
            variant_counts: Vec::new(),
            corners: Default::default(),
            stats: Default::default(),
        }
    }
}

/// The pubdata the node's operator wrote for the L1 messenger, read back from the
/// bootloader's final heap where the protocol places it: `abi.encode(l2DaValidator,
/// operatorInput)` from the word after the region's start (validator, offset, length, then
/// the input's words).
fn pubdata_in(memory: &[(u32, U256)]) -> Option<String> {
    let mut memory = memory.to_vec();
    memory.sort_by_key(|(index, _)| *index);
    let start = eravm::operator::layout::L1_MESSENGER_PUBDATA + 1;
    let word = |i: u32| {
        memory
            .binary_search_by_key(&i, |(index, _)| *index)
            .map_or(U256::zero(), |at| memory[at].1)
    };
    let length = word(start + 2);
    if length > U256::from(eravm::operator::layout::L1_MESSENGER_PUBDATA_WORDS) * 32 {
        return None;
    }
    let words = 3 + length.low_u32().div_ceil(32);
    let bytes = eravm::operator::bytes_of_words((start..start + words).map(word));
    Some(hex::encode(bytes))
}

// ---- the process ----

/// With `ERADIFF_NODE_LOG=FILE`, every request and answer line is appended there (to see
/// what the node was asked and what it said, beyond the comparison).
fn log_exchange(request: &str, answer: &str) {
    let Some(path) = std::env::var_os("ERADIFF_NODE_LOG") else {
        return;
    };
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(file, "{request}");
        let _ = write!(file, "{answer}");
    }
}

/// Where the node binary is, or the command that builds it.
pub fn binary() -> Result<PathBuf, String> {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(std::path::Path::new("."));
    let path = std::env::var_os(NODE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("node/target/release/eradiff-node"));
    if path.is_file() {
        return Ok(path);
    }
    Err(format!(
        "the node binary {} is not there: build it with `cargo build --release \
         --manifest-path {}` (or name it in {NODE_ENV})",
        path.display(),
        workspace.join("node/Cargo.toml").display()
    ))
}

/// How long the node may take over one request before it is taken for hung (seconds,
/// `ERADIFF_NODE_TIMEOUT`, default 600): then it is killed and the case is a crash finding.
fn answer_timeout() -> std::time::Duration {
    let seconds = std::env::var("ERADIFF_NODE_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    std::time::Duration::from_secs(seconds)
}

struct NodeProcess {
    child: Child,
    /// Request lines, written by a thread of their own, and the node's answer lines, read
    /// by another (`None` once its stdout closed): so that a node that stops reading or
    /// answering can be given up on.
    requests: std::sync::mpsc::Sender<String>,
    answers: std::sync::mpsc::Receiver<Option<String>>,
}

impl NodeProcess {
    fn start() -> Result<NodeProcess, String> {
        let mut child = Command::new(binary()?)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the node binary: {e}"))?;
        let mut stdin = child.stdin.take().ok_or("the node's stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("the node's stdout")?);
        let (requests, to_write) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in to_write {
                if writeln!(stdin, "{line}")
                    .and_then(|()| stdin.flush())
                    .is_err()
                {
                    break;
                }
            }
        });
        let (send, answers) = std::sync::mpsc::channel();
        std::thread::spawn(move || loop {
            let mut line = String::new();
            let read = stdout.read_line(&mut line);
            let closed = !matches!(read, Ok(n) if n > 0);
            if send.send((!closed).then_some(line)).is_err() || closed {
                break;
            }
        });
        Ok(NodeProcess {
            child,
            requests,
            answers,
        })
    }

    fn ask(&mut self, line: &str) -> Result<String, String> {
        if self.requests.send(line.to_string()).is_err() {
            return Err(format!("the node process died ({})", self.status()));
        }
        let timeout = answer_timeout();
        match self.answers.recv_timeout(timeout) {
            Ok(Some(answer)) => Ok(answer),
            Ok(None) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                Err(format!("the node process died ({})", self.status()))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(format!(
                "the node did not answer within {}s (ERADIFF_NODE_TIMEOUT)",
                timeout.as_secs()
            )),
        }
    }

    fn status(&mut self) -> String {
        match self.child.wait() {
            Ok(status) => status.to_string(),
            Err(e) => e.to_string(),
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

thread_local! {
    /// One node process per thread, started on first use and again after it died.
    static PROCESS: RefCell<Option<NodeProcess>> = const { RefCell::new(None) };
}

/// Sends one request line to this thread's node process and returns its answer line.
fn ask(line: &str) -> Result<String, String> {
    PROCESS.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(NodeProcess::start()?);
        }
        let process = slot.as_mut().expect("started above");
        let answer = process.ask(line);
        if answer.is_err() {
            // A process that failed once is not trusted again.
            *slot = None;
        }
        answer
    })
}
