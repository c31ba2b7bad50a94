//! The reference: matter-labs' `zk_evm` (vm1), hosted the way a node hosts its bootloader.

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
    BOOTLOADER_CALLDATA_PAGE, BOOTLOADER_CODE_PAGE, STARTING_BASE_PAGE, STARTING_TIMESTAMP,
    STATIC_MEMORY_PAGE,
};
use zk_evm_abstractions::precompiles::DefaultPrecompilesProcessor;

use super::reference_host::{JournaledEvents, OracleStorage, WorldDecommitter};
use super::reference_memory::ReferenceMemory;
use super::reference_operator::{raised_hook, RaisedHook, ReferenceOperator};
use super::{Backend, BackendError, FedOperator, Feeder};
use crate::case::Case;
use crate::observe::{
    BatchView, CallTracker, FinalState, FlagsView, FrameIds, FrameView, History, LogView, Run,
    RunEnd, SlotView, StepState, Tagged, WorldView, ALL_REGISTERS, RETURN_DATA_LIMIT,
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
    vm.push_bootloader_context(0, bootloader);
    vm.local_state.timestamp = STARTING_TIMESTAMP;
    vm.local_state.memory_page_counter = STARTING_BASE_PAGE;
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
        run_observed(case, trace, false)
    }
}

/// The history digest of a run that folds every register on every cycle, not only those
/// the instruction names as destinations: the check that [`written_by`] misses nothing.
pub fn history_of_every_register(case: &Case) -> Result<u64, BackendError> {
    Ok(run_observed(case, false, true)?.state.history)
}

fn run_observed(case: &Case, trace: bool, every_register: bool) -> Result<Run, BackendError> {
    let world = case.resolved_world();
    let mut vm = build(case, &world);
    if trace {
        vm.memory.write_log = Some(Vec::new());
    }
    let mut tracer = LastOpcode {
        every_register,
        watch_hooks: case.batch.is_some(),
        ..LastOpcode::default()
    };
    let mut steps = trace.then(Vec::new);
    // The frame before the current cycle, copied whole (cheaper than converting it);
    // converted only when a cycle calls or returns, and at the end.
    let mut before = vm.local_state.callstack.current;
    let mut depth_before = vm.local_state.callstack.depth();
    // The frame when the operator stopped the run.
    let mut stopped_in = None;
    // The operator may have changed any register (a rollback restores them all).
    let mut operator_acted = true;
    let mut history = History::new(registers(&vm));
    let mut calls = CallTracker::default();
    let mut host_error = false;
    let mut cycles = 0u64;
    let mut operator = None;
    let mut feeder = None;
    if let Some(batch) = &case.batch {
        let mut op = ReferenceOperator::start(batch, &mut vm.memory);
        feeder = Some(Feeder::start(
            batch,
            &mut Fed {
                op: &mut op,
                vm: &mut vm,
                cycles: &mut cycles,
            },
        )?);
        operator = Some(op);
    }
    let mut operator_stop = false;
    let mut hook_registers = Vec::new();
    while !vm.execution_has_ended() && cycles < case.max_cycles {
        before = vm.local_state.callstack.current;
        depth_before = vm.local_state.callstack.depth();
        // The host could not answer (a bytecode the world lacks): stop here, comparably.
        if vm.cycle(&mut tracer).is_err() {
            host_error = true;
            break;
        }
        cycles += 1;
        if tracer.is_call_or_ret() {
            let executed = eravm::Instruction::decode(tracer.raw());
            calls.cycle(
                &executed,
                frame_ids(&before),
                frame_ids(&vm.local_state.callstack.current),
                vm.local_state.callstack.depth(),
                vm.local_state.flags.overflow_or_less_than_flag,
            );
        }
        let f = &vm.local_state.flags;
        let regs = &vm.local_state.registers;
        let written = if std::mem::take(&mut operator_acted) {
            ALL_REGISTERS
        } else {
            tracer.written
        };
        history.cycle(
            vm.local_state.callstack.current.pc,
            [
                f.overflow_or_less_than_flag,
                f.equality_flag,
                f.greater_than_flag,
            ],
            |i| regs[i].value.0,
            |i| regs[i].is_pointer,
            written,
        );
        if let Some(steps) = steps.as_mut() {
            steps.push(StepState {
                cycle: cycles,
                pc_before: before.pc,
                executed: tracer.raw(),
                frame: frame_view(
                    &vm.local_state.callstack.current,
                    vm.local_state.callstack.depth(),
                ),
                flags: flags(&vm),
                registers: registers(&vm),
                pending_panic: vm.local_state.pending_exception,
                writes: vm
                    .memory
                    .write_log
                    .as_mut()
                    .map(std::mem::take)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(page, index, v, tag)| {
                        (
                            page,
                            index,
                            Tagged {
                                value: from_ref(v),
                                pointer: tag,
                            },
                        )
                    })
                    .collect(),
                pubdata: vm.local_state.pubdata_revert_counter.0,
                logs: vm.event_sink.events.len() + vm.event_sink.messages.len(),
            });
        }
        if let (Some(operator), Some(feeder), Some(hook)) =
            (operator.as_mut(), feeder.as_mut(), tracer.hook.take())
        {
            hook_registers.push(registers(&vm));
            operator_acted = true;
            stopped_in = Some(frame_view(
                &vm.local_state.callstack.current,
                vm.local_state.callstack.depth(),
            ));
            if let Some(stop) = operator.answer(hook, &mut vm, feeder.mode())? {
                let mut fed = Fed {
                    op: &mut *operator,
                    vm: &mut vm,
                    cycles: &mut cycles,
                };
                if !feeder.on_stop(stop, &mut fed)? {
                    operator_stop = true;
                    break;
                }
                // A rollback forgets the hooks the transaction raised.
                hook_registers.truncate(operator.state.hooks.len());
            }
        }
    }

    let (end, return_data) = if host_error {
        (RunEnd::HostError, Vec::new())
    } else if operator_stop {
        (RunEnd::OperatorStop, Vec::new())
    } else if vm.execution_has_ended() {
        // A far return leaves the returned pointer in r1; a panic sets LT.
        let end = if vm.local_state.flags.overflow_or_less_than_flag {
            RunEnd::Panic
        } else if tracer.ret == Some(RetOpcode::Revert) {
            RunEnd::Revert
        } else {
            RunEnd::Ok
        };
        let pointer = RefFatPointer::from_u256(vm.local_state.registers[0].value);
        (end, vm.memory.slice(pointer, RETURN_DATA_LIMIT))
    } else {
        (RunEnd::CycleLimit, Vec::new())
    };
    let page = |page: u32| -> Vec<(u32, Tagged)> {
        vm.memory
            .nonzero_words(page)
            .into_iter()
            .map(|(i, v, tag)| {
                (
                    i,
                    Tagged {
                        value: from_ref(v),
                        pointer: tag,
                    },
                )
            })
            .collect()
    };
    let base = BOOTLOADER_BASE_PAGE;
    let current = &vm.local_state.callstack.current;
    // The current frame after the last cycle that left the VM running.
    let last_frame = match stopped_in {
        Some(frame) if operator_stop => frame,
        _ if host_error || vm.execution_has_ended() => frame_view(&before, depth_before),
        _ => frame_view(current, vm.local_state.callstack.depth()),
    };
    let state = FinalState {
        end,
        cycles,
        return_data,
        registers: registers(&vm),
        flags: flags(&vm),
        ergs: current.ergs_remaining,
        pc: current.pc,
        last_frame,
        context_u128_register: vm.local_state.context_u128_register,
        tx_number: vm.local_state.tx_number_in_block,
        pending_panic: vm.local_state.pending_exception,
        heap: page(base + 2),
        aux_heap: page(base + 3),
        stack: page(base + 1),
        static_memory: page(STATIC_MEMORY_PAGE),
        world: WorldView {
            calls: calls.events,
            ..world_view(&vm)
        },
        batch: operator.map(|o| BatchView::new(&o.state, &hook_registers)),
        history: history.digest(),
    };
    Ok(Run {
        state,
        trace: steps,
        variant_counts: Vec::new(),
        stats: Default::default(),
    })
}

/// The reference operator with its VM, as the feeder drives them.
struct Fed<'a> {
    op: &'a mut ReferenceOperator,
    vm: &'a mut RefVm,
    cycles: &'a mut u64,
}

impl FedOperator for Fed<'_> {
    fn make_snapshot(&mut self) {
        self.op.make_snapshot(self.vm, *self.cycles);
    }
    fn rollback_to_the_latest_snapshot(&mut self) {
        if let Some(cycles) = self.op.rollback_to_the_latest_snapshot(self.vm) {
            *self.cycles = cycles;
        }
    }
    fn pop_snapshot_no_rollback(&mut self) {
        self.op.pop_snapshot_no_rollback();
    }
    fn push_transaction(&mut self, tx: &crate::case::Transaction) -> Result<(), BackendError> {
        self.op.push(tx, &mut self.vm.memory)
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

fn frame_ids(f: &CallStackEntry) -> FrameIds {
    (
        eravm::H160::from_slice(f.this_address.as_bytes()),
        eravm::H160::from_slice(f.code_address.as_bytes()),
        f.ergs_remaining,
        f.is_local_frame,
    )
}

fn frame_view(f: &CallStackEntry, depth: usize) -> FrameView {
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

fn flags(vm: &RefVm) -> FlagsView {
    let f = &vm.local_state.flags;
    FlagsView {
        lt: f.overflow_or_less_than_flag,
        eq: f.equality_flag,
        gt: f.greater_than_flag,
    }
}

fn registers(vm: &RefVm) -> [Tagged; 15] {
    vm.local_state.registers.map(|r| Tagged {
        value: from_ref(r.value),
        pointer: r.is_pointer,
    })
}

/// Runs a case on zk_evm with no observation at all, for timing; returns the cycles run. A
/// batch case gets the reference operator and a tracer that only notices hooks (what a node
/// must watch for); any other case a tracer that does nothing.
pub fn run_bare(case: &Case) -> u64 {
    let world = case.resolved_world();
    let mut vm = build(case, &world);
    let mut cycles = 0u64;
    let Some(batch) = &case.batch else {
        let mut t = HookTracer::<false>::default();
        while !vm.execution_has_ended() && cycles < case.max_cycles {
            if vm.cycle(&mut t).is_err() {
                break;
            }
            cycles += 1;
        }
        return cycles;
    };
    let mut operator = ReferenceOperator::start(batch, &mut vm.memory);
    let started = Feeder::start(
        batch,
        &mut Fed {
            op: &mut operator,
            vm: &mut vm,
            cycles: &mut cycles,
        },
    );
    let Ok(mut feeder) = started else {
        return 0;
    };
    let mut t = HookTracer::<true>::default();
    while !vm.execution_has_ended() && cycles < case.max_cycles {
        if vm.cycle(&mut t).is_err() {
            break;
        }
        cycles += 1;
        if let Some(hook) = t.hook.take() {
            match operator.answer(hook, &mut vm, feeder.mode()) {
                Ok(None) => {}
                Ok(Some(stop)) => {
                    let mut fed = Fed {
                        op: &mut operator,
                        vm: &mut vm,
                        cycles: &mut cycles,
                    };
                    let go_on = feeder.on_stop(stop, &mut fed);
                    if !matches!(go_on, Ok(true)) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    }
    cycles
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
