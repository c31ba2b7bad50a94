//! A case's start state (`start`): frames below the first one, the words on their pages and
//! what they changed in the world, built directly instead of reached by running
//! (`docs/case-format.md`, `docs/arbitrary-states.md`).

use eravm::{TaggedWord, U256};
use serde::{Deserialize, Serialize};

use crate::hex::{Address, Word};

/// Most frames a start state may hold (the call stack holds 1,024 with the bootloader).
pub const MAX_START_FRAMES: usize = 1_000;
/// Most words on pages, and most changes, a start state may hold altogether.
pub const MAX_START_ITEMS: usize = 1 << 16;
/// Heap words are addressed by 32-bit byte offsets.
const HEAP_WORDS: u32 = 1 << 27;

/// The state a case starts from; the case's own frame settings, registers and flags are the
/// running frame's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Start {
    /// Frames below the running far frame, bottom first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub below: Vec<StartFrame>,
    /// Near callers inside the running far frame, outermost first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub near_callers: Vec<NearFrame>,
    /// Words on the running frame's pages.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub memory: Vec<MemoryWord>,
    /// What the running frame changed before the state was taken.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// The VM's pubdata counter.
    #[serde(skip_serializing_if = "is_zero")]
    pub pubdata_counter: i32,
    /// The value `context.set_context_u128` left for the next far call.
    #[serde(skip_serializing_if = "Word::is_zero")]
    pub context_u128_register: Word,
    /// The running frame's stack pointer.
    #[serde(skip_serializing_if = "is_zero")]
    pub sp: u16,
    /// The running frame's exception handler: where its caller resumes if it fails.
    #[serde(skip_serializing_if = "is_zero")]
    pub exception_handler: u16,
}

fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// A frame below the running one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StartFrame {
    Far(FarFrame),
    Near(NearFrame),
}

/// A far frame below, as it was when it called the frame above.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FarFrame {
    pub address: Address,
    pub caller: Address,
    pub pc: u16,
    pub sp: u16,
    pub exception_handler: u16,
    pub ergs: u32,
    #[serde(default)]
    pub is_static: bool,
    pub heap_bound: u32,
    pub aux_heap_bound: u32,
    #[serde(default, skip_serializing_if = "Word::is_zero")]
    pub context_u128: Word,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stipend: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total_pubdata_spent: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memory: Vec<MemoryWord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
}

/// The caller's part of a near call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NearFrame {
    pub pc: u16,
    pub sp: u16,
    pub exception_handler: u16,
    pub ergs: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total_pubdata_spent: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
}

/// Which page of its frame a word is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Page {
    Stack,
    Heap,
    AuxHeap,
}

/// A word on a frame's page; only stack words can be pointers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryWord {
    pub page: Page,
    pub index: u32,
    pub value: Word,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pointer: bool,
}

/// A change a frame made to the world (its own slots; its own events and messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum Change {
    Read { key: Word },
    Write { key: Word, value: Word },
    TransientWrite { key: Word, value: Word },
    Event { key: Word, value: Word, first: bool },
    Message { key: Word, value: Word, first: bool },
}

impl Start {
    /// Frames it puts on the call stack, the running one included.
    pub fn depth(&self) -> usize {
        self.below.len() + self.near_callers.len() + 1
    }

    /// Far frames below the running one.
    pub fn far_frames(&self) -> impl Iterator<Item = &FarFrame> {
        self.below.iter().filter_map(|f| match f {
            StartFrame::Far(f) => Some(f),
            StartFrame::Near(_) => None,
        })
    }

    /// Every change of every frame, bottom first.
    pub fn all_changes(&self) -> impl Iterator<Item = &Change> {
        self.below
            .iter()
            .flat_map(|f| match f {
                StartFrame::Far(f) => f.changes.iter(),
                StartFrame::Near(n) => n.changes.iter(),
            })
            .chain(self.near_callers.iter().flat_map(|n| n.changes.iter()))
            .chain(self.changes.iter())
    }

    /// The first field that makes the state unusable, and why.
    pub fn check(&self) -> Result<(), (String, String)> {
        if self.depth() > MAX_START_FRAMES {
            return Err((
                "start.below".into(),
                format!("at most {MAX_START_FRAMES} frames"),
            ));
        }
        let items = self.all_changes().count()
            + self.memory.len()
            + self.far_frames().map(|f| f.memory.len()).sum::<usize>();
        if items > MAX_START_ITEMS {
            return Err((
                "start".into(),
                format!("at most {MAX_START_ITEMS} memory words and changes altogether"),
            ));
        }
        if let Some(StartFrame::Near(_)) = self.below.first() {
            return Err((
                "start.below[0]".into(),
                "the bottom frame must be far: a near frame is a level of the far frame below it"
                    .into(),
            ));
        }
        self.check_pubdata()?;
        check_words(&self.memory, "start.memory")?;
        for (i, frame) in self.below.iter().enumerate() {
            if let StartFrame::Far(f) = frame {
                check_words(&f.memory, &format!("start.below[{i}].far.memory"))?;
            }
        }
        Ok(())
    }

    /// The state for eravm.
    pub fn to_vm(&self) -> eravm::StartState {
        eravm::StartState {
            below: self
                .below
                .iter()
                .map(|f| match f {
                    StartFrame::Far(f) => eravm::StartFrame::Far(f.to_vm()),
                    StartFrame::Near(n) => eravm::StartFrame::Near(n.to_vm()),
                })
                .collect(),
            near_callers: self.near_callers.iter().map(NearFrame::to_vm).collect(),
            memory: self.memory.iter().map(|w| w.to_vm()).collect(),
            changes: self.changes.iter().map(|c| c.to_vm()).collect(),
            pubdata_counter: self.pubdata_counter,
            context_u128_register: self.context_u128_register.0.low_u128(),
            sp: self.sp,
            exception_handler: self.exception_handler,
        }
    }
}

impl Start {
    /// Pubdata a frame spends counts in the VM's counter too, and a reverting frame takes its
    /// own back: so the counter is the sum of every frame's spending, and no frame's revert can
    /// take it below zero (zk_evm asserts both). Every other state is out of the protocol's
    /// reach.
    fn check_pubdata(&self) -> Result<(), (String, String)> {
        let mut sum = 0i64;
        for (i, spent) in self.spending().enumerate() {
            sum += spent as i64;
            if sum < 0 {
                return Err((
                    self.spending_field(i),
                    "the frames' spending, summed from the bottom, cannot fall below zero".into(),
                ));
            }
        }
        if sum != self.pubdata_counter as i64 {
            return Err((
                "start.pubdata_counter".into(),
                format!("must be the frames' spending summed ({sum})"),
            ));
        }
        Ok(())
    }

    /// What each frame below the running one spent (`total_pubdata_spent`), bottom first:
    /// `below`, then `near_callers`.
    pub fn spending(&self) -> impl Iterator<Item = i32> + '_ {
        let below = self.below.iter().map(|f| match f {
            StartFrame::Far(f) => f.total_pubdata_spent,
            StartFrame::Near(n) => n.total_pubdata_spent,
        });
        below.chain(self.near_callers.iter().map(|n| n.total_pubdata_spent))
    }

    /// The same, to change.
    pub fn spending_mut(&mut self) -> impl Iterator<Item = &mut i32> + '_ {
        let below = self.below.iter_mut().map(|f| match f {
            StartFrame::Far(f) => &mut f.total_pubdata_spent,
            StartFrame::Near(n) => &mut n.total_pubdata_spent,
        });
        below.chain(
            self.near_callers
                .iter_mut()
                .map(|n| &mut n.total_pubdata_spent),
        )
    }

    /// The field of the `i`-th of [`Start::spending`].
    fn spending_field(&self, i: usize) -> String {
        match self.below.get(i) {
            Some(StartFrame::Far(_)) => format!("start.below[{i}].far.total_pubdata_spent"),
            Some(StartFrame::Near(_)) => format!("start.below[{i}].near.total_pubdata_spent"),
            None => format!(
                "start.near_callers[{}].total_pubdata_spent",
                i - self.below.len()
            ),
        }
    }
}
fn check_words(words: &[MemoryWord], field: &str) -> Result<(), (String, String)> {
    for (i, w) in words.iter().enumerate() {
        let at = || format!("{field}[{i}]");
        match w.page {
            Page::Stack if w.index > u16::MAX as u32 => {
                return Err((at() + ".index", "the stack has 65,536 words".into()))
            }
            Page::Heap | Page::AuxHeap if w.index >= HEAP_WORDS => {
                return Err((at() + ".index", format!("heaps have {HEAP_WORDS} words")))
            }
            Page::Heap | Page::AuxHeap if w.pointer => {
                return Err((at() + ".pointer", "only stack words can be pointers".into()))
            }
            _ => {}
        }
    }
    Ok(())
}

impl FarFrame {
    fn to_vm(&self) -> eravm::FarStart {
        eravm::FarStart {
            address: self.address.0,
            caller: self.caller.0,
            pc: self.pc,
            sp: self.sp,
            exception_handler: self.exception_handler,
            ergs: self.ergs,
            is_static: self.is_static,
            heap_bound: self.heap_bound,
            aux_heap_bound: self.aux_heap_bound,
            context_u128: self.context_u128.0.low_u128(),
            stipend: self.stipend,
            total_pubdata_spent: self.total_pubdata_spent,
            memory: self.memory.iter().map(|w| w.to_vm()).collect(),
            changes: self.changes.iter().map(|c| c.to_vm()).collect(),
        }
    }
}

impl NearFrame {
    fn to_vm(&self) -> eravm::NearStart {
        eravm::NearStart {
            pc: self.pc,
            sp: self.sp,
            exception_handler: self.exception_handler,
            ergs: self.ergs,
            total_pubdata_spent: self.total_pubdata_spent,
            changes: self.changes.iter().map(|c| c.to_vm()).collect(),
        }
    }
}

impl MemoryWord {
    fn to_vm(self) -> eravm::StartWord {
        eravm::StartWord {
            page: match self.page {
                Page::Stack => eravm::FramePage::Stack,
                Page::Heap => eravm::FramePage::Heap,
                Page::AuxHeap => eravm::FramePage::AuxHeap,
            },
            index: self.index,
            word: TaggedWord {
                value: self.value.0,
                is_pointer: self.pointer,
            },
        }
    }
}

impl Change {
    fn to_vm(self) -> eravm::WorldChange {
        let v = |w: Word| -> U256 { w.0 };
        match self {
            Change::Read { key } => eravm::WorldChange::Read { key: v(key) },
            Change::Write { key, value } => eravm::WorldChange::Write {
                key: v(key),
                value: v(value),
            },
            Change::TransientWrite { key, value } => eravm::WorldChange::TransientWrite {
                key: v(key),
                value: v(value),
            },
            Change::Event { key, value, first } => eravm::WorldChange::Event {
                key: v(key),
                value: v(value),
                first,
            },
            Change::Message { key, value, first } => eravm::WorldChange::Message {
                key: v(key),
                value: v(value),
                first,
            },
        }
    }
}

/// What a start state holds, for campaign summaries: each variant should run from states with
/// every one of these.
pub const STATE_FEATURES: [&str; 11] = [
    "a journal to roll back",
    "a bounded heap (under 64 KiB)",
    "a deep call stack (17+ frames)",
    "the stack pointer at an edge",
    "a pointer into the heap",
    "a pointer into the aux heap",
    "a pointer into the calldata",
    "a pointer into a frame below",
    "a pointer into another page",
    "a pointer past its end",
    "a shrunk pointer (start > 0)",
];

/// Which of [`STATE_FEATURES`] a case's state has, as a bit mask (0 without a start state).
pub fn state_features(case: &crate::case::Case) -> u16 {
    let Some(start) = &case.start else { return 0 };
    let mut bits = 0u16;
    let mut set = |i: usize, on: bool| bits |= (on as u16) << i;
    set(
        0,
        start
            .all_changes()
            .any(|c| !matches!(c, Change::Read { .. })),
    );
    set(
        1,
        case.frame.heap_bound < 1 << 16 || case.frame.aux_heap_bound < 1 << 16,
    );
    set(2, start.depth() >= 17);
    set(3, start.sp <= 4 || start.sp >= u16::MAX - 2);
    let running = eravm::BOOTLOADER_BASE_PAGE;
    for r in case.registers.iter().filter(|r| r.pointer) {
        let p = eravm::FatPointer::from_u256(&r.value.0);
        let kind = match p.page {
            page if page == running.heap().0 => 4,
            page if page == running.aux_heap().0 => 5,
            page if page == eravm::BOOTLOADER_CALLDATA_PAGE.0 => 6,
            page if page >= eravm::FIRST_FAR_CALL_BASE_PAGE => 7,
            _ => 8,
        };
        set(kind, true);
        set(9, p.offset > p.length);
        set(10, p.start > 0);
    }
    bits
}
