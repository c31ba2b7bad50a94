//! matter-labs' vm2 (crate `zksync_vm2`, what nodes run as vm_fast), as a third VM.
//!
//! The adapter hosts a case the way our other hosts do: the case's code as the first frame
//! (at the case's address, with its ergs, calldata, registers and heap bounds), the world's
//! contracts behind the account code storage, its slots as the initial storage, and writes
//! priced as the reference host prices them. vm2 has no single-step call: its tracer stops it
//! after every instruction and notes what ran.
//!
//! vm2 numbers its heaps its own way (heap 2 is the bootloader's heap where zk_evm has page
//! 10) and keeps no code pages, and its events carry no address; what the driver compares
//! against vm2 leaves those out ([`crate::compare::Unobserved`]). What it cannot host at all
//! is refused with a reason: batches of our small bootloader (vm2 hosts the operator
//! protocol only for the production bootloader, see [`super::vm2_operator`]), static
//! frames, pointers in the first frame's registers, the static-memory opcodes (vm2 does not
//! implement them), and precompile calls that name a page.
//!
//! vm2 keeps one snapshot at a time. A case's first frame runs under one (zk_evm's formal
//! frame below it rolls back what a failing first frame changed), except in a batch fed one
//! transaction at a time, where the operator's snapshots take it; there a bootloader that
//! fails and is not rolled back keeps on vm2 what it changed since that transaction began
//! (the batch did not seal, which the campaign counts as a defect apart; vm2 may then be
//! the odd one out).

use std::collections::BTreeSet;

use eravm::operator::{BootloaderState, ExecutionMode, Stop};
use eravm::{Instruction, Opcode, SrcMode, StorageKey, H160, U256};
use rustc_hash::{FxHashMap, FxHashSet};
use zksync_vm2::interface::{
    CallframeInterface, GlobalStateInterface, HeapId, Opcode as Vm2Opcode, OpcodeType, ReturnType,
    ShouldStop, StateInterface, Tracer,
};
use zksync_vm2::{ExecutionEnd, Program, Settings, StorageInterface, StorageSlot, VirtualMachine};

use super::drive::{drive, drive_bare, Cycle, EndState, Machine, StepError};
use super::reference_host::state_diff_bytes;
use super::vm2_operator::Vm2Operator;
use super::{Backend, BackendError, FedOperator};
use crate::case::Case;
use crate::compare::Unobserved;
use crate::frames::{CallerView, CallersView, ModesView};
use crate::observe::{
    FlagsView, FrameIds, FrameView, LogView, Run, RunEnd, SlotView, Tagged, WorldView,
    RETURN_DATA_LIMIT,
};
use crate::world::ResolvedWorld;

/// matter-labs' vm2.
pub struct Vm2;

impl Backend for Vm2 {
    fn name(&self) -> &'static str {
        "vm2"
    }

    fn run(&self, case: &Case, trace: bool) -> Result<Run, BackendError> {
        if let Some(why) = unsupported(case) {
            return Err(BackendError::Unsupported(why));
        }
        drive(Vm2Machine::<Probe>::new(case), case, trace)
    }

    fn may_decline(&self) -> bool {
        true
    }

    fn unobserved(&self) -> Unobserved {
        Unobserved {
            after_exit: true,
            pending_panic_pc: true,
            pointer_pages: true,
            code_pages: true,
            access_logs: true,
            event_addresses: true,
            step_instruction_and_writes: true,
            batch_internals: true,
            node_outcome: false,
        }
    }
}

/// Runs a case on vm2 with the empty tracer, for timing. vm2 counts no cycles, so this
/// returns 0; `Err` says why vm2 cannot host the case.
pub fn run_bare(case: &Case) -> Result<u64, String> {
    if let Some(why) = unsupported(case) {
        return Err(why);
    }
    Ok(drive_bare(Vm2Machine::<()>::new(case), case))
}

/// Why vm2 cannot host this case faithfully, if it cannot.
pub fn unsupported(case: &Case) -> Option<String> {
    if case.start.is_some() {
        return Some("vm2 has no way to load a start state: its frames, memory and journal are built only by running".into());
    }
    if case
        .batch
        .as_ref()
        .is_some_and(|b| !b.runs_production_bootloader())
    {
        return Some(SMALL_BOOTLOADER.into());
    }
    if case.frame.is_static {
        return Some("vm2 cannot start in a static frame".into());
    }
    if case
        .world
        .as_ref()
        .is_some_and(|w| !w.hashed_storage.is_empty())
    {
        return Some("the vm2 host does not read slots by derived key yet".into());
    }
    for r in case.initial_registers().iter().filter(|r| r.is_pointer) {
        let page = eravm::FatPointer::from_u256(&r.value).page;
        if heap_of_page(page, case.world.is_some()).is_none() {
            return Some(format!(
                "an initial pointer into page {page}, which has no heap in vm2"
            ));
        }
    }
    // The production bootloader's and system contracts' constants can read as such
    // instructions: there the probe declines when one runs.
    if case.batch.is_some() {
        return None;
    }
    let world = case.resolved_world();
    let static_memory = |code: &[U256]| {
        code.iter()
            .flat_map(eravm::decoder::code_word_instructions)
            .any(is_static_memory)
    };
    if static_memory(&case.code_words()) || world.bytecodes.iter().any(|(_, c)| static_memory(c)) {
        return Some(STATIC_MEMORY.into());
    }
    None
}

const STATIC_MEMORY: &str = "vm2 0.5.0 does not implement the static-memory opcodes";

fn is_static_memory(raw: u64) -> bool {
    matches!(
        Instruction::decode(raw).opcode,
        Opcode::StaticMemoryRead | Opcode::StaticMemoryWrite
    )
}

/// Why vm2 declines batches of our small bootloader.
const SMALL_BOOTLOADER: &str = "vm2 reads events without their address (as vm_fast does), \
     so it hosts batches of the production bootloader only, not our small bootloader's";

/// The first page no case without a world can reach: a case without contracts makes no
/// far call, so it never allocates pages beyond the bootloader's.
const UNREACHED_PAGES: u32 = 2048;

/// vm2's heap for a page of the first frame, where it has one: the calldata, heap and aux
/// heap pages (7, 10, 11) are vm2's heaps 1, 2, 3; page 0, and in a case without a world any
/// page no far call can allocate, read as zeros on both (vm2's heap 0 is never written).
fn heap_of_page(page: u32, has_world: bool) -> Option<u32> {
    Some(match page {
        0 => 0,
        p if p >= UNREACHED_PAGES && !has_world => 0,
        p if p == eravm::BOOTLOADER_CALLDATA_PAGE.0 => HeapId::FIRST_CALLDATA.as_u32(),
        p if p == eravm::BOOTLOADER_BASE_PAGE.heap().0 => HeapId::FIRST.as_u32(),
        p if p == eravm::BOOTLOADER_BASE_PAGE.aux_heap().0 => HeapId::FIRST_AUX.as_u32(),
        _ => return None,
    })
}

/// The world a case describes, as vm2 asks for it.
pub struct Vm2World<T> {
    values: FxHashMap<StorageKey, U256>,
    enumerated: FxHashSet<StorageKey>,
    /// By the hash proper (bytes 4.. of the versioned hash), decoded once.
    programs: FxHashMap<[u8; 28], Program<T, Vm2World<T>>>,
    code: FxHashMap<[u8; 28], Vec<U256>>,
    /// A call asked for a bytecode the world lacks.
    missing: bool,
}

fn proper(hash: U256) -> [u8; 28] {
    let mut bytes = [0u8; 32];
    hash.to_big_endian(&mut bytes);
    let mut out = [0u8; 28];
    out.copy_from_slice(&bytes[4..]);
    out
}

impl<T: Tracer> Vm2World<T> {
    /// The bytes of a bytecode the world knows, if it knows it.
    fn known_bytes(&self, hash: U256) -> Option<Vec<u8>> {
        let words = self.code.get(&proper(hash))?;
        Some(words.iter().flat_map(eravm::code_hash::bytes).collect())
    }

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
            missing: false,
        }
    }
}

impl<T: Tracer> zksync_vm2::World<T> for Vm2World<T> {
    fn decommit(&mut self, hash: U256) -> Program<T, Self> {
        // vm2 has no way to report a host error: note it, and the machine ends the run.
        match self.programs.get(&proper(hash)) {
            Some(program) => program.clone(),
            None => {
                self.missing = true;
                Program::from_words(Vec::new(), false)
            }
        }
    }

    fn decommit_code(&mut self, hash: U256) -> Vec<u8> {
        self.known_bytes(hash).unwrap_or_else(|| {
            self.missing = true;
            Vec::new()
        })
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

/// What a tracer tells the machine. The empty tracer `()` (timed runs) tells nothing.
pub(crate) trait Probing: Tracer + Default {
    /// Whether the tracer stops vm2 after every instruction.
    const STEPS: bool;
    fn probe(&self) -> Option<&Probe> {
        None
    }
    fn probe_mut(&mut self) -> Option<&mut Probe> {
        None
    }
    /// Whether kernel code is the production system contracts' (see
    /// [`Probe::trusts_kernel_pointers`]).
    fn trust_kernel_pointers(&mut self) {
        if let Some(p) = self.probe_mut() {
            p.trusts_kernel_pointers = true;
        }
    }
}

impl Probing for () {
    const STEPS: bool = false;
}

/// Stops vm2 after every instruction and notes what it ran.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    /// vm2's opcode of the last instruction, and the instruction word at its pc.
    opcode: Option<Vm2Opcode>,
    raw: u64,
    /// Word indices the bootloader's frame may have written in its heap and aux heap.
    heap_words: BTreeSet<u32>,
    aux_heap_words: BTreeSet<u32>,
    /// Stack slots the first frame may have written.
    stack_slots: BTreeSet<u16>,
    /// Why the case cannot be compared on vm2, once that shows.
    unsupported: Option<String>,
    /// Kernel code is the production system contracts', which nodes run on both page
    /// numberings (vm_latest and vm_fast side by side): its reads of pointers as integers
    /// are not checked.
    trusts_kernel_pointers: bool,
}

/// Whether an instruction of vm2's reads its operands as integers: everything but what
/// moves pointers as pointers or reads only their low bits (offsets, ergs, jump targets).
fn reads_integers(opcode: Vm2Opcode) -> bool {
    use Vm2Opcode::*;
    !matches!(
        opcode,
        Nop | NearCall
            | FarCall(_)
            | Ret(_)
            | Jump
            | HeapRead
            | AuxHeapRead
            | PointerRead
            | PointerAdd
            | PointerSub
            | PointerPack
            | PointerShrink
    )
}

/// Whether the instruction's stack operand (if it has one) holds a pointer now: its slot as
/// EraVM addresses it (`sp - (reg + imm)` relative or popped, `reg + imm` absolute), asked
/// of vm2.
fn stack_operand_is_pointer<S: GlobalStateInterface>(ins: &Instruction, state: &mut S) -> bool {
    let offset = (state.read_register(ins.src0).0.low_u32() as u16).wrapping_add(ins.imm0);
    let frame = state.current_frame();
    let slot = match ins.src0_mode {
        SrcMode::StackPop | SrcMode::StackRelative => frame.stack_pointer().wrapping_sub(offset),
        SrcMode::StackAbsolute => offset,
        _ => return false,
    };
    frame.read_stack(slot).1
}

/// A shift that moves a pointer's page bits (32..64) out, `shr.s k, rP` with k ≥ 64 (how
/// compiled code reads a pointer's length): the result does not depend on the page.
fn drops_page_bits(ins: &Instruction) -> bool {
    ins.opcode == Opcode::Shr
        && ins.swap_operands()
        && ins.src0_mode == SrcMode::Imm
        && ins.imm0 >= 64
}

impl Probing for Probe {
    const STEPS: bool = true;
    fn probe(&self) -> Option<&Probe> {
        Some(self)
    }
    fn probe_mut(&mut self) -> Option<&mut Probe> {
        Some(self)
    }
}

/// Words of at most this many a precompile's output is followed into the bootloader's heap.
const MAX_TRACKED_OUTPUT: u32 = 1 << 12;

impl Probe {
    /// Kernel code that reads a pointer as an integer sees its page number, which vm2
    /// numbers its own way: such a run cannot be compared, and vm2 declines it.
    fn note_page_reads<S: GlobalStateInterface>(&mut self, opcode: Vm2Opcode, state: &mut S) {
        if self.trusts_kernel_pointers || !state.current_frame().is_kernel() {
            return;
        }
        let ins = Instruction::decode(self.raw);
        let tagged = |r: u8| r != 0 && state.read_register(r).1;
        let reads_pointer = tagged(ins.src1)
            || (ins.src0_mode == SrcMode::Reg && tagged(ins.src0))
            || stack_operand_is_pointer(&ins, state);
        if reads_integers(opcode)
            && reads_pointer
            && !drops_page_bits(&ins)
            && self.unsupported.is_none()
        {
            let frame = state.current_frame();
            self.unsupported = Some(format!(
                "kernel code reads a pointer as an integer (at pc {} of {:#x}: {}), and vm2 \
                 numbers its heaps differently",
                frame.program_counter().unwrap_or(u16::MAX),
                frame.code_address(),
                ins
            ));
        }
    }

    /// The heap words and stack slots an instruction about to run may write in the first
    /// frame: by EraVM's addressing, `stack+=[r+i]` writes at the old sp, `stack[sp-(r+i)]`
    /// and `stack[r+i]` where they say (16 bits, wrapping).
    fn note_writes<S: GlobalStateInterface>(&mut self, opcode: Vm2Opcode, state: &mut S) {
        let ins = Instruction::decode(self.raw);
        let (heap, aux_heap, sp) = {
            let frame = state.current_frame();
            (frame.heap(), frame.aux_heap(), frame.stack_pointer())
        };
        if heap == HeapId::FIRST {
            let offset =
                |r: u8, imm: u16| (state.read_register(r).0.low_u32() as u16).wrapping_add(imm);
            // A pop in the source moves sp before the destination is written.
            let sp = match ins.src0_mode {
                SrcMode::StackPop => sp.wrapping_sub(offset(ins.src0, ins.imm0)),
                _ => sp,
            };
            let offset = offset(ins.dst0, ins.imm1);
            let slot = match ins.dst0_mode {
                eravm::DstMode::Reg => None,
                eravm::DstMode::StackPush => Some(sp),
                eravm::DstMode::StackRelative => Some(sp.wrapping_sub(offset)),
                eravm::DstMode::StackAbsolute => Some(offset),
            };
            self.stack_slots.extend(slot);
        }
        let register = |r: u8| state.read_register(r).0;
        match opcode {
            Vm2Opcode::HeapWrite | Vm2Opcode::AuxHeapWrite => {
                let address = match ins.src0_mode {
                    SrcMode::Imm => u32::from(ins.imm0),
                    _ => register(ins.src0).low_u32(),
                };
                let words = if opcode == Vm2Opcode::HeapWrite {
                    (heap == HeapId::FIRST).then_some(&mut self.heap_words)
                } else {
                    (aux_heap == HeapId::FIRST_AUX).then_some(&mut self.aux_heap_words)
                };
                if let Some(words) = words {
                    words.insert(address / 32);
                    words.insert(address.saturating_add(31) / 32);
                }
            }
            Vm2Opcode::PrecompileCall => {
                let mut abi = register(ins.src0);
                // The production contracts name pages from their own pointers, in vm2's
                // numbering (see `trusts_kernel_pointers`).
                if abi.0[2] != 0 && !self.trusts_kernel_pointers {
                    self.unsupported = Some(
                        "a precompile call names a page, and vm2 numbers heaps differently".into(),
                    );
                    // The run is not compared; keep vm2 from reading a heap it lacks.
                    abi.0[2] = 0;
                    state.set_register(ins.src0, abi, false);
                } else if heap == HeapId::FIRST {
                    let offset = abi.0[1] as u32;
                    let length = ((abi.0[1] >> 32) as u32).min(MAX_TRACKED_OUTPUT);
                    self.heap_words
                        .extend((0..length).map(|i| offset.wrapping_add(i)));
                }
            }
            _ => {}
        }
    }
}

impl Tracer for Probe {
    fn before_instruction<OP: OpcodeType, S: GlobalStateInterface>(&mut self, state: &mut S) {
        self.opcode = Some(OP::VALUE);
        self.raw = {
            let frame = state.current_frame();
            frame.program_counter().map_or(0, |pc| {
                // vm2 pads a program past its code page (an empty bytecode has a pc 0 but
                // no code word), and reading past the page panics: that reads as 0.
                let word = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    frame.read_contract_code(pc >> 2)
                }));
                word.map_or(0, |w| {
                    eravm::decoder::code_word_instructions(&w)[(pc & 3) as usize]
                })
            })
        };
        if is_static_memory(self.raw) && self.unsupported.is_none() {
            self.unsupported = Some(STATIC_MEMORY.into());
        }
        self.note_page_reads(OP::VALUE, state);
        self.note_writes(OP::VALUE, state);
    }

    fn after_instruction<OP: OpcodeType, S: GlobalStateInterface>(
        &mut self,
        _: &mut S,
    ) -> ShouldStop {
        ShouldStop::Stop
    }
}

/// vm2 with its world, as the driver steps it.
pub(crate) struct Vm2Machine<T: Probing> {
    vm: VirtualMachine<T, Vm2World<T>>,
    world: Vm2World<T>,
    tracer: T,
    /// How the run ended, with what it returned.
    end: Option<(RunEnd, Vec<u8>)>,
    cycles: u64,
    /// The current frame after the last step (vm2 lets one look at a frame only through
    /// `&mut`).
    frame: Vm2Frame,
    /// What the first frame left before a revert or panic rolled its changes back.
    kept: Option<Kept>,
    /// The operator, for a batch.
    operator: Option<Vm2Operator>,
    /// The first frame runs under vm2's snapshot of the start (see the module comment).
    start_snapshot: bool,
}

/// The state a revert or panic of the first frame does not take back: its memory, the
/// transaction number and the bytecodes decommitted.
struct Kept {
    heap: Vec<(u32, Tagged)>,
    aux_heap: Vec<(u32, Tagged)>,
    stack: Vec<(u32, Tagged)>,
    tx_number: u16,
    decommitted: Vec<(String, u32)>,
}

impl<T: Probing> Vm2Machine<T> {
    fn new(case: &Case) -> Self {
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
            hook_address: match case.batch {
                Some(_) => eravm::operator::layout::HOOK * 32,
                None => u32::MAX,
            },
        };
        let mut vm = VirtualMachine::new(
            case.frame.address.0,
            Program::from_words(case.code_words(), case.batch.is_some()),
            case.frame.caller.0,
            &case.calldata.0,
            case.ergs,
            settings,
        );
        for (i, r) in case.initial_registers().iter().enumerate() {
            let mut value = r.value;
            if r.is_pointer {
                let mut pointer = eravm::FatPointer::from_u256(&value);
                // `unsupported` has refused pointers into pages vm2 has no heap for.
                pointer.page = heap_of_page(pointer.page, case.world.is_some()).unwrap_or(u32::MAX);
                value = pointer.to_u256() | (value >> 128 << 128);
            }
            vm.set_register(i as u8 + 1, value, r.is_pointer);
        }
        vm.set_flags(zksync_vm2::interface::Flags {
            less_than: case.flags.lt,
            equal: case.flags.eq,
            greater: case.flags.gt,
        });
        {
            let mut frame = vm.current_frame();
            frame.set_exception_handler(eravm::BOOTLOADER_EXCEPTION_HANDLER);
            frame.set_heap_bound(case.frame.heap_bound);
            frame.set_aux_heap_bound(case.frame.aux_heap_bound);
            frame.set_context_u128(case.frame.context_u128.0.low_u128());
        }
        let frame = current_frame(&mut vm);
        // zk_evm's first frame returns to a formal frame below it, which rolls back what a
        // reverting or panicking first frame changed; vm2 stops without one. Its own
        // snapshot of the start does that rollback (see `ended`), unless the operator
        // needs vm2's one snapshot.
        let start_snapshot = !case.batch.as_ref().is_some_and(|b| b.fed_one_by_one());
        if start_snapshot {
            vm.make_snapshot();
        }
        let operator = case
            .batch
            .as_ref()
            .map(|b| Vm2Operator::start(b, resolved.enumerated.clone(), &mut vm));
        let mut tracer = T::default();
        if case.batch.is_some() {
            // `unsupported` has let only production-bootloader batches through.
            tracer.trust_kernel_pointers();
        }
        Vm2Machine {
            vm,
            world,
            tracer,
            end: None,
            cycles: 0,
            frame,
            kept: None,
            operator,
            start_snapshot,
        }
    }

    /// Takes in how a call to vm2's `run` ended.
    fn ended(&mut self, end: ExecutionEnd) -> Result<(), StepError> {
        let (how, data) = match end {
            ExecutionEnd::StoppedByTracer => return Ok(()),
            ExecutionEnd::ProgramFinished(data) => (RunEnd::Ok, data),
            ExecutionEnd::Reverted(data) => (RunEnd::Revert, data),
            ExecutionEnd::Panicked => (RunEnd::Panic, Vec::new()),
            ExecutionEnd::SuspendedOnHook(hook) => return Err(hook_outside_a_batch(hook)),
        };
        self.end = Some((how, data));
        if !self.start_snapshot {
            return Ok(());
        }
        if how == RunEnd::Ok {
            self.vm.pop_snapshot();
        } else {
            self.kept = Some(Kept {
                heap: self.heap(HeapId::FIRST),
                aux_heap: self.heap(HeapId::FIRST_AUX),
                stack: self.stack(),
                tx_number: self.vm.transaction_number(),
                decommitted: self.decommitted(),
            });
            self.vm.rollback();
        }
        Ok(())
    }

    /// The words of a heap of the first frame that are not zero, of those its writes and
    /// precompile outputs can have touched.
    fn heap(&self, heap: HeapId) -> Vec<(u32, Tagged)> {
        let words = self.tracer.probe().map(|p| {
            if heap == HeapId::FIRST {
                &p.heap_words
            } else {
                &p.aux_heap_words
            }
        });
        words
            .into_iter()
            .flatten()
            .filter(|&&i| i < u32::MAX / 32)
            .filter_map(|&i| {
                let value = self.vm.read_heap_u256(heap, i * 32);
                let word = Tagged {
                    value,
                    pointer: false,
                };
                (!value.is_zero()).then_some((i, word))
            })
            .collect()
    }

    fn decommitted(&self) -> Vec<(String, u32)> {
        let mut decommitted: Vec<(String, u32)> = (self.vm.world_diff().decommitted_hashes())
            .map(|h| (hex::encode(proper(h)), 0))
            .collect();
        decommitted.sort();
        decommitted
    }

    /// The far frame of the bootloader (the first one).
    fn bootloader_frame(&mut self) -> impl CallframeInterface + '_ {
        let n = self.vm.number_of_callframes();
        self.vm.callframe(n - 1)
    }
}

fn current_frame<T: Tracer, W: zksync_vm2::World<T>>(vm: &mut VirtualMachine<T, W>) -> Vm2Frame {
    let frame = vm.current_frame();
    Vm2Frame {
        address: frame.address(),
        code_address: frame.code_address(),
        pc: frame.program_counter().unwrap_or(u16::MAX),
        sp: frame.stack_pointer(),
        gas: frame.gas(),
        exception_handler: frame.exception_handler(),
        heap_bound: frame.heap_bound(),
        aux_heap_bound: frame.aux_heap_bound(),
        is_near_call: frame.is_near_call(),
        context_u128: frame.context_u128(),
        is_kernel: frame.is_kernel(),
        is_static: frame.is_static(),
    }
}

/// vm2's frame, copied: what views and the call tracker read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Vm2Frame {
    address: H160,
    code_address: H160,
    pc: u16,
    sp: u16,
    gas: u32,
    exception_handler: u16,
    heap_bound: u32,
    aux_heap_bound: u32,
    is_near_call: bool,
    context_u128: u128,
    is_kernel: bool,
    is_static: bool,
}

impl<T: Probing> Machine for Vm2Machine<T> {
    type Frame = Vm2Frame;

    fn cycles(&self) -> u64 {
        self.cycles
    }

    fn exit(&self) -> Option<RunEnd> {
        self.end.as_ref().map(|(how, _)| *how)
    }

    fn step(&mut self, mode: Option<ExecutionMode>) -> Result<Cycle, StepError> {
        let end = self.vm.run(&mut self.world, &mut self.tracer);
        if self.world.missing {
            return Err(StepError::Host);
        }
        if let Some(why) = self.tracer.probe_mut().and_then(|p| p.unsupported.take()) {
            return Err(StepError::Unsupported(why));
        }
        self.cycles += 1;
        self.frame = current_frame(&mut self.vm);
        if let (ExecutionEnd::SuspendedOnHook(hook), Some(mode)) = (&end, mode) {
            return self.answer(*hook, mode);
        }
        self.ended(end)?;
        Ok(Cycle::default())
    }

    fn run_bare(
        &mut self,
        mode: Option<ExecutionMode>,
        max_cycles: u64,
    ) -> Result<Option<Stop>, StepError> {
        if T::STEPS {
            while self.end.is_none() && self.cycles < max_cycles {
                if let Some(stop) = self.step(mode)?.stop {
                    return Ok(Some(stop));
                }
            }
            return Ok(None);
        }
        loop {
            match (self.vm.run(&mut self.world, &mut self.tracer), mode) {
                (ExecutionEnd::SuspendedOnHook(hook), Some(mode)) => {
                    if let Some(stop) = self.answer(hook, mode)?.stop {
                        return Ok(Some(stop));
                    }
                }
                (end, _) => {
                    self.ended(end)?;
                    return Ok(None);
                }
            }
        }
    }

    fn record_writes(&mut self) {}

    fn frame(&self) -> Vm2Frame {
        self.frame
    }

    fn depth(&self) -> usize {
        // vm2 stops when the first frame returns, without returning to a frame below it.
        if self.end.is_some() {
            0
        } else {
            self.vm.number_of_callframes()
        }
    }

    fn panicked(&self) -> bool {
        // A return that panics inside (a bad pointer) sets LT for the caller, as on every
        // VM; the first frame's has no caller, and how the run ended says.
        match &self.end {
            Some((how, _)) => *how == RunEnd::Panic,
            None => self.flags().lt,
        }
    }

    fn ids(f: &Vm2Frame) -> FrameIds {
        (f.address, f.code_address, f.gas, f.is_near_call)
    }

    fn view(f: &Vm2Frame, depth: usize) -> FrameView {
        FrameView {
            pc: f.pc,
            sp: f.sp,
            ergs: f.gas,
            exception_handler: f.exception_handler,
            heap_bound: f.heap_bound,
            aux_heap_bound: f.aux_heap_bound,
            is_local: f.is_near_call,
            context_u128: f.context_u128,
            depth,
        }
    }

    fn call_or_ret(&self) -> Option<Instruction> {
        let probe = self.tracer.probe()?;
        match probe.opcode? {
            Vm2Opcode::FarCall(_) => Some(Instruction::decode(probe.raw)),
            Vm2Opcode::Ret(how) => {
                let written = Instruction::decode(probe.raw);
                // A fault runs as a panic in place of what the code says.
                let is_ret = matches!(
                    written.opcode,
                    Opcode::RetOk | Opcode::RetRevert | Opcode::RetPanic
                );
                Some(if is_ret && how != ReturnType::Panic {
                    written
                } else {
                    Instruction::panic()
                })
            }
            _ => None,
        }
    }

    fn executed_raw(&self) -> u64 {
        self.tracer.probe().map_or(0, |p| p.raw)
    }

    fn variant_index(&self) -> Option<u16> {
        None
    }

    fn written_registers(&mut self) -> u16 {
        crate::observe::ALL_REGISTERS
    }

    fn flags(&self) -> FlagsView {
        let f = self.vm.flags();
        FlagsView {
            lt: f.less_than,
            eq: f.equal,
            gt: f.greater,
        }
    }

    fn limbs(&self, register: usize) -> [u64; 4] {
        let value = self.vm.read_register(register as u8 + 1).0;
        if register == 2 && super::projection_fault::is_on("vm2") {
            return value.overflowing_add(U256::one()).0 .0;
        }
        value.0
    }

    fn is_pointer(&self, register: usize) -> bool {
        self.vm.read_register(register as u8 + 1).1
    }

    fn registers(&self) -> [Tagged; 15] {
        let mut registers = std::array::from_fn(|i| {
            let (value, pointer) = self.vm.read_register(i as u8 + 1);
            Tagged { value, pointer }
        });
        if super::projection_fault::is_on("vm2") {
            registers[2].value = registers[2].value.overflowing_add(U256::one()).0;
        }
        registers
    }

    fn pending_panic(&self) -> bool {
        // vm2 runs a fault as a panic instruction it jumps to, off the program.
        self.end.is_none() && self.frame().pc == u16::MAX
    }

    fn take_writes(&mut self) -> Vec<(u32, u32, Tagged)> {
        Vec::new()
    }

    fn pubdata(&self) -> i32 {
        self.vm.pubdata()
    }

    fn logs(&self) -> usize {
        self.vm.events().count() + self.vm.l2_to_l1_logs().count()
    }

    fn bootloader(&self) -> Option<&BootloaderState> {
        self.operator.as_ref().map(|o| &o.state)
    }

    fn returned_bytes(&self) -> Vec<u8> {
        let mut data = self
            .end
            .as_ref()
            .map(|(_, d)| d.clone())
            .unwrap_or_default();
        data.truncate(RETURN_DATA_LIMIT);
        data
    }

    fn end_state(&mut self) -> EndState<'_> {
        let kept = match self.kept.take() {
            Some(kept) => kept,
            None => Kept {
                heap: self.heap(HeapId::FIRST),
                aux_heap: self.heap(HeapId::FIRST_AUX),
                stack: self.stack(),
                tx_number: self.vm.transaction_number(),
                decommitted: self.decommitted(),
            },
        };
        let current = self.frame;
        EndState {
            ergs: current.gas,
            pc: current.pc,
            context_u128_register: self.vm.context_u128_register(),
            tx_number: kept.tx_number,
            pending_panic: self.end.is_none() && current.pc == u16::MAX,
            heap: kept.heap,
            aux_heap: kept.aux_heap,
            stack: kept.stack,
            static_memory: Vec::new(),
            call_stack: Vec::new(),
            start_pages: Vec::new(),
            world: WorldView {
                decommitted: kept.decommitted,
                ..self.world_view()
            },
            bootloader: self.operator.as_ref().map(|o| &o.state),
        }
    }

    fn callers(&mut self, top: usize) -> Option<CallersView> {
        // vm2 numbers its levels from the current one (0) down; each level reports what it
        // resumes with, as zk_evm's saved entries do. vm2 has no formal frame below the first.
        let levels = self.vm.number_of_callframes();
        let level = |vm: &mut VirtualMachine<T, Vm2World<T>>, n: usize| {
            let f = vm.callframe(n);
            CallerView {
                pc: f.program_counter().unwrap_or(u16::MAX),
                sp: f.stack_pointer(),
                ergs: f.gas(),
                exception_handler: f.exception_handler(),
                is_local: f.is_near_call(),
            }
        };
        let shown = (1..levels).take(top).rev();
        Some(CallersView {
            depth: levels.saturating_sub(1),
            top: shown.map(|n| level(&mut self.vm, n)).collect(),
        })
    }

    fn modes(&self) -> Option<ModesView> {
        Some(ModesView {
            kernel: self.frame.is_kernel,
            is_static: self.frame.is_static,
        })
    }

    fn context_register(&self) -> Option<u128> {
        Some(self.vm.context_u128_register())
    }

    fn decommitted(&self) -> Option<Vec<[u8; 28]>> {
        Some(
            self.vm
                .world_diff()
                .decommitted_hashes()
                .map(proper)
                .collect(),
        )
    }
}

impl<T: Probing> Vm2Machine<T> {
    /// The first frame's stack words that are not zero, of the slots it may have written.
    fn stack(&mut self) -> Vec<(u32, Tagged)> {
        let slots: Vec<u16> = self
            .tracer
            .probe()
            .map(|p| p.stack_slots.iter().copied().collect())
            .unwrap_or_default();
        let frame = self.bootloader_frame();
        slots
            .into_iter()
            .filter_map(|i| {
                let (value, pointer) = frame.read_stack(i);
                (!value.is_zero() || pointer).then_some((u32::from(i), Tagged { value, pointer }))
            })
            .collect()
    }

    fn world_view(&self) -> WorldView {
        let slot = |(address, key): (H160, U256), value: U256| SlotView {
            address,
            key,
            value,
        };
        let initial = |address: H160, key: U256| {
            self.world
                .values
                .get(&StorageKey { address, key })
                .copied()
                .unwrap_or_default()
        };
        let mut storage: Vec<SlotView> = self
            .vm
            .get_storage_state()
            .filter(|((a, k), v)| initial(*a, *k) != *v)
            .map(|(k, v)| slot(k, v))
            .collect();
        storage.sort();
        let mut transient: Vec<SlotView> = self
            .vm
            .get_transient_storage_state()
            .filter(|(_, v)| !v.is_zero())
            .map(|(k, v)| slot(k, v))
            .collect();
        transient.sort();
        let events = self.vm.events().map(|e| LogView {
            // vm2 keeps no address with an event (see `Unobserved::event_addresses`).
            address: H160::zero(),
            key: e.key,
            value: e.value,
            is_first: e.is_first,
            tx_number: e.tx_number,
            shard_id: e.shard_id,
        });
        let messages = self.vm.l2_to_l1_logs().map(|l| LogView {
            address: l.address,
            key: l.key,
            value: l.value,
            is_first: l.is_service,
            tx_number: l.tx_number,
            shard_id: l.shard_id,
        });
        let diff = self.vm.world_diff();
        WorldView {
            storage,
            transient,
            events: events.collect(),
            l2_to_l1_logs: messages.collect(),
            pubdata: self.vm.pubdata(),
            pubdata_costs: diff.pubdata_costs().to_vec(),
            refunds: diff.storage_refunds().to_vec(),
            decommitted: Vec::new(),
            calls: Vec::new(),
        }
    }
}

impl<T: Probing> FedOperator for Vm2Machine<T> {
    fn make_snapshot(&mut self) {
        if let Some(op) = self.operator.as_mut() {
            op.make_snapshot(&mut self.vm, self.cycles);
        }
    }
    fn rollback_to_the_latest_snapshot(&mut self) {
        let op = self.operator.as_mut();
        if let Some(cycles) = op.and_then(|op| op.rollback(&mut self.vm)) {
            // The bootloader runs again from where the snapshot was taken.
            self.cycles = cycles;
            self.end = None;
            self.kept = None;
            self.frame = current_frame(&mut self.vm);
        }
    }
    fn pop_snapshot_no_rollback(&mut self) {
        if let Some(op) = self.operator.as_mut() {
            op.pop_snapshot(&mut self.vm);
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

impl<T: Probing> Vm2Machine<T> {
    /// Answers the hook vm2 suspended on (the bootloader's heap write is done).
    fn answer(&mut self, hook: u32, mode: ExecutionMode) -> Result<Cycle, StepError> {
        let Some(op) = self.operator.as_mut() else {
            return Err(hook_outside_a_batch(hook));
        };
        let world = &self.world;
        let stop = op.answer(hook, &mut self.vm, |hash| world.known_bytes(hash), mode)?;
        Ok(Cycle { hook: true, stop })
    }
}

fn hook_outside_a_batch(hook: u32) -> StepError {
    StepError::Unsupported(format!("vm2 suspended on hook {hook} outside a batch"))
}
