//! What a backend reports about a run: the state at the end, and optionally after every cycle.
//!
//! Both backends fill the same types, so comparing runs is comparing values.

use std::fmt;

use eravm::{Instruction, U256};
use serde::Serialize;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum RunEnd {
    Ok,
    Revert,
    Panic,
    /// The case's cycle cap was reached.
    CycleLimit,
    /// The run's memory budget was spent: [`max_journal`] instructions that make a VM keep
    /// something until the run ends (storage and transient accesses, events, messages,
    /// precompile calls, decommits, far calls) ran. Counted by the driver from the
    /// instructions each VM ran, so every VM stops at the same cycle.
    MemoryBudget,
    /// The host could not answer (the world lacks a bytecode a call needs).
    HostError,
    /// The operator stopped the run where its mode says (a transaction ended, pubdata asked).
    OperatorStop,
}

/// A register (or stack slot) value with its pointer tag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Tagged {
    #[serde(serialize_with = "ser_u256")]
    pub value: U256,
    pub pointer: bool,
}

impl fmt::Display for Tagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.value)?;
        if self.pointer {
            f.write_str(" (ptr)")?;
        }
        Ok(())
    }
}

pub(crate) fn ser_u256<S: serde::Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct FlagsView {
    pub lt: bool,
    pub eq: bool,
    pub gt: bool,
}

impl fmt::Display for FlagsView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |b: bool| if b { "+" } else { "-" };
        write!(f, "lt{} eq{} gt{}", s(self.lt), s(self.eq), s(self.gt))
    }
}

/// The parts of a call frame a program can observe or that later instructions depend on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct FrameView {
    pub pc: u16,
    pub sp: u16,
    pub ergs: u32,
    pub exception_handler: u16,
    pub heap_bound: u32,
    pub aux_heap_bound: u32,
    pub is_local: bool,
    pub context_u128: u128,
    pub depth: usize,
}

/// An entry below the current frame at the end of a run: what the frame resumes with.
/// (A far frame's address, bounds and context cannot change while it waits.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct SavedFrameView {
    pub pc: u16,
    pub sp: u16,
    pub ergs: u32,
    pub exception_handler: u16,
    pub is_local: bool,
    pub total_pubdata_spent: i32,
}

/// The observable state after a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FinalState {
    pub end: RunEnd,
    pub cycles: u64,
    /// The first bytes of the returned slice (at most [`RETURN_DATA_LIMIT`]).
    #[serde(serialize_with = "ser_hex")]
    pub return_data: Vec<u8>,
    pub registers: [Tagged; 15],
    pub flags: FlagsView,
    /// Ergs and PC of the current frame: after the end, the formal frame below the bootloader.
    pub ergs: u32,
    pub pc: u16,
    /// The current frame after the last cycle that left the VM running.
    pub last_frame: FrameView,
    pub context_u128_register: u128,
    pub tx_number: u16,
    pub pending_panic: bool,
    /// Words that are not zero, by word index, of the bootloader's pages and static memory.
    pub heap: Vec<(u32, Tagged)>,
    pub aux_heap: Vec<(u32, Tagged)>,
    pub stack: Vec<(u32, Tagged)>,
    pub static_memory: Vec<(u32, Tagged)>,
    /// Cases with a start state: the entries below the current frame, bottom first (the
    /// formal frame below the first is left out).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub call_stack: Vec<SavedFrameView>,
    /// Cases with a start state: words that are not zero on the stack, heap and aux heap
    /// pages of the far frames it put below the first (page, index, word).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub start_pages: Vec<(u32, u32, Tagged)>,
    /// What the run changed in the world.
    pub world: WorldView,
    /// What the operator saw of a batch (cases with a batch only).
    pub batch: Option<BatchView>,
    /// A fold of every cycle's PC, flags and register changes: catches differences that a
    /// later instruction (a far return clears registers) would hide from the final state.
    pub history: u64,
    /// Folds of the frames below, the modes, the context register and the decommitted set,
    /// wherever they can change (see [`crate::frames`]).
    pub frame_history: crate::frames::FrameDigests,
}

impl FinalState {
    /// A state holding only how the run ended, the world's changes and the operator's view
    /// of the batch, every other field fixed: what a node reports (see
    /// [`crate::compare::Unobserved::node_outcome`]).
    pub fn outcome_only(end: RunEnd, world: WorldView, batch: Option<BatchView>) -> FinalState {
        FinalState {
            end,
            cycles: 0,
            return_data: Vec::new(),
            registers: Default::default(),
            flags: Default::default(),
            ergs: 0,
            pc: 0,
            last_frame: FrameView::default(),
            context_u128_register: 0,
            tx_number: 0,
            pending_panic: false,
            heap: Vec::new(),
            aux_heap: Vec::new(),
            stack: Vec::new(),
            static_memory: Vec::new(),
            call_stack: Vec::new(),
            start_pages: Vec::new(),
            world,
            batch,
            history: 0,
            frame_history: crate::frames::FrameDigests::default(),
        }
    }
}

/// The operator's view of a batch run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BatchView {
    /// Per transaction: success, the first bytes returned (hex), the refund notified.
    pub results: Vec<(bool, String, String)>,
    /// Every hook raised, in order.
    pub hooks: Vec<HookView>,
    /// The pubdata written on PubdataRequested (hex), if it was requested in batch mode.
    pub pubdata: Option<String>,
    /// Transactions the bootloader rejected (it halted, and the operator rolled them back):
    /// the index among those pushed and what the bootloader returned (hex).
    pub rejected: Vec<(usize, String)>,
}

impl BatchView {
    /// The operator's view of a batch, with the registers at each hook and the transactions
    /// rejected.
    pub fn new(
        state: &eravm::operator::BootloaderState,
        hook_registers: &[[Tagged; 15]],
        rejected: &[(usize, Vec<u8>)],
    ) -> BatchView {
        let word = |v: &eravm::U256| format!("{v:#x}");
        let mut tx = 0;
        let hooks = state
            .hooks
            .iter()
            .zip(hook_registers)
            .map(|((hook, p), registers)| {
                let view = HookView {
                    tx,
                    hook: format!("{hook:?}"),
                    params: [word(&p[0]), word(&p[1]), word(&p[2])],
                    registers: *registers,
                };
                tx += (*hook == eravm::operator::Hook::TxHasEnded) as usize;
                view
            })
            .collect();
        BatchView {
            results: state
                .results
                .iter()
                .map(|r| (r.success, hex::encode(&r.return_data), word(&r.refund)))
                .collect(),
            hooks,
            pubdata: state.pubdata.as_ref().map(hex::encode),
            rejected: rejected
                .iter()
                .map(|(i, bytes)| (*i, hex::encode(bytes)))
                .collect(),
        }
    }
}

/// One hook as the operator saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HookView {
    /// The transaction it belongs to (0-based: the transactions ended before it).
    pub tx: usize,
    pub hook: String,
    /// Its three parameters (hex).
    pub params: [String; 3],
    /// The bootloader's registers r1–r15 right after the hook write.
    pub registers: [Tagged; 15],
}

/// An event or L2→L1 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct LogView {
    #[serde(serialize_with = "ser_h160")]
    pub address: eravm::H160,
    #[serde(serialize_with = "ser_u256")]
    pub key: U256,
    #[serde(serialize_with = "ser_u256")]
    pub value: U256,
    pub is_first: bool,
    pub tx_number: u16,
    pub shard_id: u8,
}

impl From<&eravm::LogEntry> for LogView {
    fn from(e: &eravm::LogEntry) -> LogView {
        LogView {
            address: e.address,
            key: e.key,
            value: e.value,
            is_first: e.is_first,
            tx_number: e.tx_number,
            shard_id: e.shard_id,
        }
    }
}

/// A storage slot and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SlotView {
    #[serde(serialize_with = "ser_h160")]
    pub address: eravm::H160,
    #[serde(serialize_with = "ser_u256")]
    pub key: U256,
    #[serde(serialize_with = "ser_u256")]
    pub value: U256,
}

fn ser_h160<S: serde::Serializer>(v: &eravm::H160, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

/// The changes a run made to the world.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WorldView {
    /// Slots whose value differs from the start, sorted.
    pub storage: Vec<SlotView>,
    /// Transient slots that are not zero, sorted.
    pub transient: Vec<SlotView>,
    pub events: Vec<LogView>,
    pub l2_to_l1_logs: Vec<LogView>,
    /// Pubdata spent in total (what survived rollbacks).
    pub pubdata: i32,
    /// Pubdata cost of every storage write, in order.
    pub pubdata_costs: Vec<i32>,
    /// Refund of every storage access, in order.
    pub refunds: Vec<u32>,
    /// Hash proper (hex) and page of every decommitted bytecode, sorted.
    pub decommitted: Vec<(String, u32)>,
    /// The call tree: every far call and far return, in order.
    pub calls: Vec<CallEvent>,
}

/// A far call or the end of a far frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum CallEvent {
    Call {
        /// Call stack depth of the callee (near frames count).
        depth: usize,
        /// The instruction, with its modifiers: `far_call.delegate.static`.
        kind: String,
        #[serde(serialize_with = "ser_h160")]
        caller: eravm::H160,
        /// The callee frame's own address (the caller's for a delegate call).
        #[serde(serialize_with = "ser_h160")]
        this: eravm::H160,
        #[serde(serialize_with = "ser_h160")]
        code: eravm::H160,
        ergs: u32,
    },
    Return {
        depth: usize,
        /// `ok`, `revert` or `panic`: how the frame really ended.
        how: &'static str,
    },
}

/// Builds the call tree from what each cycle executed; both backends feed it the same way.
#[derive(Clone, Debug, Default)]
pub struct CallTracker {
    pub events: Vec<CallEvent>,
}

/// The current frame as the tracker needs it: this, code address, ergs, is it a near frame.
pub type FrameIds = (eravm::H160, eravm::H160, u32, bool);

impl CallTracker {
    /// Whether an executed instruction is one the tracker records (so that the frame after
    /// it is worth looking at).
    pub fn wants(executed: &Instruction) -> bool {
        matches!(
            executed.opcode.family(),
            eravm::opcode::Family::FarCall | eravm::opcode::Family::Ret
        )
    }

    /// After a cycle: `executed` ran in a frame that was `before`; `after` is current now.
    pub fn cycle(
        &mut self,
        executed: &Instruction,
        before: FrameIds,
        after: FrameIds,
        depth_after: usize,
        panicked: bool,
    ) {
        use eravm::opcode::Family;
        match executed.opcode.family() {
            Family::FarCall => self.events.push(CallEvent::Call {
                depth: depth_after,
                kind: executed.name(),
                caller: before.0,
                this: after.0,
                code: after.1,
                ergs: after.2,
            }),
            Family::Ret if !before.3 => self.events.push(CallEvent::Return {
                depth: depth_after + 1,
                how: if panicked {
                    "panic"
                } else if executed.opcode == eravm::Opcode::RetRevert {
                    "revert"
                } else {
                    "ok"
                },
            }),
            _ => {}
        }
    }
}

/// Every register r1..r15, as a [`History::cycle`] mask.
pub const ALL_REGISTERS: u16 = 0x7fff;

/// Folds the state after each cycle into one number, cheaply: only registers that changed
/// are hashed. Both backends call it every cycle, so it compares limbs in place rather than
/// building register views.
#[derive(Clone, Debug)]
pub struct History {
    digest: u64,
    values: [[u64; 4]; 15],
    pointers: u16,
}

impl History {
    pub fn new(initial: [Tagged; 15]) -> History {
        let mut pointers = 0;
        for (i, t) in initial.iter().enumerate() {
            pointers |= (t.pointer as u16) << i;
        }
        History {
            digest: 0,
            values: initial.map(|t| t.value.0),
            pointers,
        }
    }

    #[inline(always)]
    fn mix(digest: &mut u64, x: u64) {
        *digest = (digest.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    /// Folds in one cycle: the PC, the flags (lt, eq, gt), and the registers in
    /// `candidates` (bit i: r(i+1)), given as the limbs of r(i+1) by `value(i)` and its
    /// pointer tag by `pointer(i)`. Only those registers can have changed: a backend that
    /// knows which registers the cycle wrote names them, any other passes all
    /// (`ALL_REGISTERS`). A register is folded in when its value or tag changed.
    #[inline]
    pub fn cycle(
        &mut self,
        pc: u16,
        flags: [bool; 3],
        value: impl Fn(usize) -> [u64; 4],
        pointer: impl Fn(usize) -> bool,
        candidates: u16,
    ) {
        let d = &mut self.digest;
        let flag_bits = (flags[0] as u64) << 16 | (flags[1] as u64) << 17 | (flags[2] as u64) << 18;
        Self::mix(d, pc as u64 | flag_bits);
        let mut candidates = candidates & ALL_REGISTERS;
        while candidates != 0 {
            let i = candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            let before = &mut self.values[i];
            let now = value(i);
            let tag = pointer(i);
            if now != *before || tag != (self.pointers >> i & 1 != 0) {
                Self::mix(d, i as u64 | (tag as u64) << 8);
                for limb in now {
                    Self::mix(d, limb);
                }
                *before = now;
                self.pointers = self.pointers & !(1 << i) | (tag as u16) << i;
            }
        }
    }

    pub fn digest(&self) -> u64 {
        self.digest
    }
}

fn ser_hex<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("0x{}", hex::encode(v)))
}

/// Return data compared, in bytes; the returned pointer itself is compared in full (r1).
pub const RETURN_DATA_LIMIT: usize = 4096;

/// The state after one cycle, for step traces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepState {
    pub cycle: u64,
    /// PC of the instruction that ran, and the address whose code it is.
    pub pc_before: u16,
    #[serde(serialize_with = "ser_h160")]
    pub code_address: eravm::H160,
    /// The instruction that ran, after faults and false conditions replaced it.
    pub executed: u64,
    pub frame: FrameView,
    pub flags: FlagsView,
    pub registers: [Tagged; 15],
    pub pending_panic: bool,
    /// Memory written by the step: page, word index, value.
    pub writes: Vec<(u32, u32, Tagged)>,
    /// Pubdata spent so far.
    pub pubdata: i32,
    /// Events and L2→L1 messages alive so far.
    pub logs: usize,
    /// The frames below, the modes, the context register and the decommitted set.
    pub watched: crate::frames::FramesAtStep,
}

impl StepState {
    pub fn disassembly(&self) -> String {
        Instruction::decode(self.executed).to_string()
    }
}

/// The most journaling instructions a run may execute before it ends with
/// [`RunEnd::MemoryBudget`]: `ERADIFF_MAX_JOURNAL`, or 2,000,000 (a few hundred MB on each
/// VM; the production bootloader's batches journal a few thousand).
pub fn max_journal() -> u64 {
    std::env::var("ERADIFF_MAX_JOURNAL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000)
}

/// Whether an instruction word makes a VM keep something for the rest of the run (see
/// [`RunEnd::MemoryBudget`]).
pub fn journals(raw: u64) -> bool {
    variant_journals((raw & (eravm::decoder::VARIANT_TABLE_LEN as u64 - 1)) as u16)
}

/// [`journals`] for an entry of the variant table.
pub fn variant_journals(index: u16) -> bool {
    let opcode = eravm::decoder::VARIANT_TABLE[usize::from(index)].opcode;
    matches!(
        opcode.family(),
        eravm::opcode::Family::Log | eravm::opcode::Family::FarCall
    )
}

/// The most steps a trace keeps: `ERADIFF_MAX_TRACE_STEPS`, or 200,000 (a step is about
/// 1.5 KB, so the two traces of an explanation stay under about 600 MB). A trace cut there
/// still finds a first difference within it; the report says when it looked no further.
pub fn max_trace_steps() -> usize {
    std::env::var("ERADIFF_MAX_TRACE_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

/// How many panics a [`PanicLog`] keeps at each end of a run.
pub const PANICS_KEPT: usize = 32;

/// The panics of a run and their reasons, from a VM that gives them (eravm does; zk_evm and
/// vm2 keep only that a panic is pending): the first and the last [`PANICS_KEPT`], and how
/// many there were. Diagnostics for reports; never compared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PanicLog {
    first: Vec<eravm::Panic>,
    last: std::collections::VecDeque<eravm::Panic>,
    pub total: u64,
}

impl PanicLog {
    pub fn push(&mut self, panic: eravm::Panic) {
        self.total += 1;
        if self.first.len() < PANICS_KEPT {
            self.first.push(panic);
            return;
        }
        if self.last.len() == PANICS_KEPT {
            self.last.pop_front();
        }
        self.last.push_back(panic);
    }

    /// The panics kept, in order.
    pub fn iter(&self) -> impl Iterator<Item = &eravm::Panic> {
        self.first.iter().chain(self.last.iter())
    }

    /// The latest few panics kept at or before `cycle` (all of them for `u64::MAX`).
    pub fn up_to(&self, cycle: u64, few: usize) -> Vec<PanicView> {
        let until: Vec<&eravm::Panic> = self.iter().filter(|p| p.cycle <= cycle).collect();
        until[until.len().saturating_sub(few)..]
            .iter()
            .map(|p| PanicView::from(**p))
            .collect()
    }
}

/// A panic as reports show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PanicView {
    pub cycle: u64,
    pub depth: usize,
    pub reason: &'static str,
}

impl From<eravm::Panic> for PanicView {
    fn from(p: eravm::Panic) -> PanicView {
        PanicView {
            cycle: p.cycle,
            depth: p.depth,
            reason: p.reason.describe(),
        }
    }
}

impl std::fmt::Display for PanicView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cycle {}, depth {}: {}",
            self.cycle, self.depth, self.reason
        )
    }
}

/// The result of one run on one backend.
#[derive(Clone, Debug)]
pub struct Run {
    pub state: FinalState,
    /// Why frames panicked, if the backend says (observed runs of eravm).
    pub panics: PanicLog,
    /// The steps, up to [`max_trace_steps`] of them.
    pub trace: Option<Vec<StepState>>,
    /// How often each entry of the variant table ran (empty if the backend does not count).
    pub variant_counts: Vec<u32>,
    /// How often the run reached each behaviour corner (empty if the backend does not say).
    pub corners: crate::coverage::CornerCounts,
    /// What the run exercised, for campaign summaries (zero if the backend does not count).
    pub stats: RunStats,
}

/// Counts of events a campaign wants to see often.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunStats {
    /// Precompile calls by name: `[malformed, well formed]` inputs.
    pub precompiles: std::collections::BTreeMap<String, [u64; 2]>,
    /// Far frames that reverted, and that panicked, at far-call depth 3 or more.
    pub deep_reverts: u64,
    pub deep_panics: u64,
    /// Storage writes to slots never written in an earlier batch, and to slots that were.
    pub initial_writes: u64,
    pub repeated_writes: u64,
    /// Storage writes a reverting frame undid.
    pub rolled_back_writes: u64,
    /// What batch runs did.
    pub batches: BatchStats,
}

/// Counts over batch runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BatchStats {
    /// Batch runs, and those that reported 20 or more transaction results.
    pub runs: u64,
    pub with_20_results: u64,
    pub transactions: u64,
    /// Transactions that failed (reverted or panicked), their changes rolled back.
    pub failed: u64,
    /// Batches whose published pubdata holds at least one log, message, bytecode or state
    /// diff.
    pub nonempty_pubdata: u64,
    /// What the published pubdata held, summed over batches: user L2→L1 logs, long
    /// messages, bytecodes, state diffs (and of these, initial writes).
    pub published_logs: u64,
    pub published_messages: u64,
    pub published_bytecodes: u64,
    pub published_diffs: u64,
    pub published_initial_writes: u64,
    /// Batches publishing at least one log, message, bytecode.
    pub with_logs: u64,
    pub with_messages: u64,
    pub with_bytecodes: u64,
    /// Batches fed one transaction at a time with snapshots, and the transactions their
    /// operators rolled back.
    pub fed_one_by_one: u64,
    pub rolled_back_transactions: u64,
    /// Hooks raised, by name.
    pub hooks: std::collections::BTreeMap<String, u64>,
    /// Real batches (production bootloader): those that sealed (the bootloader returned
    /// after its pubdata was accepted), L2 blocks (the closing one aside), transactions by
    /// type, rejections by the bootloader's error code, and cycles in all.
    pub sealed: u64,
    pub l2_blocks: u64,
    pub multi_block_batches: u64,
    pub by_type: std::collections::BTreeMap<String, u64>,
    /// Transactions to the ContractDeployer.
    pub deploys: u64,
    pub rejected: std::collections::BTreeMap<String, u64>,
    pub cycles: u64,
    /// Transactions that did not do what their generator meant ("meant rejection, did
    /// success"): generator defects, not findings.
    pub unexpected: std::collections::BTreeMap<String, u64>,
    /// Transactions by what their generator meant them to do.
    pub meant: std::collections::BTreeMap<String, u64>,
}

/// What each transaction pushed into a real batch did, in push order, where the run shows
/// it: rejected (the bootloader halted on it), or its result if it was kept. A transaction
/// rolled back after it ran has no result left, and one after an early stop none at all.
fn outcomes(batch: &BatchView, case: &crate::case::Batch) -> Vec<Option<crate::case::Outcome>> {
    use crate::case::Outcome;
    let rejected: std::collections::BTreeSet<usize> =
        batch.rejected.iter().map(|(i, _)| *i).collect();
    let mut results = batch.results.iter();
    let offset = case.transactions.len();
    case.blocks
        .iter()
        .flat_map(|b| &b.transactions)
        .enumerate()
        .map(|(i, tx)| {
            if rejected.contains(&(offset + i)) {
                Some(Outcome::Rejection)
            } else if tx.rollback {
                None
            } else {
                let success = results.next()?.0;
                Some(if success {
                    Outcome::Success
                } else {
                    Outcome::Failure
                })
            }
        })
        .collect()
}

/// The production bootloader's error codes (the first byte it returns when it halts), as
/// its source names them.
fn bootloader_error(code: u8) -> std::borrow::Cow<'static, str> {
    let name = match code {
        0 => "eth_call failed",
        1 => "account validation failed",
        2 => "failed to charge the fee",
        3 => "from is not an account",
        4 => "failed to check the account",
        5 => "unacceptable gas price",
        6 => "failed to set a new batch",
        7 => "paying for the transaction failed",
        8 => "pre-paymaster preparation failed",
        9 => "paymaster validation failed",
        10 => "failed to send fees to the operator",
        11 => "unacceptable pubdata price",
        12 => "transaction validation failed",
        13 => "max priority fee above max fee",
        14 => "base fee above max fee",
        15 => "paymaster returned an invalid context",
        16 => "paymaster context too long",
        17 => "assertion error",
        18 => "failed to mark factory deps",
        19 => "validation out of gas",
        20 => "not enough gas provided",
        21 => "account returned an invalid magic",
        22 => "paymaster returned an invalid magic",
        23 => "failed to mint ether",
        24 => "failed to append the tx to the block",
        25 => "failed to set the L2 block",
        26 => "failed to publish timestamp data",
        27 => "L1 messenger publishing failed",
        28 => "L1 messenger log sending failed",
        29 => "failed to call the system context",
        _ => return format!("unknown bootloader error {code}").into(),
    };
    name.into()
}

/// Why the bootloader rejected a transaction, from what it returned: its error code, and for
/// an assertion the message (after the code, as `Error(string)`).
fn rejection_reason(returned: &[u8]) -> String {
    let Some(&code) = returned.first() else {
        return "returned nothing".into();
    };
    let name = bootloader_error(code);
    let message = returned
        .get(37..69)
        .map(|len| U256::from_big_endian(len).low_u64() as usize)
        .and_then(|len| returned.get(69..69usize.saturating_add(len.min(64))))
        .filter(|m| m.iter().all(|b| b.is_ascii_graphic() || *b == b' '));
    match message {
        Some(m) if code == 17 => format!("{name}: {}", String::from_utf8_lossy(m)),
        _ => name.into_owned(),
    }
}

impl BatchStats {
    fn count_real(&mut self, batch: &BatchView, case: &crate::case::Batch) {
        let blocks = case
            .blocks
            .iter()
            .filter(|b| !b.transactions.is_empty())
            .count() as u64;
        self.l2_blocks += blocks;
        self.multi_block_batches += (blocks > 1) as u64;
        for tx in case.blocks.iter().flat_map(|b| &b.transactions) {
            let kind = crate::case::tx_type_name(tx.tx_type);
            *self.by_type.entry(kind.to_string()).or_default() += 1;
            self.deploys +=
                (tx.to.0 == eravm::H160::from_low_u64_be(crate::genesis::CONTRACT_DEPLOYER)) as u64;
        }
        for (_, returned) in &batch.rejected {
            let why = rejection_reason(&hex::decode(returned).unwrap_or_default());
            *self.rejected.entry(why).or_default() += 1;
        }
        let txs = case.blocks.iter().flat_map(|b| &b.transactions);
        for (tx, did) in txs.zip(outcomes(batch, case)) {
            let Some(meant) = tx.expected else { continue };
            *self.meant.entry(meant.name().to_string()).or_default() += 1;
            let Some(did) = did else { continue };
            if meant.outcome() != did {
                let key = format!("meant {}, did {}", meant.name(), did.name());
                *self.unexpected.entry(key).or_default() += 1;
            }
        }
    }

    /// Adds what one batch run did.
    pub fn count(&mut self, batch: &BatchView, case: Option<&crate::case::Batch>) {
        self.runs += 1;
        self.with_20_results += (batch.results.len() >= 20) as u64;
        self.transactions += batch.results.len() as u64;
        self.failed += batch.results.iter().filter(|r| !r.0).count() as u64;
        let summary = batch
            .pubdata
            .as_ref()
            .and_then(|p| hex::decode(p.trim_start_matches("0x")).ok())
            .and_then(|bytes| eravm::operator::pubdata::summarize(&bytes));
        if let Some([logs, messages, bytecodes, initial, diffs]) = summary {
            self.nonempty_pubdata += (logs + messages + bytecodes + diffs > 0) as u64;
            self.published_logs += logs as u64;
            self.published_messages += messages as u64;
            self.published_bytecodes += bytecodes as u64;
            self.published_diffs += diffs as u64;
            self.published_initial_writes += initial as u64;
            self.with_logs += (logs > 0) as u64;
            self.with_messages += (messages > 0) as u64;
            self.with_bytecodes += (bytecodes > 0) as u64;
        }
        if let Some(case) = case.filter(|c| c.fed_one_by_one()) {
            self.fed_one_by_one += 1;
            self.rolled_back_transactions += case.rollbacks() as u64;
        }
        if let Some(case) = case.filter(|c| !c.blocks.is_empty()) {
            self.count_real(batch, case);
        }
        for h in &batch.hooks {
            *self.hooks.entry(h.hook.clone()).or_default() += 1;
        }
    }
}
