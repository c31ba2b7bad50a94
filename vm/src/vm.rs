//! The VM: building it with a bootloader program, and the fetch–check–execute cycle.

use primitive_types::{H160, U256};

use crate::decoder::{
    Instruction, Predecoded, GUARD_INVALID, GUARD_KERNEL_ONLY, GUARD_NOT_IN_STATIC,
};
use crate::fat_pointer::FatPointer;
use crate::instructions::{dst_mode_of, src_mode_of, Operands};
use crate::memory::{Memory, MemorySnapshot};
use crate::opcode::{DstMode, Opcode, SrcMode};
use crate::panic::{Panic, PanicReason};
use crate::state::{CallStack, Flags, Frame, PageId, Registers, TaggedWord};
use crate::world::{InMemoryStorage, Storage, VmState, WorldSnapshot};

/// Address of the bootloader, the first frame of every batch.
pub const BOOTLOADER_ADDRESS: u16 = 0x8001;
/// Page layout of the bootloader frame (its code page is its base page).
pub const BOOTLOADER_BASE_PAGE: PageId = PageId(8);
pub const BOOTLOADER_CALLDATA_PAGE: PageId = PageId(7);
/// Kernel-only memory that outlives frames.
pub const STATIC_MEMORY_PAGE: PageId = PageId(1);
/// Base page of the first far call; each far call takes the next eight pages.
pub const FIRST_FAR_CALL_BASE_PAGE: u32 = 2048;
/// Where a panicking bootloader "jumps": a formal location past any code.
pub const BOOTLOADER_EXCEPTION_HANDLER: u16 = u16::MAX;

/// Everything needed to start a VM with a program running as its first frame.
#[derive(Clone, Debug)]
pub struct Bootloader {
    /// The code page, in 32-byte words; each word holds four instructions.
    pub code: Vec<U256>,
    pub ergs: u32,
    /// r1..r15 at the start.
    pub registers: [TaggedWord; 15],
    /// Bytes placed at the start of the calldata page (page 7).
    pub calldata: Vec<u8>,
    pub address: H160,
    pub caller: H160,
    pub is_static: bool,
    pub heap_bound: u32,
    pub aux_heap_bound: u32,
    pub context_u128: u128,
    /// The flags (LT/overflow, EQ, GT) at the start; a node starts with all clear.
    pub flags: Flags,
}

impl Bootloader {
    /// The bootloader as a node starts it: kernel address 0x8001, whole heaps available,
    /// r1 a pointer to the calldata.
    pub fn new(code: Vec<U256>, ergs: u32) -> Bootloader {
        Bootloader {
            code,
            ergs,
            registers: [TaggedWord::ZERO; 15],
            calldata: Vec::new(),
            address: H160::from_low_u64_be(BOOTLOADER_ADDRESS as u64),
            caller: H160::zero(),
            is_static: false,
            heap_bound: u32::MAX,
            aux_heap_bound: u32::MAX,
            context_u128: 0,
            flags: Flags::from_bits(0),
        }
    }
}

/// How the first frame ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitKind {
    Ok,
    Revert,
    Panic,
}

/// The end of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The bootloader frame returned; `return_data` is the slice it returned.
    Finished {
        exit: ExitKind,
        return_data: FatPointer,
    },
    /// The cycle limit given to [`Vm::run`] was reached first.
    CycleLimit,
    /// The last cycle raised a hook ([`Vm::take_hook`]): whoever answers hooks does so
    /// before running on.
    Suspended,
}

/// What one cycle did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    Ended,
}

/// Why a run stopped without an EraVM outcome.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VmError {
    /// An instruction this implementation does not run yet.
    #[error("`{0}` is not implemented by eravm yet")]
    Unimplemented(Opcode),
    /// The host does not know a bytecode the program needs: the chain state is broken.
    #[error("the host has no bytecode for hash {0:#066x}")]
    MissingBytecode(U256),
}

/// Settings of the chain the VM runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainSettings {
    /// Code run for an address without code (or with code still being constructed).
    pub default_aa_code_hash: U256,
    /// Code run for an address holding EVM bytecode.
    pub evm_emulator_code_hash: U256,
}

impl Default for ChainSettings {
    fn default() -> Self {
        // Well-formed hashes of empty bytecodes: calls to them find no code.
        let formal = U256::from(1u64) << 248;
        ChainSettings {
            default_aa_code_hash: formal,
            evm_emulator_code_hash: formal,
        }
    }
}

/// Everything [`Vm::snapshot`] saves.
/// Not `Clone`: a snapshot is rolled back to, or forgotten, once.
#[derive(Debug)]
pub struct VmSnapshot {
    registers: Registers,
    flags: u8,
    stack: CallStack,
    memory: MemorySnapshot,
    context_u128: u128,
    tx_number: u16,
    pending_panic: bool,
    panic_reason: Option<PanicReason>,
    pubdata_revert_counter: i32,
    memory_page_counter: u32,
    world: WorldSnapshot,
    far_depth: u32,
    cycles: u64,
    exit: Option<(ExitKind, FatPointer)>,
}

/// An EraVM instance.
pub struct Vm {
    pub(crate) registers: Registers,
    /// The flags as [`Flags::bits`]: the condition check indexes a mask with them.
    pub(crate) flags: u8,
    pub(crate) stack: CallStack,
    pub(crate) memory: Memory,
    /// The context register far calls read (distinct from each frame's own context value).
    pub(crate) context_u128: u128,
    pub(crate) tx_number: u16,
    /// Set by an instruction that fails mid-way: the next cycle runs `ret.panic` instead.
    /// Set it with [`Vm::set_pending_panic`], which also tells [`Vm::run`] to look.
    pub(crate) pending_panic: bool,
    /// Why the panic in flight happens: set with a pending panic or a fault, taken by the
    /// `ret.panic` that carries it out.
    panic_reason: Option<PanicReason>,
    /// The latest panic, for reports.
    last_panic: Option<Panic>,
    /// [`Vm::run`] runs cycles without looking for an exit, a pending panic or a full stack
    /// while `cycles` is below this; whatever raises one of them sets it to 0, so that the
    /// hot loop has one check instead of four.
    stop_at: u64,
    pub(crate) pubdata_revert_counter: i32,
    /// Base page of the next far call.
    pub(crate) memory_page_counter: u32,
    pub(crate) world: VmState,
    pub(crate) storage: Box<dyn Storage>,
    pub(crate) settings: ChainSettings,
    /// Far frames on the stack (the bootloader is 1).
    pub(crate) far_depth: u32,
    /// Far frames that ended, by how (ok, revert, panic) and depth (1, 2, 3 or more).
    pub(crate) far_exits: [[u64; 3]; 3],
    /// Precompile calls by address: `[malformed, well formed]` inputs.
    pub(crate) precompile_calls: rustc_hash::FxHashMap<u16, [u64; 2]>,
    /// Decoded code pages, valid while the memory's code generation is `code_generation`.
    decoded: rustc_hash::FxHashMap<u32, std::rc::Rc<[Predecoded]>>,
    code_generation: u64,
    /// The decoded code of the last code page fetched from, for the common case.
    current_code: (u32, std::rc::Rc<[Predecoded]>),
    /// A hook raised by the last cycle, until the operator takes it.
    hook: Option<crate::operator::HookCall>,
    /// A hook was raised during this [`Vm::run`]: it returns [`Outcome::Suspended`].
    suspended: bool,
    cycles: u64,
    /// What the last cycle executed (after replacements), kept whole: one 32-byte copy is
    /// cheaper than picking out the instruction and its variant.
    last: Predecoded,
    /// What faults and false conditions run instead, decoded once.
    panic: Predecoded,
    nop: Predecoded,
    exit: Option<(ExitKind, FatPointer)>,
}

impl Vm {
    /// A VM on an empty chain.
    pub fn new(bootloader: Bootloader) -> Vm {
        Vm::with_storage(
            bootloader,
            Box::new(InMemoryStorage::default()),
            ChainSettings::default(),
        )
    }

    /// A VM on the chain state `storage` answers for.
    pub fn with_storage(
        bootloader: Bootloader,
        storage: Box<dyn Storage>,
        settings: ChainSettings,
    ) -> Vm {
        let mut memory = Memory::default();
        memory.fill(BOOTLOADER_BASE_PAGE, bootloader.code.iter().copied());
        memory.fill(
            BOOTLOADER_CALLDATA_PAGE,
            bootloader.calldata.chunks(32).map(|chunk| {
                let mut word = [0u8; 32];
                word[..chunk.len()].copy_from_slice(chunk);
                U256::from_big_endian(&word)
            }),
        );
        let frame = Frame {
            this_address: bootloader.address,
            msg_sender: bootloader.caller,
            code_address: bootloader.address,
            base_page: BOOTLOADER_BASE_PAGE,
            code_page: BOOTLOADER_BASE_PAGE,
            sp: 0,
            pc: 0,
            exception_handler: BOOTLOADER_EXCEPTION_HANDLER,
            ergs: bootloader.ergs,
            this_shard_id: 0,
            caller_shard_id: 0,
            code_shard_id: 0,
            is_static: bootloader.is_static,
            is_local: false,
            context_u128: bootloader.context_u128,
            heap_bound: bootloader.heap_bound,
            aux_heap_bound: bootloader.aux_heap_bound,
            total_pubdata_spent: 0,
            stipend: 0,
            is_kernel: crate::state::is_kernel_address(&bootloader.address),
        };
        let mut stack = CallStack::new();
        stack.push(frame);
        let mut world = VmState::default();
        world.start_frame();
        Vm {
            registers: Registers::from_array(bootloader.registers),
            flags: bootloader.flags.bits(),
            stack,
            memory,
            context_u128: 0,
            tx_number: 0,
            pending_panic: false,
            panic_reason: None,
            last_panic: None,
            stop_at: 0,
            pubdata_revert_counter: 0,
            memory_page_counter: FIRST_FAR_CALL_BASE_PAGE,
            world,
            storage,
            settings,
            far_depth: 1,
            far_exits: [[0; 3]; 3],
            precompile_calls: Default::default(),
            decoded: Default::default(),
            hook: None,
            suspended: false,
            code_generation: u64::MAX,
            current_code: (u32::MAX, std::rc::Rc::from(Vec::new())),
            cycles: 0,
            last: Predecoded::nop(),
            panic: Predecoded::panic(),
            nop: Predecoded::nop(),
            exit: None,
        }
    }

    /// Runs until the bootloader frame ends, `max_cycles` cycles have run, or a cycle
    /// raised a hook.
    pub fn run(&mut self, max_cycles: Option<u64>) -> Result<Outcome, VmError> {
        let max_cycles = max_cycles.unwrap_or(u64::MAX);
        self.suspended = false;
        loop {
            if let Some((exit, return_data)) = self.exit {
                return Ok(Outcome::Finished { exit, return_data });
            }
            if std::mem::take(&mut self.suspended) {
                return Ok(Outcome::Suspended);
            }
            if self.cycles >= max_cycles {
                return Ok(Outcome::CycleLimit);
            }
            // No has_ended check: the stack ends only by the bootloader's return, which
            // sets the exit (and snapshots keep both together).
            self.stop_at = if self.pending_panic || self.stack.is_full() {
                0
            } else {
                max_cycles
            };
            // The checked cycle also makes the decoded code current; see `fetch`.
            self.cycle::<true>()?;
            // The common case: nothing above can have changed until `stop_at` is lowered.
            while self.cycles < self.stop_at {
                self.cycle::<false>()?;
            }
        }
    }

    /// Runs one cycle: fetch (decoded once per code page), check, address operands, execute.
    #[inline]
    pub fn step(&mut self) -> Result<Status, VmError> {
        if self.stack.has_ended() {
            return Ok(Status::Ended);
        }
        self.cycle::<true>()?;
        Ok(if self.stack.has_ended() {
            Status::Ended
        } else {
            Status::Running
        })
    }

    /// One cycle of a frame that has not ended. Without `CHECKED`, the caller knows that no
    /// panic is pending, the stack is not full and the decoded code is current; nor does
    /// the cycle keep what it executed for [`Vm::last_instruction`] (only steps are
    /// observed).
    #[inline(always)]
    fn cycle<const CHECKED: bool>(&mut self) -> Result<(), VmError> {
        if CHECKED && self.pending_panic {
            return self.cycle_replaced(self.panic, true);
        }
        let current = self.fetch::<CHECKED>();
        let full = CHECKED && self.stack.is_full();
        let frame = &mut self.stack.current;

        // Checks before execution. The price is charged even if the instruction then faults.
        let (ergs, out_of_ergs) = frame.ergs.overflowing_sub(current.price);
        let faulted = out_of_ergs || full || violates_guards(frame, current.guards);
        if faulted || current.condition_mask >> self.flags & 1 == 0 {
            return self.cycle_replaced(current, false);
        }
        frame.ergs = ergs;
        if CHECKED {
            self.last = current;
        }
        (current.handler)(self, &current).map_err(|e| *e)?;
        self.cycles += 1;
        Ok(())
    }

    /// The rarer cycles, out of the hot loop: a pending panic runs `ret.panic` (priced as
    /// it), a fault runs it instead of the instruction, a false condition runs `nop`.
    #[cold]
    #[inline(never)]
    fn cycle_replaced(&mut self, fetched: Predecoded, pending: bool) -> Result<(), VmError> {
        if pending {
            self.pending_panic = false;
        }
        let full = self.stack.is_full();
        let frame = &mut self.stack.current;
        let (ergs, out_of_ergs) = frame.ergs.overflowing_sub(fetched.price);
        frame.ergs = if out_of_ergs { 0 } else { ergs };
        let faulted = out_of_ergs || full || violates_guards(frame, fetched.guards);
        let mut current = fetched;
        if faulted {
            // A pending panic keeps its reason (its ret.panic may find the ergs gone).
            self.panic_reason
                .get_or_insert_with(|| fault_reason(frame, fetched.guards, out_of_ergs, full));
            current.replace_with(&self.panic);
        } else if current.condition_mask >> self.flags & 1 == 0 {
            current.replace_with(&self.nop);
        }
        self.last = current;
        (current.handler)(self, &current).map_err(|e| *e)?;
        self.cycles += 1;
        Ok(())
    }

    /// A heap write by the bootloader (at any near-call depth) to the hook slot raises a
    /// hook; its parameters are read before the write.
    #[inline(never)]
    pub(crate) fn check_for_hook(&mut self, ops: &Operands) {
        if self.stack.current.base_page == BOOTLOADER_BASE_PAGE
            && ops.src0.value.0[0] as u32 == crate::operator::layout::HOOK * 32
        {
            let heap = BOOTLOADER_BASE_PAGE.heap();
            let param = |i: u32| {
                self.memory
                    .read(heap, crate::operator::layout::HOOK_PARAMS + i)
                    .value
            };
            self.hook = Some(crate::operator::HookCall {
                value: ops.src1.value,
                params: [param(0), param(1), param(2)],
            });
            self.suspended = true;
            self.stop_at = 0;
        }
    }

    /// The instruction at the current PC, from the code page decoded once. Unchecked, the
    /// decoded code is known to be current: only a far call or return changes the code
    /// page, and instructions write memory through [`Vm::write_memory`] (precompiles and
    /// decommits, which write pages directly, recheck after); each asks for a checked
    /// cycle next ([`Vm::recheck`]). The host writes only between runs.
    #[inline(always)]
    fn fetch<const CHECKED: bool>(&mut self) -> Predecoded {
        let page = self.stack.current.code_page.0;
        let pc = self.stack.current.pc as usize;
        let stale = self.code_generation != self.memory.code_generation() || self.current_code.0 != page;
        if CHECKED && stale {
            self.switch_code_page(page);
        }
        debug_assert!(CHECKED || !stale, "an unchecked cycle on stale decoded code");
        match self.current_code.1.get(pc) {
            Some(&entry) => entry,
            // Past the end the code page reads as zeros: the invalid opcode.
            None => Predecoded::from_raw(0),
        }
    }

    #[cold]
    fn switch_code_page(&mut self, page: u32) {
        if self.code_generation != self.memory.code_generation() {
            self.decoded.clear();
            self.current_code.0 = u32::MAX;
            self.code_generation = self.memory.code_generation();
        }
        if self.current_code.0 != page {
            let code = match self.decoded.get(&page) {
                Some(code) => code.clone(),
                None => {
                    let words = self.memory.code_words(PageId(page));
                    // Marking the page may have been its first code use: nothing changed.
                    self.code_generation = self.memory.code_generation();
                    let code = crate::programs::decoded(words);
                    self.decoded.insert(page, code.clone());
                    code
                }
            };
            self.current_code = (page, code);
        }
    }

    /// The first source and the destination slot of addressing mode `MODE` (see
    /// [`crate::instructions::mode`]), moving SP for push and pop modes. A nop addresses its
    /// operands (and so moves SP) but reads nothing: it passes `read` false.
    #[inline(always)]
    pub(crate) fn address<const MODE: u8>(
        &mut self,
        ins: &Instruction,
        read: bool,
    ) -> (TaggedWord, Option<u16>) {
        let src_mode = src_mode_of(MODE);
        let dst_mode = dst_mode_of(MODE);
        match (src_mode, dst_mode) {
            (SrcMode::Reg, DstMode::Reg) => return (self.registers.get(ins.src0), None),
            (SrcMode::Imm, DstMode::Reg) => {
                return (TaggedWord::integer(U256::from(ins.imm0)), None)
            }
            _ => {}
        }
        let frame = &mut self.stack.current;
        let (src_slot, mut sp) = source_slot(&self.registers, ins, src_mode, frame.sp);

        let dst_addr = (self.registers.value(ins.dst0).0[0] as u16).wrapping_add(ins.imm1);
        let dst0_slot = match dst_mode {
            DstMode::Reg => None,
            DstMode::StackPush => {
                let slot = sp;
                sp = sp.wrapping_add(dst_addr);
                Some(slot)
            }
            DstMode::StackRelative => Some(sp.wrapping_sub(dst_addr)),
            DstMode::StackAbsolute => Some(dst_addr),
        };
        frame.sp = sp;

        let src0 = if read || matches!(src_mode, SrcMode::Reg | SrcMode::Imm) {
            self.read_source(ins, src_mode, src_slot)
        } else {
            TaggedWord::ZERO
        };
        (src0, dst0_slot)
    }

    /// The first source of an instruction, from where [`source_slot`] found it.
    #[inline(always)]
    fn read_source(&self, ins: &Instruction, mode: SrcMode, slot: Option<u16>) -> TaggedWord {
        let frame = &self.stack.current;
        match (mode, slot) {
            (SrcMode::Reg, _) => self.registers.get(ins.src0),
            (SrcMode::Imm, _) => TaggedWord::integer(U256::from(ins.imm0)),
            (SrcMode::CodePage, Some(i)) => {
                TaggedWord::integer(self.memory.read(frame.code_page, i as u32).value)
            }
            (_, Some(i)) => self.memory.read(frame.base_page.stack(), i as u32),
            (_, None) => TaggedWord::ZERO,
        }
    }

    /// The instruction the next cycle fetches and the two sources it reads (swapped as it
    /// swaps them), without running it: for tracers that classify what is about to happen.
    /// The cycle may still replace it (a pending panic, a fault, a false condition).
    pub fn peek(&mut self) -> Peek {
        let fetched = self.fetch::<true>();
        let ins = fetched.ins;
        let (slot, _) = source_slot(&self.registers, &ins, ins.src0_mode, self.stack.current.sp);
        let src0 = self.read_source(&ins, ins.src0_mode, slot);
        let src1 = self.registers.get(ins.src1);
        let (src0, src1) = if fetched.swap {
            (src1, src0)
        } else {
            (src0, src1)
        };
        Peek {
            instruction: ins,
            src0,
            src1,
        }
    }

    /// Writes the first destination: a stack slot if the instruction addressed one, else
    /// the dst0 register.
    #[inline]
    pub(crate) fn write_dst0(&mut self, ins: &Instruction, ops: &Operands, word: TaggedWord) {
        match ops.dst0_slot {
            Some(slot) => {
                let page = self.stack.current.base_page.stack();
                self.write_memory(page, slot as u32, word);
            }
            None => self.registers.set(ins.dst0, word),
        }
    }

    /// A write by an instruction. One to a page that holds code makes decoded code stale:
    /// the next cycle runs checked and decodes the page again.
    #[inline(always)]
    pub(crate) fn write_memory(&mut self, page: PageId, index: u32, word: TaggedWord) {
        if self.memory.write(page, index, word) {
            self.recheck();
        }
    }

    #[inline(always)]
    pub(crate) fn advance_pc(&mut self) {
        let frame = &mut self.stack.current;
        frame.pc = frame.pc.wrapping_add(1);
    }

    pub(crate) fn set_exit(&mut self, exit: ExitKind, return_data: FatPointer) {
        self.exit = Some((exit, return_data));
        self.stop_at = 0;
    }

    /// An instruction failed mid-way: the next cycle runs `ret.panic` instead.
    pub(crate) fn set_pending_panic(&mut self, reason: PanicReason) {
        self.pending_panic = true;
        self.panic_reason = Some(reason);
        self.stop_at = 0;
    }

    /// A frame ends in a panic: `opcode` ran, a far return's ABI may have `turned` it into
    /// one. A fault or pending panic named its reason already; otherwise it is the program's.
    pub(crate) fn record_panic(&mut self, opcode: Opcode, turned: Option<PanicReason>) {
        let reason = self.panic_reason.take().unwrap_or(match turned {
            Some(reason) if opcode != Opcode::RetPanic => reason,
            _ => PanicReason::Explicit,
        });
        self.last_panic = Some(Panic {
            cycle: self.cycles + 1,
            depth: self.stack.depth(),
            reason,
        });
    }

    /// The latest panic and why it happened (see [`crate::panic`]).
    pub fn last_panic(&self) -> Option<Panic> {
        self.last_panic
    }

    /// The next cycle runs checked: the code page may have changed (a far call or return)
    /// or a page holding code may have been written.
    #[inline(always)]
    pub(crate) fn recheck(&mut self) {
        self.stop_at = 0;
    }

    /// After a call pushed a frame: every instruction faults while the stack is full.
    #[inline(always)]
    pub(crate) fn note_push(&mut self) {
        if self.stack.is_full() {
            self.stop_at = 0;
        }
    }

    // ---- Read access for embedders, tracers and differential testing ----

    pub fn registers(&self) -> &Registers {
        &self.registers
    }
    /// Which registers were written since the last call (bit i: ri), for observers that
    /// look at the registers after every cycle.
    pub fn take_written_registers(&mut self) -> u16 {
        self.registers.take_written()
    }
    pub fn flags(&self) -> Flags {
        Flags::from_bits(self.flags)
    }
    /// The current frame; after the end, the formal frame below the bootloader.
    /// The call stack: the current frame and the entries below it.
    pub fn call_stack(&self) -> &CallStack {
        &self.stack
    }

    pub fn current_frame(&self) -> &Frame {
        &self.stack.current
    }
    pub fn call_depth(&self) -> usize {
        self.stack.depth()
    }
    pub fn memory(&self) -> &Memory {
        &self.memory
    }
    /// Starts (or stops) recording memory writes; see [`Memory::take_writes`].
    pub fn record_memory_writes(&mut self, on: bool) {
        self.memory.record_writes(on);
    }
    pub fn take_memory_writes(&mut self) -> Vec<(PageId, u32, TaggedWord)> {
        self.memory.take_writes()
    }
    /// The state of L2 changes so far.
    pub fn world(&self) -> &VmState {
        &self.world
    }
    /// Far frames that ended so far: `[kind][depth]`, kind ok/revert/panic, depth 1, 2, 3+.
    pub fn far_exits(&self) -> [[u64; 3]; 3] {
        self.far_exits
    }
    /// Precompile calls so far by address: `[malformed, well formed]` inputs.
    pub fn precompile_calls(&self) -> &rustc_hash::FxHashMap<u16, [u64; 2]> {
        &self.precompile_calls
    }
    /// Pubdata spent so far (what `context.meta` shows the kernel).
    pub fn pubdata(&self) -> i32 {
        self.pubdata_revert_counter
    }
    pub fn context_u128_register(&self) -> u128 {
        self.context_u128
    }
    pub fn tx_number(&self) -> u16 {
        self.tx_number
    }
    pub fn cycles(&self) -> u64 {
        self.cycles
    }
    pub fn has_ended(&self) -> bool {
        self.stack.has_ended()
    }
    pub fn pending_panic(&self) -> bool {
        self.pending_panic
    }
    /// The instruction the last [`Vm::step`] executed, after faults and false conditions
    /// replaced it.
    pub fn last_instruction(&self) -> &Instruction {
        &self.last.ins
    }
    /// The hook the bootloader raised, if one was raised since the last call.
    pub fn take_hook(&mut self) -> Option<crate::operator::HookCall> {
        self.hook.take()
    }

    /// Everything a run can change, to roll back to (the operator's external snapshots).
    /// Memory and the state of L2 changes are not copied: they log their changes from here
    /// on (see [`Memory::snapshot`], [`VmState::snapshot`]), so every snapshot must end in [`Vm::rollback`] or
    /// [`Vm::forget`]. The host storage is not included: the VM never writes it.
    pub fn snapshot(&mut self) -> VmSnapshot {
        VmSnapshot {
            registers: self.registers.clone(),
            flags: self.flags,
            stack: self.stack.clone(),
            memory: self.memory.snapshot(),
            context_u128: self.context_u128,
            tx_number: self.tx_number,
            pending_panic: self.pending_panic,
            panic_reason: self.panic_reason,
            pubdata_revert_counter: self.pubdata_revert_counter,
            memory_page_counter: self.memory_page_counter,
            world: self.world.snapshot(),
            far_depth: self.far_depth,
            cycles: self.cycles,
            exit: self.exit,
        }
    }

    /// Puts the VM back where `snapshot` was taken.
    pub fn rollback(&mut self, snapshot: VmSnapshot) {
        self.registers = snapshot.registers;
        self.registers.mark_all_written();
        self.flags = snapshot.flags;
        self.stack = snapshot.stack;
        self.memory.rollback(snapshot.memory);
        self.context_u128 = snapshot.context_u128;
        self.tx_number = snapshot.tx_number;
        self.pending_panic = snapshot.pending_panic;
        self.panic_reason = snapshot.panic_reason;
        self.pubdata_revert_counter = snapshot.pubdata_revert_counter;
        self.memory_page_counter = snapshot.memory_page_counter;
        self.world.rollback(snapshot.world);
        self.far_depth = snapshot.far_depth;
        self.cycles = snapshot.cycles;
        self.exit = snapshot.exit;
        self.hook = None;
        // Decoded code may describe pages the snapshot does not have.
        self.decoded.clear();
        self.current_code.0 = u32::MAX;
        self.code_generation = u64::MAX;
    }

    /// Drops a snapshot without rolling back.
    pub fn forget(&mut self, snapshot: VmSnapshot) {
        self.memory.forget(snapshot.memory);
        self.world.forget(snapshot.world);
    }

    /// The variant-table index of the instruction the last cycle executed.
    pub fn last_variant_index(&self) -> u16 {
        self.last.variant
    }
    pub fn exit(&self) -> Option<(ExitKind, FatPointer)> {
        self.exit
    }
}

/// Whether an instruction's checks before execution fail in `frame`: an invalid opcode, a
/// kernel-only one outside the kernel, or a state-changing one in a static frame.
#[inline(always)]
/// Why an instruction faulted before it ran (the invalid instruction costs every erg, so
/// it is named before the ergs).
fn fault_reason(frame: &Frame, guards: u8, out_of_ergs: bool, full: bool) -> PanicReason {
    if guards & GUARD_INVALID != 0 {
        PanicReason::InvalidInstruction
    } else if out_of_ergs {
        PanicReason::OutOfErgs
    } else if full {
        PanicReason::CallStackFull
    } else if guards & GUARD_KERNEL_ONLY != 0 && !frame.is_kernel {
        PanicReason::KernelOnly
    } else {
        PanicReason::StaticViolation
    }
}

fn violates_guards(frame: &Frame, guards: u8) -> bool {
    guards != 0
        && (guards & GUARD_INVALID != 0
            || (guards & GUARD_KERNEL_ONLY != 0 && !frame.is_kernel)
            || (guards & GUARD_NOT_IN_STATIC != 0 && frame.is_static))
}

/// Where a first source of `mode` lives on the stack or code page, and SP after addressing
/// it (a pop moves it).
#[inline(always)]
fn source_slot(
    registers: &Registers,
    ins: &Instruction,
    mode: SrcMode,
    sp: u16,
) -> (Option<u16>, u16) {
    let addr = (registers.value(ins.src0).0[0] as u16).wrapping_add(ins.imm0);
    match mode {
        SrcMode::Reg | SrcMode::Imm => (None, sp),
        SrcMode::StackPop => {
            let sp = sp.wrapping_sub(addr);
            (Some(sp), sp)
        }
        SrcMode::StackRelative => (Some(sp.wrapping_sub(addr)), sp),
        SrcMode::StackAbsolute | SrcMode::CodePage => (Some(addr), sp),
    }
}

/// The next instruction and its sources, as [`Vm::peek`] sees them before the cycle.
#[derive(Clone, Copy, Debug)]
pub struct Peek {
    pub instruction: Instruction,
    pub src0: TaggedWord,
    pub src1: TaggedWord,
}
