//! Starting a VM from a state built directly rather than reached by running: frames below
//! the first one, the words on their pages and what each changed in the world so far.
//!
//! Every frame of such a state runs the first frame's code page; the far frames below take
//! base pages in the order a run would give them ([`crate::vm::FIRST_FAR_CALL_BASE_PAGE`] on,
//! eight pages each), the first frame keeps the bootloader's pages on top of them.

use primitive_types::{H160, U256};

use crate::ergs::MAX_CALL_DEPTH;
use crate::state::{Frame, PageId, TaggedWord};
use crate::vm::{Bootloader, ChainSettings, Vm};
use crate::world::{LogEntry, Storage, StorageKey};

/// A state to start from: the frames below the running one, and the running one's own
/// near callers, memory and changes. The running frame itself is the [`Bootloader`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartState {
    /// Frames below the running far frame, bottom first.
    pub below: Vec<StartFrame>,
    /// The levels of the running far frame below the running one, outermost (the far
    /// frame's own, not local) first; when empty, the running frame is the far frame itself.
    pub near_callers: Vec<NearStart>,
    /// Words on the running frame's pages.
    pub memory: Vec<StartWord>,
    /// What the running frame changed before the state was taken.
    pub changes: Vec<WorldChange>,
    /// The pubdata counter of the VM (the bootloader's, summed over the batch).
    pub pubdata_counter: i32,
    /// The context register `context.set_context_u128` sets for the next far call.
    pub context_u128_register: u128,
    /// The running frame's stack pointer.
    pub sp: u16,
    /// The running frame's exception handler: where its caller resumes if it fails.
    pub exception_handler: u16,
}

/// One frame below the running one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartFrame {
    /// A whole far frame, on pages of its own.
    Far(FarStart),
    /// A near frame inside the far frame below it.
    Near(NearStart),
}

/// A far frame below, as it was when it called the frame above it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FarStart {
    /// Its address (also its code address); kernel below 2^16.
    pub address: H160,
    /// Its `msg.sender`.
    pub caller: H160,
    /// Where it resumes when the frame above returns.
    pub pc: u16,
    /// Its stack pointer.
    pub sp: u16,
    /// Where its caller resumes if it fails.
    pub exception_handler: u16,
    /// The ergs it kept when it called.
    pub ergs: u32,
    /// Whether it may change the world.
    pub is_static: bool,
    /// Its heap bounds (bytes paid for).
    pub heap_bound: u32,
    /// Its aux heap bound.
    pub aux_heap_bound: u32,
    /// The context value it was called with.
    pub context_u128: u128,
    /// Ergs it was given for free.
    pub stipend: u32,
    /// Pubdata it has spent.
    pub total_pubdata_spent: i32,
    /// Words on its pages.
    pub memory: Vec<StartWord>,
    /// What it changed in the world before calling.
    pub changes: Vec<WorldChange>,
}

/// A near frame (a level of the far frame below it), as it was when it called the frame
/// above: where it resumes and with what.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NearStart {
    /// Where it resumes.
    pub pc: u16,
    /// Its stack pointer.
    pub sp: u16,
    /// Where its caller resumes if it fails (for the outermost of `near_callers`, the far
    /// frame's caller).
    pub exception_handler: u16,
    /// The ergs it kept.
    pub ergs: u32,
    /// Pubdata it has spent.
    pub total_pubdata_spent: i32,
    /// What it changed in the world before calling (rolled back if it reverts).
    pub changes: Vec<WorldChange>,
}

/// Which page of a frame a word is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FramePage {
    /// Tagged words: integers and pointers.
    Stack,
    /// Bytes (pointer tags are dropped).
    Heap,
    /// Bytes (pointer tags are dropped).
    AuxHeap,
}

impl FramePage {
    /// The page of a frame with base page `base`.
    pub fn of(self, base: PageId) -> PageId {
        match self {
            FramePage::Stack => base.stack(),
            FramePage::Heap => base.heap(),
            FramePage::AuxHeap => base.aux_heap(),
        }
    }
}

/// A word on one of a frame's pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartWord {
    /// Which of the frame's pages.
    pub page: FramePage,
    /// The word index on the page.
    pub index: u32,
    /// The word.
    pub word: TaggedWord,
}

/// A change a frame made to the world, made again when the state is loaded, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorldChange {
    /// A storage read of the frame's own slot (it is warm from then on).
    Read {
        /// The slot.
        key: U256,
    },
    /// A storage write to the frame's own slot.
    Write {
        /// The slot.
        key: U256,
        /// Its new value.
        value: U256,
    },
    /// A transient storage write to the frame's own slot.
    TransientWrite {
        /// The slot.
        key: U256,
        /// Its new value.
        value: U256,
    },
    /// An event word, emitted by the frame.
    Event {
        /// The first operand of `log.event`.
        key: U256,
        /// The second operand.
        value: U256,
        /// Whether it starts an event.
        first: bool,
    },
    /// An L2→L1 message, sent by the frame.
    Message {
        /// The first operand of `log.to_l1`.
        key: U256,
        /// The second operand.
        value: U256,
        /// Whether it is a service message.
        first: bool,
    },
}

/// Why a state cannot be started from.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// More frames than the call stack holds.
    #[error("{frames} frames do not fit the call stack (at most {MAX_CALL_DEPTH})")]
    TooDeep {
        /// How many the state has.
        frames: usize,
    },
    /// The bottom frame below is a near frame: a near frame is a level of a far frame.
    #[error("the bottom frame of a start state must be a far frame")]
    NearAtTheBottom,
}

/// The base page of the `i`-th far frame below the running one.
pub fn far_frame_base_page(i: usize) -> PageId {
    PageId(crate::vm::FIRST_FAR_CALL_BASE_PAGE + 8 * i as u32)
}

impl StartState {
    /// Frames the state puts on the call stack, the running frame included.
    pub fn depth(&self) -> usize {
        self.below.len() + self.near_callers.len() + 1
    }
}

impl Vm {
    /// A VM on `storage` in state `start`, with `bootloader` as the running far frame.
    pub fn with_start(
        bootloader: Bootloader,
        storage: Box<dyn Storage>,
        settings: ChainSettings,
        start: &StartState,
    ) -> Result<Vm, StartError> {
        // One entry is the formal bottom frame.
        if start.depth() >= MAX_CALL_DEPTH {
            return Err(StartError::TooDeep {
                frames: start.depth(),
            });
        }
        if let Some(StartFrame::Near(_)) = start.below.first() {
            return Err(StartError::NearAtTheBottom);
        }
        let mut vm = Vm::with_storage(bootloader, storage, settings);
        let running = vm.stack.current;
        // Rebuild from the bottom: the frames below, then the running frame again on top.
        vm.stack = crate::state::CallStack::new();
        vm.world = crate::world::VmState::default();
        vm.far_depth = 0;
        let mut far = 0;
        for frame in &start.below {
            match frame {
                StartFrame::Far(f) => {
                    let base = far_frame_base_page(far);
                    far += 1;
                    vm.push_start_far(far_frame(f, base, running.code_page), &f.memory);
                    vm.apply_changes(&f.changes);
                }
                StartFrame::Near(n) => vm.push_start_near(n),
            }
        }
        vm.memory_page_counter = far_frame_base_page(far).0;
        let innermost = NearStart {
            pc: 0,
            sp: start.sp,
            exception_handler: start.exception_handler,
            ergs: running.ergs,
            total_pubdata_spent: 0,
            changes: start.changes.clone(),
        };
        match start.near_callers.split_first() {
            None => {
                let mut f = running;
                f.sp = start.sp;
                f.exception_handler = start.exception_handler;
                vm.push_start_far(f, &start.memory);
                vm.apply_changes(&start.changes);
            }
            Some((outermost, callers)) => {
                let mut f = running;
                (f.pc, f.sp, f.ergs) = (outermost.pc, outermost.sp, outermost.ergs);
                f.exception_handler = outermost.exception_handler;
                f.total_pubdata_spent = outermost.total_pubdata_spent;
                vm.push_start_far(f, &start.memory);
                vm.apply_changes(&outermost.changes);
                for n in callers.iter().chain([&innermost]) {
                    vm.push_start_near(n);
                }
            }
        }
        // On top of what the loaded writes spent.
        vm.pubdata_revert_counter = vm
            .pubdata_revert_counter
            .wrapping_add(start.pubdata_counter);
        vm.context_u128 = start.context_u128_register;
        Ok(vm)
    }

    /// Pushes a far frame, with `memory` on its pages.
    fn push_start_far(&mut self, frame: Frame, memory: &[StartWord]) {
        self.stack.push(frame);
        self.world.start_frame();
        self.far_depth += 1;
        for (page, index, word) in words_on(frame.base_page, memory) {
            self.memory.write_from_host(page, index, word);
        }
    }

    /// Pushes a near frame `n` on top of the current one, as a near call does, and makes its
    /// changes.
    fn push_start_near(&mut self, n: &NearStart) {
        self.stack.push_near();
        let f = &mut self.stack.current;
        f.pc = n.pc;
        f.sp = n.sp;
        f.exception_handler = n.exception_handler;
        f.ergs = n.ergs;
        f.total_pubdata_spent = n.total_pubdata_spent;
        f.is_local = true;
        self.world.start_frame();
        self.apply_changes(&n.changes);
    }

    /// Makes the changes as the current frame: through the same paths as the instructions,
    /// charging no ergs (a write's pubdata is spent, as the instruction spends it).
    fn apply_changes(&mut self, changes: &[WorldChange]) {
        let frame = self.stack.current;
        let tx_number = self.tx_number;
        let key = |key| StorageKey {
            address: frame.this_address,
            key,
        };
        let entry = |key, value, is_first| LogEntry {
            address: frame.this_address,
            key,
            value,
            is_first,
            tx_number,
            shard_id: frame.this_shard_id,
        };
        for change in changes {
            match *change {
                WorldChange::Read { key: k } => {
                    crate::instructions::storage_read(self, key(k));
                }
                WorldChange::Write { key: k, value } => {
                    // The frame spends the write's pubdata, as after the opcode: what the
                    // slot is priced at must be in the counters a revert takes back.
                    let (_, pubdata) = crate::instructions::storage_write(self, key(k), value);
                    self.add_pubdata(pubdata);
                }
                WorldChange::TransientWrite { key: k, value } => {
                    self.world.write_transient(key(k), value);
                }
                WorldChange::Event { key, value, first } => {
                    self.world.record_event(entry(key, value, first));
                }
                WorldChange::Message { key, value, first } => {
                    self.world.record_l2_to_l1_log(entry(key, value, first));
                }
            }
        }
    }
}

fn words_on(base: PageId, words: &[StartWord]) -> Vec<(PageId, u32, TaggedWord)> {
    words
        .iter()
        .map(|w| {
            // Only the stack holds pointers: heap words are plain bytes.
            let word = match w.page {
                FramePage::Stack => w.word,
                _ => TaggedWord::integer(w.word.value),
            };
            (w.page.of(base), w.index, word)
        })
        .collect()
}

fn far_frame(f: &FarStart, base: PageId, code_page: PageId) -> Frame {
    Frame {
        this_address: f.address,
        msg_sender: f.caller,
        code_address: f.address,
        base_page: base,
        code_page,
        sp: f.sp,
        pc: f.pc,
        exception_handler: f.exception_handler,
        ergs: f.ergs,
        this_shard_id: 0,
        caller_shard_id: 0,
        code_shard_id: 0,
        is_static: f.is_static,
        is_local: false,
        context_u128: f.context_u128,
        heap_bound: f.heap_bound,
        aux_heap_bound: f.aux_heap_bound,
        total_pubdata_spent: f.total_pubdata_spent,
        stipend: f.stipend,
        is_kernel: crate::state::is_kernel_address(&f.address),
    }
}
