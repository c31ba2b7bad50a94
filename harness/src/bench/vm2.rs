//! matter-labs' vm2 (crate `zksync_vm2`) as a third VM for the benchmarks only; it takes no
//! part in the differential suites.
//!
//! The adapter hosts a workload's case the way our other hosts do: the case's code as the
//! first frame (at the case's address, with its ergs, calldata, registers and heap bounds),
//! the world's contracts behind the account code storage, its slots as the initial storage,
//! and writes priced as the reference host prices them. vm2 counts no cycles; a tracer that
//! counts instructions is used for the checks only, the timed runs use the empty tracer.
//!
//! What it cannot host is refused with a reason: batches (our bootloader's operator
//! protocol), static or pointer-carrying first frames.

use eravm::{StorageKey, H160, U256};
use rustc_hash::{FxHashMap, FxHashSet};
use zksync_vm2::interface::{
    CallframeInterface, GlobalStateInterface, OpcodeType, ShouldStop, StateInterface, Tracer,
};
use zksync_vm2::{
    ExecutionEnd, Program, Settings, StorageInterface, StorageSlot, VirtualMachine, World,
};

use crate::backend::state_diff_bytes;
use crate::case::Case;
use crate::world::ResolvedWorld;

/// The world a case describes, as vm2 asks for it.
pub struct Vm2World<T> {
    values: FxHashMap<StorageKey, U256>,
    enumerated: FxHashSet<StorageKey>,
    /// By the hash proper (bytes 4.. of the versioned hash), decoded once.
    programs: FxHashMap<[u8; 28], Program<T, Vm2World<T>>>,
    code: FxHashMap<[u8; 28], Vec<U256>>,
}

fn proper(hash: U256) -> [u8; 28] {
    let mut bytes = [0u8; 32];
    hash.to_big_endian(&mut bytes);
    let mut out = [0u8; 28];
    out.copy_from_slice(&bytes[4..]);
    out
}

impl<T: Tracer> Vm2World<T> {
    pub fn new(world: &ResolvedWorld) -> Self {
        let mut programs = FxHashMap::default();
        let mut code = FxHashMap::default();
        for (hash, words) in &world.bytecodes {
            programs.insert(proper(*hash), Program::from_words(words.clone(), false));
            code.insert(proper(*hash), words.clone());
        }
        Vm2World {
            values: world.values.clone(),
            enumerated: world.enumerated.keys().copied().collect(),
            programs,
            code,
        }
    }
}

impl<T: Tracer> World<T> for Vm2World<T> {
    fn decommit(&mut self, hash: U256) -> Program<T, Self> {
        // A bytecode the world lacks runs as one that panics at once (vm2 has no way to
        // report a host error); the checks catch any workload that gets here.
        self.programs
            .get(&proper(hash))
            .cloned()
            .unwrap_or_else(|| Program::from_words(Vec::new(), false))
    }

    fn decommit_code(&mut self, hash: U256) -> Vec<u8> {
        self.code
            .get(&proper(hash))
            .into_iter()
            .flatten()
            .flat_map(|w| {
                let mut b = [0u8; 32];
                w.to_big_endian(&mut b);
                b
            })
            .collect()
    }
}

impl<T> StorageInterface for Vm2World<T> {
    fn read_storage(&mut self, contract: H160, key: U256) -> StorageSlot {
        let k = StorageKey {
            address: contract,
            key,
        };
        StorageSlot {
            value: self.values.get(&k).copied().unwrap_or_default(),
            is_write_initial: !self.enumerated.contains(&k),
        }
    }

    /// The reference host's price: nothing when the slot ends as it started, else the key
    /// (32 bytes on an initial write, 4 on a repeated one) and the compressed change.
    fn cost_of_writing_storage(&mut self, initial: StorageSlot, new_value: U256) -> u32 {
        if initial.value == new_value {
            return 0;
        }
        let key_bytes = if initial.is_write_initial { 32 } else { 4 };
        key_bytes + state_diff_bytes(initial.value, new_value)
    }

    fn is_free_storage_slot(&self, contract: &H160, key: &U256) -> bool {
        ResolvedWorld::is_free(&StorageKey {
            address: *contract,
            key: *key,
        })
    }
}

/// Counts instructions (skipped ones included, as zk_evm counts cycles) and stops after
/// `stop_after` of them.
struct Counter {
    count: u64,
    stop_after: u64,
}

impl Tracer for Counter {
    fn after_instruction<OP: OpcodeType, S: GlobalStateInterface>(
        &mut self,
        _: &mut S,
    ) -> ShouldStop {
        self.count += 1;
        if self.count >= self.stop_after {
            ShouldStop::Stop
        } else {
            ShouldStop::Continue
        }
    }
}

/// Why vm2 cannot host this case faithfully, if it cannot.
fn unsupported(case: &Case) -> Option<String> {
    if case.batch.is_some() {
        return Some("our bootloader's operator protocol is not hosted on vm2".into());
    }
    if case.frame.is_static {
        return Some("vm2 cannot start in a static frame".into());
    }
    if case.initial_registers().iter().any(|r| r.is_pointer) {
        return Some("vm2 numbers heaps differently, so initial pointers mean other pages".into());
    }
    None
}

/// The case's VM and world, ready to run.
fn build<T: Tracer>(case: &Case) -> (VirtualMachine<T, Vm2World<T>>, Vm2World<T>) {
    let resolved = case.resolved_world();
    let world = Vm2World::new(&resolved);
    let bytes = |v: U256| {
        let mut b = [0u8; 32];
        v.to_big_endian(&mut b);
        b
    };
    let settings = Settings {
        default_aa_code_hash: bytes(resolved.default_aa_code_hash),
        evm_interpreter_code_hash: bytes(resolved.evm_emulator_code_hash),
        hook_address: u32::MAX,
    };
    let mut vm = VirtualMachine::new(
        case.frame.address.0,
        Program::from_words(case.code_words(), false),
        case.frame.caller.0,
        &case.calldata.0,
        case.ergs,
        settings,
    );
    for (i, r) in case.initial_registers().iter().enumerate() {
        vm.set_register(i as u8 + 1, r.value, r.is_pointer);
    }
    {
        let mut frame = vm.current_frame();
        frame.set_heap_bound(case.frame.heap_bound);
        frame.set_aux_heap_bound(case.frame.aux_heap_bound);
        frame.set_context_u128(case.frame.context_u128.0.low_u128());
    }
    (vm, world)
}

/// Runs the case once with the empty tracer (the timed run). vm2 counts no cycles, so the
/// cycles returned are 0; `check` has counted them.
pub fn run(case: &Case) -> Result<u64, String> {
    if let Some(why) = unsupported(case) {
        return Err(why);
    }
    let (mut vm, mut world) = build::<()>(case);
    let _ = vm.run(&mut world, &mut ());
    Ok(0)
}

/// How a run ended, comparably across VMs.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    Ok(Vec<u8>),
    Revert(Vec<u8>),
    Panic,
    Other(String),
}

/// The state after some instructions, comparably: integer registers by value, pointer
/// registers by their tag only (vm2's heap ids are not zk_evm's page numbers), flags
/// (lt, eq, gt) and the ergs left.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub registers: Vec<Option<U256>>,
    pub flags: [bool; 3],
    pub ergs: u32,
}

/// Runs the case on vm2 to its end: how it ended and the instructions it ran.
pub fn run_counted(case: &Case) -> (End, u64) {
    let (mut vm, mut world) = build::<Counter>(case);
    let mut counter = Counter {
        count: 0,
        stop_after: case.max_cycles,
    };
    let end = match vm.run(&mut world, &mut counter) {
        ExecutionEnd::ProgramFinished(data) => End::Ok(data),
        ExecutionEnd::Reverted(data) => End::Revert(data),
        ExecutionEnd::Panicked => End::Panic,
        other => End::Other(format!("{other:?}")),
    };
    (end, counter.count)
}

/// The state after `cycles` instructions on vm2.
pub fn snapshot_after(case: &Case, cycles: u64) -> Snapshot {
    let (mut vm, mut world) = build::<Counter>(case);
    let mut counter = Counter {
        count: 0,
        stop_after: cycles,
    };
    if cycles > 0 {
        let _ = vm.run(&mut world, &mut counter);
    }
    let f = vm.flags();
    let ergs = vm.current_frame().gas();
    Snapshot {
        registers: (1..16)
            .map(|i| {
                let (value, pointer) = vm.read_register(i);
                (!pointer).then_some(value)
            })
            .collect(),
        flags: [f.less_than, f.equal, f.greater],
        ergs,
    }
}

/// The same on eravm.
fn eravm_snapshot_after(case: &Case, cycles: u64) -> Snapshot {
    let world = case.resolved_world();
    let mut vm = eravm::Vm::with_storage(
        case.bootloader(),
        Box::new(world.eravm_storage()),
        world.chain_settings(),
    );
    let _ = vm.run(Some(cycles));
    let f = vm.flags();
    Snapshot {
        registers: vm
            .registers()
            .all()
            .iter()
            .map(|w| (!w.is_pointer).then_some(w.value))
            .collect(),
        flags: [f.lt_of, f.eq, f.gt],
        ergs: vm.current_frame().ergs,
    }
}

/// How eravm ends the case, and the cycles it ran.
fn eravm_end(case: &Case) -> (End, u64) {
    let world = case.resolved_world();
    let mut vm = eravm::Vm::with_storage(
        case.bootloader(),
        Box::new(world.eravm_storage()),
        world.chain_settings(),
    );
    let end = match vm.run(Some(case.max_cycles)) {
        Ok(eravm::Outcome::Finished { exit, return_data }) => {
            let pointer = return_data;
            let data = vm.memory().read_bytes(
                eravm::PageId(pointer.page),
                pointer.start.wrapping_add(pointer.offset),
                pointer.length.saturating_sub(pointer.offset),
                usize::MAX,
            );
            match exit {
                eravm::ExitKind::Ok => End::Ok(data),
                eravm::ExitKind::Revert => End::Revert(data),
                eravm::ExitKind::Panic => End::Panic,
            }
        }
        Ok(eravm::Outcome::CycleLimit) => End::Other("cycle limit".into()),
        Err(e) => End::Other(format!("{e}")),
    };
    (end, vm.cycles())
}

/// Whether vm2 runs the case as eravm does (eravm and zk_evm having been checked against
/// each other): the same end and return data, the same number of instructions, and the same
/// registers, flags and ergs just before the last instruction. `Err` says why not, or why
/// vm2 cannot host the case.
pub fn check(case: &Case) -> Result<(), String> {
    if let Some(why) = unsupported(case) {
        return Err(why);
    }
    let (ours, cycles) = eravm_end(case);
    let (theirs, count) = run_counted(case);
    if ours != theirs {
        return Err(format!(
            "vm2 ends differently: {} vs eravm {}",
            short(&theirs),
            short(&ours)
        ));
    }
    if count != cycles {
        return Err(format!(
            "vm2 ran {count} instructions, eravm {cycles} cycles"
        ));
    }
    let before_last = cycles.saturating_sub(1);
    let (a, b) = (
        eravm_snapshot_after(case, before_last),
        snapshot_after(case, before_last),
    );
    if a != b {
        return Err(format!(
            "vm2's state before the last instruction differs: {b:?} vs eravm {a:?}"
        ));
    }
    Ok(())
}

fn short(end: &End) -> String {
    match end {
        End::Ok(d) => format!("ok ({} bytes)", d.len()),
        End::Revert(d) => format!("revert ({} bytes)", d.len()),
        End::Panic => "panic".into(),
        End::Other(s) => s.clone(),
    }
}
