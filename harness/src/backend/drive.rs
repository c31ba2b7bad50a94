//! One driver for every VM.
//!
//! A [`Machine`] is a thin adapter: it builds its VM from a case, runs one cycle (answering
//! the hook the cycle raised through its operator), and projects its own state into the
//! harness's views. [`drive`] owns everything observed of a run, the same way for every VM:
//! the history digest, the call tree, the step trace, the registers at each hook, feeding the
//! operator, and how the run ended. With `OBSERVE` off it is the bare run the benchmarks
//! time: the machine's own fast loop, the feeder, and nothing else.

use eravm::operator::{BootloaderState, ExecutionMode, Stop};
use eravm::Instruction;

use super::{BackendError, FedOperator, Feeder};
use crate::case::Case;
use crate::coverage::CornerCounts;
use crate::frames::{CallersView, FrameWatch, ModesView, CALLERS_WATCHED};
use crate::observe::{
    BatchView, CallTracker, FinalState, FlagsView, FrameIds, FrameView, History, Run, RunEnd,
    RunStats, SavedFrameView, StepState, Tagged, WorldView, ALL_REGISTERS,
};

/// What one cycle did, as far as the driver cares.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cycle {
    /// The bootloader raised a hook and the operator answered it.
    pub hook: bool,
    /// The operator's mode says to stop here.
    pub stop: Option<Stop>,
}

/// Why a machine could not go on.
#[derive(Debug)]
pub(crate) enum StepError {
    /// The host could not answer (the world lacks a bytecode a call needs): the run ends
    /// here, comparably on every VM.
    Host,
    /// The case needs something this machine cannot do.
    Unsupported(String),
}

impl From<BackendError> for StepError {
    fn from(e: BackendError) -> StepError {
        StepError::Unsupported(e.to_string())
    }
}

/// The memory pages, world and operator state at the end of a run.
pub(crate) struct EndState<'a> {
    pub ergs: u32,
    pub pc: u16,
    pub context_u128_register: u128,
    pub tx_number: u16,
    pub pending_panic: bool,
    pub heap: Vec<(u32, Tagged)>,
    pub aux_heap: Vec<(u32, Tagged)>,
    pub stack: Vec<(u32, Tagged)>,
    pub static_memory: Vec<(u32, Tagged)>,
    pub call_stack: Vec<SavedFrameView>,
    pub start_pages: Vec<(u32, u32, Tagged)>,
    pub world: WorldView,
    pub bootloader: Option<&'a BootloaderState>,
}

/// A VM as the driver sees it. Every method projects; none decides what is observed.
pub(crate) trait Machine: FedOperator {
    /// The current frame, copied raw (converted to a view only when needed).
    type Frame: Copy;

    /// Cycles run so far (an operator's rollback may set it back).
    fn cycles(&self) -> u64;
    /// How the run has ended, once it has: ok, revert or panic.
    fn exit(&self) -> Option<RunEnd>;
    /// One cycle, and the operator's answer to a hook it raised (`mode` is `None` for
    /// cases without a batch, which have no operator).
    fn step(&mut self, mode: Option<ExecutionMode>) -> Result<Cycle, StepError>;
    /// Runs, unobserved, until the run ends, `max_cycles` have run in all, or the operator
    /// says to stop.
    fn run_bare(
        &mut self,
        mode: Option<ExecutionMode>,
        max_cycles: u64,
    ) -> Result<Option<Stop>, StepError>;

    /// Keeps the memory writes of each cycle, for step traces.
    fn record_writes(&mut self);
    fn frame(&self) -> Self::Frame;
    fn depth(&self) -> usize;
    fn ids(frame: &Self::Frame) -> FrameIds;
    fn view(frame: &Self::Frame, depth: usize) -> FrameView;
    /// The last cycle's instruction, decoded, if it was a far call or a return.
    fn call_or_ret(&self) -> Option<Instruction>;
    /// The last cycle's instruction, encoded (for step traces).
    fn executed_raw(&self) -> u64;
    /// The entry of the variant table the last cycle ran, if the machine knows it.
    fn variant_index(&self) -> Option<u16>;
    /// Whether the last cycle's instruction journals (see [`RunEnd::MemoryBudget`]).
    fn journaled(&self) -> bool {
        match self.variant_index() {
            Some(index) => crate::observe::variant_journals(index),
            None => crate::observe::journals(self.executed_raw()),
        }
    }
    /// Whether the last cycle's return was a panic (for the call tree).
    fn panicked(&self) -> bool {
        self.flags().lt
    }
    /// The registers the last cycle can have written, as a [`History::cycle`] mask.
    fn written_registers(&mut self) -> u16;
    fn flags(&self) -> FlagsView;
    fn limbs(&self, register: usize) -> [u64; 4];
    fn is_pointer(&self, register: usize) -> bool;
    fn registers(&self) -> [Tagged; 15];
    fn pending_panic(&self) -> bool;
    /// The memory writes of the last cycle: page, word index, value.
    fn take_writes(&mut self) -> Vec<(u32, u32, Tagged)>;
    fn pubdata(&self) -> i32;
    /// Events and L2→L1 messages alive.
    fn logs(&self) -> usize;
    fn bootloader(&self) -> Option<&BootloaderState>;

    /// The bytes returned at the end (at most [`crate::observe::RETURN_DATA_LIMIT`]).
    fn returned_bytes(&self) -> Vec<u8>;
    fn end_state(&mut self) -> EndState<'_>;
    /// What the run exercised, for campaign summaries.
    fn stats(&self) -> RunStats {
        RunStats::default()
    }
    /// Starts classifying cycles into behaviour corners (see [`crate::coverage`]), if the
    /// machine can.
    fn probe_corners(&mut self) {}
    /// The corners classified so far.
    fn take_corners(&mut self) -> CornerCounts {
        CornerCounts::default()
    }
    /// The latest panic and its reason, if the machine says why frames panic.
    fn last_panic(&self) -> Option<eravm::Panic> {
        None
    }

    /// The `top` entries just below the current frame (the formal one below the first
    /// frame left out), and how many there are in all (`None`: the machine cannot show them).
    fn callers(&mut self, top: usize) -> Option<CallersView>;
    /// The current frame's kernel-mode and static bits.
    fn modes(&self) -> Option<ModesView>;
    /// The context register (what the next far call hands its callee).
    fn context_register(&self) -> Option<u128>;
    /// The hashes proper of the bytecodes decommitted so far, in any order.
    fn decommitted(&self) -> Option<Vec<[u8; 28]>>;
}

/// What the driver saw of a run besides the machine's own state.
struct Observer<M: Machine> {
    history: History,
    /// The frames below, modes, context register and decommitted set (see `crate::frames`).
    watch: FrameWatch,
    calls: CallTracker,
    steps: Option<Vec<StepState>>,
    /// The most steps kept.
    max_steps: usize,
    counts: Vec<u32>,
    hook_registers: Vec<[Tagged; 15]>,
    /// Transactions the bootloader rejected: their index and what it returned.
    rejected: Vec<(usize, Vec<u8>)>,
    /// The frame before the current cycle, and its depth.
    before: M::Frame,
    depth_before: usize,
    /// The frame when the operator answered the latest hook.
    stopped_in: Option<FrameView>,
    /// The operator may have changed any register (a rollback restores them all).
    operator_acted: bool,
    /// Journaling instructions run, and the most allowed (see [`RunEnd::MemoryBudget`]).
    journaled: u64,
    max_journal: u64,
    panics: crate::observe::PanicLog,
}

impl<M: Machine> Observer<M> {
    /// After an operator's rollback: the hooks the rolled-back transaction raised are gone,
    /// and any register may have changed.
    fn rolled_back(&mut self, m: &mut M) {
        let hooks = m.bootloader().map_or(0, |b| b.hooks.len());
        self.hook_registers.truncate(hooks);
        self.operator_acted = true;
        self.see_everything(m);
    }

    /// A rollback or the start can have changed every watched part.
    fn see_everything(&mut self, m: &mut M) {
        self.watch.see_frames(m.callers(CALLERS_WATCHED), m.modes());
        self.watch.see_context(m.context_register());
        self.watch.see_decommitted(m.decommitted());
    }

    /// The watched parts the last cycle can have changed: the frames at a call or return
    /// (the depth changed), the decommitted set at a far call or `log.decommit`.
    fn see_changes(&mut self, m: &mut M) {
        self.watch.see_context(m.context_register());
        let call_or_ret = m.call_or_ret();
        if call_or_ret.is_some() || m.depth() != self.depth_before {
            self.watch.see_frames(m.callers(CALLERS_WATCHED), m.modes());
        }
        if m.journaled() && decommits(m, call_or_ret) {
            self.watch.see_decommitted(m.decommitted());
        }
    }

    fn new(m: &mut M, trace: bool) -> Self {
        let mut observer = Observer {
            history: History::new(m.registers().map(without_page)),
            watch: FrameWatch::default(),
            calls: CallTracker::default(),
            steps: trace.then(Vec::new),
            max_steps: crate::observe::max_trace_steps(),
            counts: Vec::new(),
            hook_registers: Vec::new(),
            rejected: Vec::new(),
            before: m.frame(),
            depth_before: m.depth(),
            stopped_in: None,
            operator_acted: true,
            journaled: 0,
            max_journal: crate::observe::max_journal(),
            panics: Default::default(),
        };
        observer.see_everything(m);
        observer
    }

    fn before_cycle(&mut self, m: &M) {
        self.before = m.frame();
        self.depth_before = m.depth();
    }

    fn after_cycle(&mut self, m: &mut M, cycle: Cycle) {
        self.journaled += m.journaled() as u64;
        self.count_and_track(m);
        // The history covers the cycles that leave the VM running; the state after the
        // first frame returns is compared at the end.
        if m.exit().is_none() {
            self.fold_history(m);
            self.see_changes(m);
        }
        if let Some(steps) = self.steps.as_mut().filter(|s| s.len() < self.max_steps) {
            steps.push(StepState {
                cycle: m.cycles(),
                pc_before: M::view(&self.before, 0).pc,
                code_address: M::ids(&self.before).1,
                executed: m.executed_raw(),
                frame: M::view(&m.frame(), m.depth()),
                flags: m.flags(),
                registers: m.registers(),
                pending_panic: m.pending_panic(),
                writes: m.take_writes(),
                pubdata: m.pubdata(),
                logs: m.logs(),
                watched: self.watch.latest(),
            });
        }
        if cycle.hook {
            self.hook_registers.push(m.registers());
            self.stopped_in = Some(M::view(&m.frame(), m.depth()));
            self.operator_acted = true;
        }
    }

    fn count_and_track(&mut self, m: &M) {
        if let Some(index) = m.variant_index() {
            if self.counts.is_empty() {
                self.counts = vec![0; eravm::decoder::VARIANT_TABLE_LEN];
            }
            self.counts[index as usize] += 1;
        }
        if let Some(executed) = m.call_or_ret() {
            let panicked = m.panicked();
            self.calls.cycle(
                &executed,
                M::ids(&self.before),
                M::ids(&m.frame()),
                m.depth(),
                panicked,
            );
            // A return that panicked this cycle: the machine may say why.
            if let Some(panic) = m.last_panic().filter(|p| panicked && p.cycle == m.cycles()) {
                self.panics.push(panic);
            }
        }
    }

    fn fold_history(&mut self, m: &mut M) {
        let written = m.written_registers();
        let candidates = if std::mem::take(&mut self.operator_acted) {
            ALL_REGISTERS
        } else {
            written
        };
        let f = m.flags();
        // Page numbers inside pointers are left out: not every VM numbers pages alike (the
        // final state compares them where both sides do).
        let limbs = |i: usize| {
            let mut limbs = m.limbs(i);
            if m.is_pointer(i) {
                limbs[0] &= POINTER_WITHOUT_PAGE;
            }
            limbs
        };
        // Nor is the pc: not every VM has one while a panic is pending (vm2 jumps off the
        // program); the steps and the final state compare it.
        self.history.cycle(
            0,
            [f.lt, f.eq, f.gt],
            limbs,
            |i| m.is_pointer(i),
            candidates,
        );
    }
}

/// Whether the last cycle was a far call or a `log.decommit` (it journaled: `call_or_ret`
/// is what it ran if it was a call or return).
fn decommits<M: Machine>(m: &M, call_or_ret: Option<Instruction>) -> bool {
    use eravm::opcode::Family;
    if let Some(executed) = call_or_ret {
        return executed.opcode.family() == Family::FarCall;
    }
    let opcode = match m.variant_index() {
        Some(index) => eravm::decoder::VARIANT_TABLE[usize::from(index)].opcode,
        None => Instruction::decode(m.executed_raw()).opcode,
    };
    opcode == eravm::Opcode::Decommit
}

/// The low limb of a fat pointer without its page (bits 32..64).
const POINTER_WITHOUT_PAGE: u64 = 0xffff_ffff;

/// A register as the history folds it: a pointer without its page.
fn without_page(mut t: Tagged) -> Tagged {
    if t.pointer {
        t.value.0[0] &= POINTER_WITHOUT_PAGE;
    }
    t
}

/// How the loop ended, before it is classified.
enum Stopped {
    Exit,
    CycleLimit,
    MemoryBudget,
    Host,
    Operator,
}

/// Runs a case on a machine with everything observed (and, with `trace`, a step trace).
pub(crate) fn drive<M: Machine>(mut m: M, case: &Case, trace: bool) -> Result<Run, BackendError> {
    if trace {
        m.record_writes();
    }
    m.probe_corners();
    let mut feeder = start_feeding(&mut m, case)?;
    let mut seen = Observer::new(&mut m, trace);
    let stopped = loop {
        if m.exit().is_some() {
            let Some(feeder) = feeder.as_mut() else {
                break Stopped::Exit;
            };
            let (index, returned) = (feeder.current(), m.returned_bytes());
            if !feeder.on_stop(Stop::Finished, &mut m)? {
                break Stopped::Exit;
            }
            seen.rolled_back(&mut m);
            seen.rejected.extend(index.map(|i| (i, returned)));
            continue;
        }
        if m.cycles() >= case.max_cycles {
            break Stopped::CycleLimit;
        }
        seen.before_cycle(&m);
        let cycle = match m.step(feeder.as_ref().map(Feeder::mode)) {
            Ok(cycle) => cycle,
            Err(StepError::Host) => break Stopped::Host,
            Err(StepError::Unsupported(why)) => return Err(BackendError::Unsupported(why)),
        };
        seen.after_cycle(&mut m, cycle);
        if seen.journaled > seen.max_journal {
            break Stopped::MemoryBudget;
        }
        if let (Some(stop), Some(feeder)) = (cycle.stop, feeder.as_mut()) {
            if !feeder.on_stop(stop, &mut m)? {
                break Stopped::Operator;
            }
            seen.rolled_back(&mut m);
        }
    };
    Ok(finish(m, case, seen, stopped))
}

fn start_feeding<M: Machine>(m: &mut M, case: &Case) -> Result<Option<Feeder>, BackendError> {
    case.batch
        .as_ref()
        .map(|batch| Feeder::start(batch, m))
        .transpose()
}

fn finish<M: Machine>(mut m: M, case: &Case, seen: Observer<M>, stopped: Stopped) -> Run {
    let (end, return_data) = match (stopped, m.exit()) {
        (Stopped::Exit, Some(end)) => (end, m.returned_bytes()),
        (Stopped::Host, _) => (RunEnd::HostError, Vec::new()),
        (Stopped::Operator, _) => (RunEnd::OperatorStop, Vec::new()),
        (Stopped::MemoryBudget, _) => (RunEnd::MemoryBudget, Vec::new()),
        _ => (RunEnd::CycleLimit, Vec::new()),
    };
    // The current frame after the last cycle that left the VM running.
    let last_frame = match seen.stopped_in {
        Some(frame) if end == RunEnd::OperatorStop => frame,
        _ if end == RunEnd::HostError || m.exit().is_some() => {
            M::view(&seen.before, seen.depth_before)
        }
        _ => M::view(&m.frame(), m.depth()),
    };
    let registers = m.registers();
    let flags = m.flags();
    let cycles = m.cycles();
    let stats = m.stats();
    let corners = m.take_corners();
    let e = m.end_state();
    let state = FinalState {
        end,
        cycles,
        return_data,
        registers,
        flags,
        ergs: e.ergs,
        pc: e.pc,
        last_frame,
        context_u128_register: e.context_u128_register,
        tx_number: e.tx_number,
        pending_panic: e.pending_panic,
        heap: e.heap,
        aux_heap: e.aux_heap,
        stack: e.stack,
        static_memory: e.static_memory,
        call_stack: e.call_stack,
        start_pages: e.start_pages,
        world: WorldView {
            calls: seen.calls.events,
            ..e.world
        },
        batch: case
            .batch
            .as_ref()
            .and(e.bootloader)
            .map(|b| BatchView::new(b, &seen.hook_registers, &seen.rejected)),
        history: seen.history.digest(),
        frame_history: seen.watch.digests(),
    };
    Run {
        state,
        panics: seen.panics,
        trace: seen.steps,
        variant_counts: seen.counts,
        corners,
        stats,
    }
}

/// Runs a case on a machine with nothing observed, for timing; returns the cycles run.
pub(crate) fn drive_bare<M: Machine>(mut m: M, case: &Case) -> u64 {
    let Ok(mut feeder) = start_feeding(&mut m, case) else {
        return 0;
    };
    loop {
        let mode = feeder.as_ref().map(Feeder::mode);
        let stop = match m.run_bare(mode, case.max_cycles) {
            Ok(Some(stop)) => stop,
            Ok(None) if m.exit().is_some() => Stop::Finished,
            _ => break,
        };
        let Some(feeder) = feeder.as_mut() else {
            break;
        };
        if !matches!(feeder.on_stop(stop, &mut m), Ok(true)) {
            break;
        }
    }
    m.cycles()
}
