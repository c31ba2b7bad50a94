//! The reference: matter-labs' `zk_evm` (vm1), hosted the way a node hosts its bootloader.

use eravm::operator::{ExecutionMode, Stop};
use eravm::U256;
use zk_evm::aux_structures::{MemoryPage, PubdataCost};
use zk_evm::block_properties::BlockProperties;
use zk_evm::tracing::{
    AfterDecodingData, AfterExecutionData, BeforeExecutionData, Tracer, VmLocalStateData,
};
use zk_evm::vm_state::{CallStackEntry, PrimitiveValue, Version, VmState};
use zk_evm::witness_trace::DummyTracer;
use zk_evm::zkevm_opcode_defs::ethereum_types::{Address as RefAddress, U256 as RefU256};
use zk_evm::zkevm_opcode_defs::{
    FatPointer as RefFatPointer, Opcode, RetOpcode, UMAOpcode, BOOTLOADER_BASE_PAGE,
    BOOTLOADER_CALLDATA_PAGE, BOOTLOADER_CODE_PAGE, NEW_MEMORY_PAGES_PER_FAR_CALL,
    STARTING_BASE_PAGE, STARTING_TIMESTAMP, STATIC_MEMORY_PAGE,
};
use zk_evm_abstractions::precompiles::DefaultPrecompilesProcessor;

use super::drive::{drive, drive_bare, Cycle, EndState, Machine, StepError};
use super::reference_host::{JournaledEvents, OracleStorage, WorldDecommitter};
use super::reference_memory::ReferenceMemory;
use super::reference_operator::{raised_hook, RaisedHook, ReferenceOperator};
use super::{Backend, BackendError, FedOperator};
use crate::case::Case;
use crate::frames::{CallerView, CallersView, ModesView};
use crate::observe::{
    FlagsView, FrameIds, FrameView, LogView, Run, RunEnd, SavedFrameView, SlotView, Tagged,
    WorldView, ALL_REGISTERS, RETURN_DATA_LIMIT,
};
use crate::world::ResolvedWorld;

/// `zk_evm`, the reference implementation.
pub struct ZkEvm;

pub(crate) type RefVm = VmState<
    OracleStorage,
    ReferenceMemory,
    JournaledEvents,
    DefaultPrecompilesProcessor<false>,
    WorldDecommitter,
    DummyTracer,
>;

/// Records what the last cycle executed (after masking), which only the tracer sees.
#[derive(Debug, Default)]
struct LastOpcode {
    executed: Option<zk_evm::opcodes::DecodedOpcode>,
    ret: Option<RetOpcode>,
    /// The registers the cycle can have written, as a [`History::cycle`] mask.
    written: u16,
    /// Count every register as possibly written (to check [`written_by`]).
    every_register: bool,
    /// Whether to look for hooks (batch cases only).
    watch_hooks: bool,
    /// A hook the cycle raised, for the operator to answer after it.
    hook: Option<RaisedHook>,
}

/// The registers an instruction can write, by zk_evm's own decoding, as a
/// [`History::cycle`] mask (bit i: r(i+1)): its two destination registers, or all of them for
/// calls and returns, which set or clear registers wholesale. zk_evm writes no other register
/// (a test checks this against folding every register on every cycle).
fn written_by(op: &zk_evm::opcodes::DecodedOpcode) -> u16 {
    match op.variant.opcode {
        Opcode::FarCall(_) | Opcode::NearCall(_) | Opcode::Ret(_) => ALL_REGISTERS,
        _ => {
            let bit = |r: u8| (1u16 << (r & 15)) >> 1;
            bit(op.dst0_reg_idx) | bit(op.dst1_reg_idx)
        }
    }
}

impl LastOpcode {
    /// The executed instruction as an encoded word (encoding looks the variant up in a map,
    /// so only do it when needed).
    fn raw(&self) -> u64 {
        self.executed
            .map(|op| op.inner.serialize_as_integer())
            .unwrap_or(0)
    }

    /// Whether the call tracker wants this instruction: a far call or a return.
    fn is_call_or_ret(&self) -> bool {
        matches!(
            self.executed.map(|op| op.variant.opcode),
            Some(Opcode::FarCall(_)) | Some(Opcode::Ret(_))
        )
    }
}

impl Tracer for LastOpcode {
    const CALL_AFTER_DECODING: bool = true;
    const CALL_BEFORE_EXECUTION: bool = true;
    type SupportedMemory = ReferenceMemory;

    fn before_decoding(&mut self, _: VmLocalStateData<'_>, _: &ReferenceMemory) {}
    fn after_decoding(
        &mut self,
        _: VmLocalStateData<'_>,
        data: AfterDecodingData,
        _: &ReferenceMemory,
    ) {
        self.executed = Some(data.opcode_masked);
        self.ret = match data.opcode_masked.variant.opcode {
            Opcode::Ret(kind) => Some(kind),
            _ => None,
        };
        self.written = if self.every_register {
            ALL_REGISTERS
        } else {
            written_by(&data.opcode_masked)
        };
    }
    fn before_execution(
        &mut self,
        state: VmLocalStateData<'_>,
        data: BeforeExecutionData,
        memory: &ReferenceMemory,
    ) {
        if self.watch_hooks {
            self.hook = hook_about_to_be_raised(&state, &data, memory);
        }
    }
    fn after_execution(
        &mut self,
        _: VmLocalStateData<'_>,
        _: AfterExecutionData,
        _: &ReferenceMemory,
    ) {
    }
}

/// The hook a cycle raises, seen before it executes (both tracers watch for it).
fn hook_about_to_be_raised(
    state: &VmLocalStateData<'_>,
    data: &BeforeExecutionData,
    memory: &ReferenceMemory,
) -> Option<RaisedHook> {
    raised_hook(
        data.opcode.variant.opcode == Opcode::UMA(UMAOpcode::HeapWrite),
        state.vm_local_state.callstack.current.base_memory_page.0,
        &data.src0_value.value,
        &data.src1_value.value,
        memory,
    )
}

/// An event piece or L2→L1 log as zk_evm recorded it, in eravm's terms.
pub(crate) fn log_entry(q: &zk_evm::aux_structures::LogQuery) -> eravm::LogEntry {
    eravm::LogEntry {
        address: eravm::H160::from_slice(q.address.as_bytes()),
        key: from_ref(q.key),
        value: from_ref(q.written_value),
        is_first: q.is_service,
        tx_number: q.tx_number_in_block,
        shard_id: q.shard_id,
    }
}

pub(crate) fn to_ref(v: U256) -> RefU256 {
    RefU256(v.0)
}

pub(crate) fn from_ref(v: RefU256) -> U256 {
    U256(v.0)
}

pub(crate) fn build(case: &Case, world: &ResolvedWorld) -> RefVm {
    let mut memory = ReferenceMemory::default();
    memory.fill(BOOTLOADER_CODE_PAGE, case.code.iter().map(|w| to_ref(w.0)));
    memory.fill(
        BOOTLOADER_CALLDATA_PAGE,
        case.calldata.0.chunks(32).map(|chunk| {
            let mut word = [0u8; 32];
            word[..chunk.len()].copy_from_slice(chunk);
            RefU256::from_big_endian(&word)
        }),
    );
    let block = BlockProperties {
        default_aa_code_hash: to_ref(world.default_aa_code_hash),
        evm_emulator_code_hash: to_ref(world.evm_emulator_code_hash),
        zkporter_is_available: false,
    };
    let mut vm = VmState::empty_state(
        OracleStorage::new(world),
        memory,
        JournaledEvents::default(),
        DefaultPrecompilesProcessor::<false>,
        WorldDecommitter::new(world),
        DummyTracer,
        block,
        Version::latest(),
    );
    vm.local_state.callstack.current.ergs_remaining = case.ergs;
    let address = RefAddress::from_slice(case.frame.address.0.as_bytes());
    let bootloader = CallStackEntry {
        this_address: address,
        msg_sender: RefAddress::from_slice(case.frame.caller.0.as_bytes()),
        code_address: address,
        base_memory_page: MemoryPage(BOOTLOADER_BASE_PAGE),
        code_page: MemoryPage(BOOTLOADER_CODE_PAGE),
        sp: 0,
        pc: 0,
        exception_handler_location: eravm::BOOTLOADER_EXCEPTION_HANDLER,
        ergs_remaining: case.ergs,
        this_shard_id: 0,
        caller_shard_id: 0,
        code_shard_id: 0,
        is_static: case.frame.is_static,
        is_local_frame: false,
        context_u128_value: case.frame.context_u128.0.low_u128(),
        heap_bound: case.frame.heap_bound,
        aux_heap_bound: case.frame.aux_heap_bound,
        total_pubdata_spent: PubdataCost(0),
        stipend: 0,
    };
    vm.local_state.timestamp = STARTING_TIMESTAMP;
    vm.local_state.memory_page_counter = STARTING_BASE_PAGE;
    match &case.start {
        None => vm.push_bootloader_context(0, bootloader),
        // It takes pages for the far frames it puts below the first.
        Some(start) => super::reference_start::load(&mut vm, start, bootloader),
    }
    for (i, r) in case.initial_registers().iter().enumerate() {
        vm.local_state.registers[i] = PrimitiveValue {
            value: to_ref(r.value),
            is_pointer: r.is_pointer,
        };
    }
    vm.local_state.flags.overflow_or_less_than_flag = case.flags.lt;
    vm.local_state.flags.equality_flag = case.flags.eq;
    vm.local_state.flags.greater_than_flag = case.flags.gt;
    vm
}

impl Backend for ZkEvm {
    fn name(&self) -> &'static str {
        "zk_evm"
    }

    fn run(&self, case: &Case, trace: bool) -> Result<Run, BackendError> {
        drive(ZkMachine::new(case, false), case, trace)
    }
}

/// The history digest of a run that folds every register on every cycle, not only those
/// the instruction names as destinations: the check that [`written_by`] misses nothing.
pub fn history_of_every_register(case: &Case) -> Result<u64, BackendError> {
    Ok(drive(ZkMachine::new(case, true), case, false)?
        .state
        .history)
}

/// Runs a case on zk_evm with no observation at all, for timing; returns the cycles run. A
/// batch case gets the reference operator and a tracer that only notices hooks (what a node
/// must watch for); any other case a tracer that does nothing.
pub fn run_bare(case: &Case) -> u64 {
    drive_bare(ZkMachine::new(case, false), case)
}

/// zk_evm with our reference operator, as the driver steps it.
pub(crate) struct ZkMachine {
    vm: RefVm,
    /// For cases with a start state: how many far frames it put below the first.
    start_far_frames: Option<usize>,
    tracer: LastOpcode,
    operator: Option<ReferenceOperator>,
    cycles: u64,
}

impl ZkMachine {
    fn new(case: &Case, every_register: bool) -> ZkMachine {
        let world = case.resolved_world();
        let mut vm = build(case, &world);
        let operator = case
            .batch
            .as_ref()
            .map(|batch| ReferenceOperator::start(batch, &mut vm.memory));
        ZkMachine {
            vm,
            start_far_frames: case.start.as_ref().map(|s| s.far_frames().count()),
            tracer: LastOpcode {
                every_register,
                watch_hooks: case.batch.is_some(),
                ..LastOpcode::default()
            },
            operator,
            cycles: 0,
        }
    }

    /// Answers the hook the last cycle raised, if any: `Some` when the mode says to stop.
    fn answer(
        &mut self,
        hook: Option<RaisedHook>,
        mode: Option<ExecutionMode>,
    ) -> Result<Cycle, StepError> {
        let (Some(hook), Some(operator), Some(mode)) = (hook, self.operator.as_mut(), mode) else {
            return Ok(Cycle::default());
        };
        let stop = operator.answer(hook, &mut self.vm, mode)?;
        Ok(Cycle { hook: true, stop })
    }
}

impl ZkMachine {
    /// Cycles from `cycles` on until the end or `max_cycles`; the count reached.
    fn cycle_unwatched(
        &mut self,
        mut cycles: u64,
        max_cycles: u64,
    ) -> (u64, Result<(), StepError>) {
        let mut t = HookTracer::<false>::default();
        while !self.vm.execution_has_ended() && cycles < max_cycles {
            if self.vm.cycle(&mut t).is_err() {
                return (cycles, Err(StepError::Host));
            }
            cycles += 1;
        }
        (cycles, Ok(()))
    }

    /// The same, answering hooks, until the operator says to stop.
    fn cycle_watching_hooks(
        &mut self,
        max_cycles: u64,
        mode: Option<ExecutionMode>,
    ) -> Result<Option<Stop>, StepError> {
        let mut t = HookTracer::<true>::default();
        let mut cycles = self.cycles;
        while !self.vm.execution_has_ended() && cycles < max_cycles {
            if self.vm.cycle(&mut t).is_err() {
                self.cycles = cycles;
                return Err(StepError::Host);
            }
            cycles += 1;
            let Some(hook) = t.hook.take() else {
                continue;
            };
            // The operator's rollback may set the count back.
            self.cycles = cycles;
            let stop = self.answer(Some(hook), mode)?.stop;
            cycles = self.cycles;
            if stop.is_some() {
                return Ok(stop);
            }
        }
        self.cycles = cycles;
        Ok(None)
    }
}

impl Machine for ZkMachine {
    type Frame = CallStackEntry;

    fn cycles(&self) -> u64 {
        self.cycles
    }

    fn exit(&self) -> Option<RunEnd> {
        if !self.vm.execution_has_ended() {
            return None;
        }
        // A far return leaves the returned pointer in r1; a panic sets LT.
        Some(if self.vm.local_state.flags.overflow_or_less_than_flag {
            RunEnd::Panic
        } else if self.tracer.ret == Some(RetOpcode::Revert) {
            RunEnd::Revert
        } else {
            RunEnd::Ok
        })
    }

    fn step(&mut self, mode: Option<ExecutionMode>) -> Result<Cycle, StepError> {
        self.vm
            .cycle(&mut self.tracer)
            .map_err(|_| StepError::Host)?;
        self.cycles += 1;
        let hook = self.tracer.hook.take();
        self.answer(hook, mode)
    }

    fn run_bare(
        &mut self,
        mode: Option<ExecutionMode>,
        max_cycles: u64,
    ) -> Result<Option<Stop>, StepError> {
        if mode.is_some() {
            return self.cycle_watching_hooks(max_cycles, mode);
        }
        // The count lives in a local while the loop runs (it stays in a register).
        let (cycles, ended) = self.cycle_unwatched(self.cycles, max_cycles);
        self.cycles = cycles;
        ended.map(|()| None)
    }

    fn record_writes(&mut self) {
        self.vm.memory.write_log = Some(Vec::new());
    }

    fn frame(&self) -> CallStackEntry {
        self.vm.local_state.callstack.current
    }

    fn depth(&self) -> usize {
        self.vm.local_state.callstack.depth()
    }

    fn ids(f: &CallStackEntry) -> FrameIds {
        (
            eravm::H160::from_slice(f.this_address.as_bytes()),
            eravm::H160::from_slice(f.code_address.as_bytes()),
            f.ergs_remaining,
            f.is_local_frame,
        )
    }

    fn view(f: &CallStackEntry, depth: usize) -> FrameView {
        FrameView {
            pc: f.pc,
            sp: f.sp,
            ergs: f.ergs_remaining,
            exception_handler: f.exception_handler_location,
            heap_bound: f.heap_bound,
            aux_heap_bound: f.aux_heap_bound,
            is_local: f.is_local_frame,
            context_u128: f.context_u128_value,
            depth,
        }
    }

    fn call_or_ret(&self) -> Option<eravm::Instruction> {
        self.tracer
            .is_call_or_ret()
            .then(|| eravm::Instruction::decode(self.tracer.raw()))
    }

    fn executed_raw(&self) -> u64 {
        self.tracer.raw()
    }

    fn variant_index(&self) -> Option<u16> {
        None
    }

    fn journaled(&self) -> bool {
        // By zk_evm's own decoding: encoding the word back would cost a map lookup a cycle.
        self.tracer.executed.is_some_and(|op| {
            matches!(op.inner.variant.opcode, Opcode::Log(_) | Opcode::FarCall(_))
        })
    }

    fn written_registers(&mut self) -> u16 {
        self.tracer.written
    }

    fn flags(&self) -> FlagsView {
        let f = &self.vm.local_state.flags;
        FlagsView {
            lt: f.overflow_or_less_than_flag,
            eq: f.equality_flag,
            gt: f.greater_than_flag,
        }
    }

    fn limbs(&self, register: usize) -> [u64; 4] {
        self.vm.local_state.registers[register].value.0
    }

    fn is_pointer(&self, register: usize) -> bool {
        self.vm.local_state.registers[register].is_pointer
    }

    fn registers(&self) -> [Tagged; 15] {
        self.vm.local_state.registers.map(|r| Tagged {
            value: from_ref(r.value),
            pointer: r.is_pointer,
        })
    }

    fn pending_panic(&self) -> bool {
        self.vm.local_state.pending_exception
    }

    fn take_writes(&mut self) -> Vec<(u32, u32, Tagged)> {
        let log = self.vm.memory.write_log.as_mut().map(std::mem::take);
        log.unwrap_or_default()
            .into_iter()
            .map(|(page, index, v, tag)| {
                let value = Tagged {
                    value: from_ref(v),
                    pointer: tag,
                };
                (page, index, value)
            })
            .collect()
    }

    fn pubdata(&self) -> i32 {
        self.vm.local_state.pubdata_revert_counter.0
    }

    fn logs(&self) -> usize {
        self.vm.event_sink.events.len() + self.vm.event_sink.messages.len()
    }

    fn bootloader(&self) -> Option<&eravm::operator::BootloaderState> {
        self.operator.as_ref().map(|o| &o.state)
    }

    fn returned_bytes(&self) -> Vec<u8> {
        let pointer = RefFatPointer::from_u256(self.vm.local_state.registers[0].value);
        self.vm.memory.slice(pointer, RETURN_DATA_LIMIT)
    }

    fn end_state(&mut self) -> EndState<'_> {
        let vm = &self.vm;
        let page = |page: u32| -> Vec<(u32, Tagged)> {
            vm.memory
                .nonzero_words(page)
                .into_iter()
                .map(|(i, v, tag)| {
                    let value = Tagged {
                        value: from_ref(v),
                        pointer: tag,
                    };
                    (i, value)
                })
                .collect()
        };
        let base = BOOTLOADER_BASE_PAGE;
        let current = &vm.local_state.callstack.current;
        EndState {
            ergs: current.ergs_remaining,
            pc: current.pc,
            context_u128_register: vm.local_state.context_u128_register,
            tx_number: vm.local_state.tx_number_in_block,
            pending_panic: vm.local_state.pending_exception,
            heap: page(base + 2),
            aux_heap: page(base + 3),
            stack: page(base + 1),
            static_memory: page(STATIC_MEMORY_PAGE),
            call_stack: match self.start_far_frames {
                Some(_) => saved_frames(vm),
                None => Vec::new(),
            },
            start_pages: (0..self.start_far_frames.unwrap_or(0) as u32)
                .flat_map(|i| {
                    let base = STARTING_BASE_PAGE + NEW_MEMORY_PAGES_PER_FAR_CALL * i;
                    [base + 1, base + 2, base + 3]
                })
                .flat_map(|p| page(p).into_iter().map(move |(i, w)| (p, i, w)))
                .collect(),
            world: world_view(vm),
            bootloader: self.bootloader(),
        }
    }

    fn callers(&mut self, top: usize) -> Option<CallersView> {
        let below = self
            .vm
            .local_state
            .callstack
            .inner
            .get(1..)
            .unwrap_or_default();
        let top = &below[below.len().saturating_sub(top)..];
        Some(CallersView {
            depth: below.len(),
            top: top
                .iter()
                .map(|e| CallerView::from(saved_view(e)))
                .collect(),
        })
    }

    fn modes(&self) -> Option<ModesView> {
        let current = &self.vm.local_state.callstack.current;
        Some(ModesView {
            kernel: current.is_kernel_mode(),
            is_static: current.is_static,
        })
    }

    fn context_register(&self) -> Option<u128> {
        Some(self.vm.local_state.context_u128_register)
    }

    fn decommitted(&self) -> Option<Vec<[u8; 28]>> {
        Some(
            self.vm
                .decommittment_processor
                .loaded
                .keys()
                .copied()
                .collect(),
        )
    }
}

impl FedOperator for ZkMachine {
    fn make_snapshot(&mut self) {
        if let Some(op) = self.operator.as_mut() {
            op.make_snapshot(&self.vm, self.cycles);
        }
    }
    fn rollback_to_the_latest_snapshot(&mut self) {
        let op = self.operator.as_mut();
        if let Some(cycles) = op.and_then(|op| op.rollback_to_the_latest_snapshot(&mut self.vm)) {
            self.cycles = cycles;
        }
    }
    fn pop_snapshot_no_rollback(&mut self) {
        if let Some(op) = self.operator.as_mut() {
            op.pop_snapshot_no_rollback();
        }
    }
    fn push_transaction(
        &mut self,
        tx: &::eravm::operator::Transaction,
    ) -> Result<(), BackendError> {
        let op = self.operator.as_mut().ok_or_else(super::no_batch)?;
        op.push(tx, &mut self.vm)
    }
}

/// The entries below the current frame, bottom first, without the formal one.
fn saved_frames(vm: &RefVm) -> Vec<SavedFrameView> {
    vm.local_state
        .callstack
        .inner
        .iter()
        .skip(1)
        .map(saved_view)
        .collect()
}

fn saved_view(e: &CallStackEntry) -> SavedFrameView {
    SavedFrameView {
        pc: e.pc,
        sp: e.sp,
        ergs: e.ergs_remaining,
        exception_handler: e.exception_handler_location,
        is_local: e.is_local_frame,
        total_pubdata_spent: e.total_pubdata_spent.0,
    }
}

fn world_view(vm: &RefVm) -> WorldView {
    let storage = &vm.storage;
    let slot = |k: &eravm::StorageKey, v: &U256| SlotView {
        address: k.address,
        key: k.key,
        value: *v,
    };
    let mut slots: Vec<SlotView> = storage
        .current
        .iter()
        .filter(|(k, v)| storage.initial_value(k) != **v)
        .map(|(k, v)| slot(k, v))
        .collect();
    slots.sort();
    let mut transient: Vec<SlotView> = storage
        .transient
        .iter()
        .filter(|(_, v)| !v.is_zero())
        .map(|(k, v)| slot(k, v))
        .collect();
    transient.sort();
    let log = |q: &zk_evm::aux_structures::LogQuery| LogView::from(&log_entry(q));
    let mut decommitted: Vec<(String, u32)> = vm
        .decommittment_processor
        .loaded
        .iter()
        .map(|(h, (page, _))| (hex::encode(h), *page))
        .collect();
    decommitted.sort();
    WorldView {
        storage: slots,
        transient,
        events: vm.event_sink.events.iter().map(log).collect(),
        l2_to_l1_logs: vm.event_sink.messages.iter().map(log).collect(),
        pubdata: vm.local_state.pubdata_revert_counter.0,
        pubdata_costs: storage.pubdata_costs.clone(),
        refunds: storage.refunds.clone(),
        decommitted,
        calls: Vec::new(),
    }
}

/// Notices the hooks the bootloader raises (with `WATCH`), and nothing else; without it, a
/// tracer zk_evm never calls.
#[derive(Debug, Default)]
struct HookTracer<const WATCH: bool> {
    hook: Option<RaisedHook>,
}

impl<const WATCH: bool> Tracer for HookTracer<WATCH> {
    const CALL_BEFORE_EXECUTION: bool = WATCH;
    type SupportedMemory = ReferenceMemory;
    fn before_decoding(&mut self, _: VmLocalStateData<'_>, _: &ReferenceMemory) {}
    fn after_decoding(
        &mut self,
        _: VmLocalStateData<'_>,
        _: AfterDecodingData,
        _: &ReferenceMemory,
    ) {
    }
    fn before_execution(
        &mut self,
        state: VmLocalStateData<'_>,
        data: BeforeExecutionData,
        memory: &ReferenceMemory,
    ) {
        if WATCH {
            self.hook = hook_about_to_be_raised(&state, &data, memory);
        }
    }
    fn after_execution(
        &mut self,
        _: VmLocalStateData<'_>,
        _: AfterExecutionData,
        _: &ReferenceMemory,
    ) {
    }
}
