//! Our own VM, `eravm`.

use eravm::operator::{OperatorError, OperatorVm};
use eravm::{ExitKind, FatPointer, Outcome, PageId, Vm, BOOTLOADER_BASE_PAGE, STATIC_MEMORY_PAGE};

use super::{Backend, BackendError, FedOperator, Feeder};
use crate::case::Case;
use crate::observe::{
    BatchView, CallTracker, FinalState, FlagsView, FrameIds, FrameView, History, LogView, Run,
    RunEnd, RunStats, SlotView, StepState, Tagged, WorldView, RETURN_DATA_LIMIT,
};
use crate::world::ResolvedWorld;

/// The `eravm` crate of this workspace.
pub struct EraVm;

impl Backend for EraVm {
    fn name(&self) -> &'static str {
        "eravm"
    }

    fn run(&self, case: &Case, trace: bool) -> Result<Run, BackendError> {
        let world = case.resolved_world();
        let mut op = OperatorVm::from_vm(Vm::with_storage(
            case.bootloader(),
            Box::new(world.eravm_storage()),
            world.chain_settings(),
        ));
        // Before any snapshot: a rollback brings back the memory as it was, setting included.
        op.vm.record_memory_writes(trace);
        let mut feeder = match &case.batch {
            Some(batch) => {
                op.write_batch_env(&batch.info.to_operator());
                Some(Feeder::start(batch, &mut op)?)
            }
            None => None,
        };
        let mut steps = trace.then(Vec::new);
        // The frame before the current cycle, copied whole; converted only when a cycle calls
        // or returns, and at the end.
        let mut before = *op.vm.current_frame();
        let mut depth_before = op.vm.call_depth();
        // The frame when the operator stopped the run.
        let mut stopped_in = None;
        let mut counts = vec![0u32; eravm::decoder::VARIANT_TABLE_LEN];
        let mut history = History::new(registers(&op.vm));
        let mut calls = CallTracker::default();
        let mut host_error = false;
        let mut operator_stop = false;
        let mut hook_registers = Vec::new();
        let outcome = loop {
            if let Some((exit, return_data)) = op.vm.exit() {
                break Outcome::Finished { exit, return_data };
            }
            if op.vm.cycles() >= case.max_cycles {
                break Outcome::CycleLimit;
            }
            before = *op.vm.current_frame();
            depth_before = op.vm.call_depth();
            let stepped = match &feeder {
                Some(feeder) => op.step(feeder.mode()),
                None => op.vm.step().map(|_| None).map_err(OperatorError::from),
            };
            let mut stop = match stepped {
                Ok(stop) => {
                    if op.bootloader_state.hooks.len() > hook_registers.len() {
                        hook_registers.push(registers(&op.vm));
                        stopped_in = Some(frame_view(op.vm.current_frame(), op.vm.call_depth()));
                    }
                    stop
                }
                Err(OperatorError::Vm(eravm::VmError::MissingBytecode(_))) => {
                    // The world lacks a bytecode: stop here, comparably.
                    host_error = true;
                    break Outcome::CycleLimit;
                }
                Err(e) => return Err(BackendError::Unsupported(e.to_string())),
            };
            counts[op.vm.last_variant_index() as usize] += 1;
            if CallTracker::wants(op.vm.last_instruction()) {
                calls.cycle(
                    op.vm.last_instruction(),
                    frame_ids(&before),
                    frame_ids(op.vm.current_frame()),
                    op.vm.call_depth(),
                    op.vm.flags().lt_of,
                );
            }
            let f = op.vm.flags();
            // eravm says which registers the cycle wrote; only they can have changed.
            let written = op.vm.take_written_registers() >> 1;
            let regs = op.vm.registers();
            history.cycle(
                op.vm.current_frame().pc,
                [f.lt_of, f.eq, f.gt],
                |i| regs.value(i as u8 + 1).0,
                |i| regs.pointer_mask() >> (i + 1) & 1 != 0,
                written,
            );
            if let Some(steps) = steps.as_mut() {
                steps.push(StepState {
                    cycle: op.vm.cycles(),
                    pc_before: before.pc,
                    executed: op.vm.last_instruction().encode().unwrap_or(0),
                    frame: frame_view(op.vm.current_frame(), op.vm.call_depth()),
                    flags: flags(&op.vm),
                    registers: registers(&op.vm),
                    pending_panic: op.vm.pending_panic(),
                    writes: op
                        .vm
                        .take_memory_writes()
                        .into_iter()
                        .map(|(page, index, w)| {
                            (
                                page.0,
                                index,
                                Tagged {
                                    value: w.value,
                                    pointer: w.is_pointer,
                                },
                            )
                        })
                        .collect(),
                    pubdata: op.vm.pubdata(),
                    logs: op.vm.world().events.len() + op.vm.world().l2_to_l1_logs.len(),
                });
            }
            if let (Some(s), Some(feeder)) = (stop, feeder.as_mut()) {
                if feeder.on_stop(s, &mut op)? {
                    // A rollback forgets the hooks the transaction raised.
                    hook_registers.truncate(op.bootloader_state.hooks.len());
                    stop = None;
                }
            }
            if stop.is_some() {
                operator_stop = true;
                break Outcome::CycleLimit;
            }
        };
        let (end, return_data) = match outcome {
            // The caller sees the returned slice through r1, which the returning instruction
            // may itself clear (as dst1); read it the same way as the reference backend.
            Outcome::Finished { exit, .. } => (
                match exit {
                    ExitKind::Ok => RunEnd::Ok,
                    ExitKind::Revert => RunEnd::Revert,
                    ExitKind::Panic => RunEnd::Panic,
                },
                returned_bytes(
                    &op.vm,
                    FatPointer::from_u256(&op.vm.registers().get(1).value),
                ),
            ),
            Outcome::CycleLimit if host_error => (RunEnd::HostError, Vec::new()),
            Outcome::CycleLimit if operator_stop => (RunEnd::OperatorStop, Vec::new()),
            Outcome::CycleLimit => (RunEnd::CycleLimit, Vec::new()),
        };
        let page = |id: PageId| -> Vec<(u32, Tagged)> {
            op.vm
                .memory()
                .page(id)
                .map(|p| {
                    p.nonzero_words()
                        .into_iter()
                        .map(|(i, w)| {
                            (
                                i,
                                Tagged {
                                    value: w.value,
                                    pointer: w.is_pointer,
                                },
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        // The current frame after the last cycle that left the VM running.
        let last_frame = match stopped_in {
            Some(frame) if operator_stop => frame,
            _ if host_error || op.vm.has_ended() => frame_view(&before, depth_before),
            _ => frame_view(op.vm.current_frame(), op.vm.call_depth()),
        };
        let state = FinalState {
            end,
            cycles: op.vm.cycles(),
            return_data,
            registers: registers(&op.vm),
            flags: flags(&op.vm),
            ergs: op.vm.current_frame().ergs,
            pc: op.vm.current_frame().pc,
            last_frame,
            context_u128_register: op.vm.context_u128_register(),
            tx_number: op.vm.tx_number(),
            pending_panic: op.vm.pending_panic(),
            heap: page(BOOTLOADER_BASE_PAGE.heap()),
            aux_heap: page(BOOTLOADER_BASE_PAGE.aux_heap()),
            stack: page(BOOTLOADER_BASE_PAGE.stack()),
            static_memory: page(STATIC_MEMORY_PAGE),
            batch: case
                .batch
                .as_ref()
                .map(|_| BatchView::new(&op.bootloader_state, &hook_registers)),
            world: WorldView {
                calls: calls.events,
                ..world_view(&op.vm, &world)
            },
            history: history.digest(),
        };
        let exits = op.vm.far_exits();
        let repeated = op
            .vm
            .world()
            .storage_writes
            .iter()
            .filter(|k| world.enumerated.contains_key(k))
            .count() as u64;
        let precompiles = op
            .vm
            .precompile_calls()
            .iter()
            .map(|(&address, &counts)| (precompile_name(address).to_string(), counts))
            .collect();
        let stats = RunStats {
            precompiles,
            deep_reverts: exits[1][2],
            deep_panics: exits[2][2],
            initial_writes: op.vm.world().storage_writes.len() as u64 - repeated,
            repeated_writes: repeated,
            rolled_back_writes: op.vm.world().storage_writes_rolled_back,
            batches: Default::default(),
        };
        Ok(Run {
            state,
            trace: steps,
            variant_counts: counts,
            stats,
        })
    }
}

impl FedOperator for OperatorVm {
    fn make_snapshot(&mut self) {
        OperatorVm::make_snapshot(self);
    }
    fn rollback_to_the_latest_snapshot(&mut self) {
        OperatorVm::rollback_to_the_latest_snapshot(self);
    }
    fn pop_snapshot_no_rollback(&mut self) {
        OperatorVm::pop_snapshot_no_rollback(self);
    }
    fn push_transaction(&mut self, tx: &crate::case::Transaction) -> Result<(), BackendError> {
        OperatorVm::push_transaction(self, &tx.to_operator())
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
        .filter(|(k, v)| world.values.get(k).copied().unwrap_or_default() != **v)
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

fn frame_ids(f: &eravm::Frame) -> FrameIds {
    (f.this_address, f.code_address, f.ergs, f.is_local)
}

fn frame_view(f: &eravm::Frame, depth: usize) -> FrameView {
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

fn flags(vm: &Vm) -> FlagsView {
    let f = vm.flags();
    FlagsView {
        lt: f.lt_of,
        eq: f.eq,
        gt: f.gt,
    }
}

fn registers(vm: &Vm) -> [Tagged; 15] {
    vm.registers().all().map(|w| Tagged {
        value: w.value,
        pointer: w.is_pointer,
    })
}
