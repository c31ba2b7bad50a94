//! Our own VM, `eravm`.

use eravm::operator::{ExecutionMode, OperatorError, OperatorVm, Stop};
use eravm::{ExitKind, FatPointer, PageId, Vm, BOOTLOADER_BASE_PAGE, STATIC_MEMORY_PAGE};

use super::drive::{drive, drive_bare, Cycle, EndState, Machine, StepError};
use super::{Backend, BackendError, FedOperator};
use crate::case::Case;
use crate::coverage::{CornerCounts, CornerProbe};
use crate::frames::{CallerView, CallersView, ModesView};
use crate::observe::{
    CallTracker, FlagsView, FrameIds, FrameView, LogView, Run, RunEnd, RunStats, SavedFrameView,
    SlotView, Tagged, WorldView, RETURN_DATA_LIMIT,
};
use crate::world::ResolvedWorld;

/// The `eravm` crate of this workspace.
pub struct EraVm;

impl Backend for EraVm {
    fn name(&self) -> &'static str {
        "eravm"
    }

    fn run(&self, case: &Case, trace: bool) -> Result<Run, BackendError> {
        drive(EraMachine::new(case)?, case, trace)
    }
}

/// Runs a case on eravm with nothing observed (batches through `OperatorVm`), for timing;
/// returns the cycles run.
pub fn run_bare(case: &Case) -> u64 {
    EraMachine::new(case).map_or(0, |m| drive_bare(m, case))
}

/// eravm with its operator, as the driver steps it.
pub(crate) struct EraMachine {
    op: OperatorVm,
    world: ResolvedWorld,
    /// For cases with a start state: how many far frames it put below the first.
    start_far_frames: Option<usize>,
    /// Classifies cycles into behaviour corners, when the driver asks.
    corners: Option<Box<CornerProbe>>,
}

impl EraMachine {
    pub(crate) fn new(case: &Case) -> Result<EraMachine, BackendError> {
        let world = case.resolved_world();
        let storage = Box::new(world.eravm_storage());
        let vm = match &case.start {
            None => Vm::with_storage(case.bootloader(), storage, world.chain_settings()),
            Some(start) => Vm::with_start(
                case.bootloader(),
                storage,
                world.chain_settings(),
                &start.to_vm(),
            )
            .map_err(|e| BackendError::Unsupported(e.to_string()))?,
        };
        let mut op = OperatorVm::from_vm(vm);
        if let Some(batch) = &case.batch {
            op.write_batch_env(&batch.info.to_operator(), batch.closing_block());
        }
        Ok(EraMachine {
            op,
            world,
            start_far_frames: case.start.as_ref().map(|s| s.far_frames().count()),
            corners: None,
        })
    }
}

/// The entries below the current frame, bottom first, without the formal one.
fn saved_frames(vm: &Vm) -> Vec<SavedFrameView> {
    below_first(vm).iter().map(saved_view).collect()
}

/// The entries below the current frame without the formal one.
fn below_first(vm: &Vm) -> &[eravm::Saved] {
    vm.call_stack().saved().get(1..).unwrap_or_default()
}

fn saved_view(s: &eravm::Saved) -> SavedFrameView {
    match *s {
        eravm::Saved::Far(f) => SavedFrameView {
            pc: f.pc,
            sp: f.sp,
            ergs: f.ergs,
            exception_handler: f.exception_handler,
            is_local: f.is_local,
            total_pubdata_spent: f.total_pubdata_spent,
        },
        eravm::Saved::Near(n) => SavedFrameView {
            pc: n.pc,
            sp: n.sp,
            ergs: n.ergs,
            exception_handler: n.exception_handler,
            is_local: n.is_local,
            total_pubdata_spent: n.total_pubdata_spent,
        },
    }
}

fn step_error(e: OperatorError) -> StepError {
    match e {
        OperatorError::Vm(eravm::VmError::MissingBytecode(_)) => StepError::Host,
        e => StepError::Unsupported(e.to_string()),
    }
}

impl Machine for EraMachine {
    type Frame = eravm::Frame;

    fn cycles(&self) -> u64 {
        self.op.vm.cycles()
    }

    fn exit(&self) -> Option<RunEnd> {
        self.op.vm.exit().map(|(exit, _)| match exit {
            ExitKind::Ok => RunEnd::Ok,
            ExitKind::Revert => RunEnd::Revert,
            ExitKind::Panic => RunEnd::Panic,
        })
    }

    fn step(&mut self, mode: Option<ExecutionMode>) -> Result<Cycle, StepError> {
        if let Some(probe) = self.corners.as_mut() {
            probe.before(&mut self.op.vm);
        }
        let hooks = self.op.bootloader_state.hooks.len();
        let stop = match mode {
            Some(mode) => self.op.step(mode).map_err(step_error)?,
            None => {
                let status = self.op.vm.step().map_err(|e| step_error(e.into()))?;
                // A stack that ended without a far return to the bottom cannot go on (only a
                // start state could build one; validation refuses it): never spin.
                if status == eravm::Status::Ended && self.op.vm.exit().is_none() {
                    return Err(StepError::Unsupported(
                        "the call stack ended without an exit".into(),
                    ));
                }
                None
            }
        };
        if let Some(probe) = self.corners.as_mut() {
            probe.after(&self.op.vm);
        }
        Ok(Cycle {
            hook: self.op.bootloader_state.hooks.len() > hooks,
            stop,
        })
    }

    fn probe_corners(&mut self) {
        self.corners = Some(Box::default());
    }

    fn take_corners(&mut self) -> CornerCounts {
        self.corners
            .as_mut()
            .map(|probe| std::mem::take(&mut probe.counts))
            .unwrap_or_default()
    }

    fn run_bare(
        &mut self,
        mode: Option<ExecutionMode>,
        max_cycles: u64,
    ) -> Result<Option<Stop>, StepError> {
        match mode {
            None => {
                // Without an operator, a hook the program raises is not answered.
                while let eravm::Outcome::Suspended = self
                    .op
                    .vm
                    .run(Some(max_cycles))
                    .map_err(|e| step_error(e.into()))?
                {
                    self.op.vm.take_hook();
                }
                Ok(None)
            }
            Some(mode) => match self.op.run(mode, max_cycles).map_err(step_error)? {
                Stop::Finished => Ok(None),
                stop => Ok(Some(stop)),
            },
        }
    }

    fn record_writes(&mut self) {
        // Before any snapshot: a rollback brings back the memory as it was, setting included.
        self.op.vm.record_memory_writes(true);
    }

    fn frame(&self) -> eravm::Frame {
        *self.op.vm.current_frame()
    }

    fn depth(&self) -> usize {
        self.op.vm.call_depth()
    }

    fn ids(f: &eravm::Frame) -> FrameIds {
        (f.this_address, f.code_address, f.ergs, f.is_local)
    }

    fn view(f: &eravm::Frame, depth: usize) -> FrameView {
        FrameView {
            pc: f.pc,
            sp: f.sp,
            ergs: f.ergs,
            exception_handler: f.exception_handler,
            heap_bound: f.heap_bound,
            aux_heap_bound: f.aux_heap_bound,
            is_local: f.is_local,
            context_u128: f.context_u128,
            depth,
        }
    }

    fn call_or_ret(&self) -> Option<eravm::Instruction> {
        let executed = self.op.vm.last_instruction();
        CallTracker::wants(executed).then_some(*executed)
    }

    fn executed_raw(&self) -> u64 {
        self.op.vm.last_instruction().encode().unwrap_or(0)
    }

    fn variant_index(&self) -> Option<u16> {
        Some(self.op.vm.last_variant_index())
    }

    fn written_registers(&mut self) -> u16 {
        // eravm says which registers the cycle wrote; only they can have changed.
        self.op.vm.take_written_registers() >> 1
    }

    fn flags(&self) -> FlagsView {
        let f = self.op.vm.flags();
        FlagsView {
            lt: f.lt_of,
            eq: f.eq,
            gt: f.gt,
        }
    }

    fn limbs(&self, register: usize) -> [u64; 4] {
        self.op.vm.registers().value(register as u8 + 1).0
    }

    fn is_pointer(&self, register: usize) -> bool {
        self.op.vm.registers().pointer_mask() >> (register + 1) & 1 != 0
    }

    fn registers(&self) -> [Tagged; 15] {
        self.op.vm.registers().all().map(tagged)
    }

    fn pending_panic(&self) -> bool {
        self.op.vm.pending_panic()
    }

    fn take_writes(&mut self) -> Vec<(u32, u32, Tagged)> {
        self.op
            .vm
            .take_memory_writes()
            .into_iter()
            .map(|(page, index, w)| (page.0, index, tagged(w)))
            .collect()
    }

    fn pubdata(&self) -> i32 {
        self.op.vm.pubdata()
    }

    fn logs(&self) -> usize {
        self.op.vm.world().events.len() + self.op.vm.world().l2_to_l1_logs.len()
    }

    fn bootloader(&self) -> Option<&eravm::operator::BootloaderState> {
        Some(&self.op.bootloader_state)
    }

    fn returned_bytes(&self) -> Vec<u8> {
        // The caller sees the returned slice through r1, which the returning instruction
        // may itself clear (as dst1); read it the same way as the reference backend.
        let pointer = FatPointer::from_u256(&self.op.vm.registers().get(1).value);
        returned_bytes(&self.op.vm, pointer)
    }

    fn end_state(&mut self) -> EndState<'_> {
        let vm = &self.op.vm;
        let page = |id: PageId| -> Vec<(u32, Tagged)> {
            vm.memory()
                .page(id)
                .map(|p| {
                    p.nonzero_words()
                        .into_iter()
                        .map(|(i, w)| (i, tagged(w)))
                        .collect()
                })
                .unwrap_or_default()
        };
        EndState {
            ergs: vm.current_frame().ergs,
            pc: vm.current_frame().pc,
            context_u128_register: vm.context_u128_register(),
            tx_number: vm.tx_number(),
            pending_panic: vm.pending_panic(),
            heap: page(BOOTLOADER_BASE_PAGE.heap()),
            aux_heap: page(BOOTLOADER_BASE_PAGE.aux_heap()),
            stack: page(BOOTLOADER_BASE_PAGE.stack()),
            static_memory: page(STATIC_MEMORY_PAGE),
            call_stack: if self.start_far_frames.is_some() {
                saved_frames(vm)
            } else {
                Vec::new()
            },
            start_pages: (0..self.start_far_frames.unwrap_or(0))
                .flat_map(|i| {
                    let base = eravm::start::far_frame_base_page(i);
                    [base.stack(), base.heap(), base.aux_heap()]
                })
                .flat_map(|id| page(id).into_iter().map(move |(i, w)| (id.0, i, w)))
                .collect(),
            world: world_view(vm, &self.world),
            bootloader: Some(&self.op.bootloader_state),
        }
    }

    fn last_panic(&self) -> Option<eravm::Panic> {
        self.op.vm.last_panic()
    }

    fn callers(&mut self, top: usize) -> Option<CallersView> {
        let below = below_first(&self.op.vm);
        let top = &below[below.len().saturating_sub(top)..];
        Some(CallersView {
            depth: below.len(),
            top: top
                .iter()
                .map(|s| CallerView::from(saved_view(s)))
                .collect(),
        })
    }

    fn modes(&self) -> Option<ModesView> {
        let f = self.op.vm.current_frame();
        Some(ModesView {
            kernel: f.is_kernel(),
            is_static: f.is_static,
        })
    }

    fn context_register(&self) -> Option<u128> {
        Some(self.op.vm.context_u128_register())
    }

    fn decommitted(&self) -> Option<Vec<[u8; 28]>> {
        Some(
            self.op
                .vm
                .world()
                .decommitted_hashes
                .keys()
                .copied()
                .collect(),
        )
    }

    fn stats(&self) -> RunStats {
        let vm = &self.op.vm;
        let exits = vm.far_exits();
        let writes = &vm.world().storage_writes;
        let repeated = writes
            .iter()
            .filter(|k| self.world.enumerated.contains_key(k))
            .count() as u64;
        let precompiles = vm
            .precompile_calls()
            .iter()
            .map(|(&address, &counts)| (precompile_name(address).to_string(), counts))
            .collect();
        RunStats {
            precompiles,
            deep_reverts: exits[1][2],
            deep_panics: exits[2][2],
            initial_writes: writes.len() as u64 - repeated,
            repeated_writes: repeated,
            rolled_back_writes: vm.world().storage_writes_rolled_back,
            batches: Default::default(),
        }
    }
}

fn tagged(w: eravm::TaggedWord) -> Tagged {
    Tagged {
        value: w.value,
        pointer: w.is_pointer,
    }
}

impl FedOperator for EraMachine {
    fn make_snapshot(&mut self) {
        self.op.make_snapshot();
    }
    fn rollback_to_the_latest_snapshot(&mut self) {
        self.op.rollback_to_the_latest_snapshot();
    }
    fn pop_snapshot_no_rollback(&mut self) {
        self.op.pop_snapshot_no_rollback();
    }
    fn push_transaction(
        &mut self,
        tx: &::eravm::operator::Transaction,
    ) -> Result<(), BackendError> {
        self.op
            .push_transaction(tx)
            .map_err(|e| BackendError::Unsupported(e.to_string()))
    }
}

fn world_view(vm: &Vm, world: &ResolvedWorld) -> WorldView {
    let w = vm.world();
    let slot = |k: &eravm::StorageKey, v: &eravm::U256| SlotView {
        address: k.address,
        key: k.key,
        value: *v,
    };
    let mut storage: Vec<SlotView> = w
        .storage_changes
        .iter()
        .filter(|(k, v)| world.initial_value(k) != **v)
        .map(|(k, v)| slot(k, v))
        .collect();
    storage.sort();
    let mut transient: Vec<SlotView> = w
        .transient_storage
        .iter()
        .filter(|(_, v)| !v.is_zero())
        .map(|(k, v)| slot(k, v))
        .collect();
    transient.sort();
    let log = LogView::from;
    let mut decommitted: Vec<(String, u32)> = w
        .decommitted_hashes
        .iter()
        .map(|(h, page)| (hex::encode(h), *page))
        .collect();
    decommitted.sort();
    WorldView {
        storage,
        transient,
        events: w.events.iter().map(log).collect(),
        l2_to_l1_logs: w.l2_to_l1_logs.iter().map(log).collect(),
        pubdata: vm.pubdata(),
        pubdata_costs: w.pubdata_costs.clone(),
        refunds: w.refunds.clone(),
        decommitted,
        calls: Vec::new(),
    }
}

fn returned_bytes(vm: &Vm, pointer: FatPointer) -> Vec<u8> {
    vm.memory().read_bytes(
        PageId(pointer.page),
        pointer.start.wrapping_add(pointer.offset),
        pointer.length.saturating_sub(pointer.offset),
        RETURN_DATA_LIMIT,
    )
}

fn precompile_name(address: u16) -> &'static str {
    use eravm::precompiles::*;
    match address {
        KECCAK256 => "keccak256",
        SHA256 => "sha256",
        ECRECOVER => "ecrecover",
        SECP256R1_VERIFY => "secp256r1",
        MODEXP => "modexp",
        ECADD => "ecadd",
        ECMUL => "ecmul",
        ECPAIRING => "ecpairing",
        _ => "other",
    }
}
