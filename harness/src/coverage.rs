//! Behaviour coverage: the semantic corners of EraVM a run reached, beside the opcode
//! variants it executed.
//!
//! A variant can run a million times and never once end a frame that has changes to roll
//! back, or read a heap word that straddles its bound. [`Corner`] names each such case:
//! how frames end, where memory accesses and passed slices fall against their bounds, what
//! kind of pointer reaches which kind of page, and the refund and pubdata case of each
//! storage access. [`CornerProbe`] classifies eravm's cycles (coverage is eravm's view, as
//! variant counts are); campaigns add up the counts and say which corners stayed at zero.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::Serialize;

use eravm::{FatPointer, Frame, Opcode, Peek, StorageKey, TaggedWord, Vm, U256};

/// How a frame ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndKind {
    Ok,
    Revert,
    Panic,
}

/// What ended it: a return instruction (near ones may go to a label) or a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndCause {
    Return,
    ReturnToLabel,
    Exception,
}

/// A frame's heap or aux heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HeapKind {
    Heap,
    AuxHeap,
}

impl HeapKind {
    fn bound(self, frame: &Frame) -> u32 {
        match self {
            HeapKind::Heap => frame.heap_bound,
            HeapKind::AuxHeap => frame.aux_heap_bound,
        }
    }
}

/// Where a 32-byte heap access falls against the heap's bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    /// Ends before the bound.
    Inside,
    /// Its last byte is the last byte inside the bound.
    EndsAtBound,
    /// Starts inside, ends past the bound (grows the heap).
    Straddles,
    /// Starts exactly at the bound.
    AtBound,
    /// Starts past the bound.
    PastBound,
    /// Starts beyond the largest offset an access may have (the frame panics).
    BeyondMaximum,
}

/// Where a slice a far call or a return passes on ends against the heap's bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SlicePlace {
    Inside,
    EndsAtBound,
    PastBound,
    /// Offset plus length does not fit in 32 bits (the frame panics).
    Overflows,
}

/// Where a read through a fat pointer falls against the slice's end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PointerPlace {
    Inside,
    /// Starts inside, ends past the slice (the rest reads as zeros).
    Straddles,
    AtEnd,
    PastEnd,
}

/// The shape of a fat pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PointerKind {
    /// A slice from its page's start, offset inside it.
    Whole,
    /// A slice narrowed by forwarding (its start is past 0), offset inside it.
    Narrowed,
    /// Length zero.
    Empty,
    /// Offset equal to the length.
    AtEnd,
    /// Offset past the length.
    PastEnd,
}

/// The kind of page a pointer points into, seen from the running frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PageKind {
    /// Page 0: no memory.
    Null,
    Static,
    BootloaderCalldata,
    OwnHeap,
    OwnAuxHeap,
    /// A heap of a far frame below the running one (calldata, typically).
    EarlierHeap,
    EarlierAuxHeap,
    /// A heap of a frame not on the stack (return data of a finished call, typically).
    LaterHeap,
    LaterAuxHeap,
    Code,
    Stack,
    Other,
}

/// The instruction a pointer operand reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PointerUse {
    Read,
    Add,
    Sub,
    Pack,
    Shrink,
    FarCall,
    Return,
}

/// Far calls pass calldata, returns pass return data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SliceBy {
    FarCall,
    Return,
}

/// Which refund a storage write earns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WriteRefund {
    /// The slot's first access in the run.
    Cold,
    /// Read before, not written.
    AfterRead,
    /// Written before.
    Warm,
    /// A slot the chain does not charge for.
    Free,
}

/// What a storage write costs in pubdata beyond what the slot's current value was priced at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PubdataChange {
    More,
    Same,
    Less,
}

/// One semantic corner of EraVM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Corner {
    /// A near (`far` false) or far frame ended; `changes`: it had changed the world.
    FrameEnd {
        far: bool,
        end: EndKind,
        cause: EndCause,
        changes: bool,
    },
    HeapAccess {
        heap: HeapKind,
        write: bool,
        place: Place,
    },
    Slice {
        by: SliceBy,
        heap: HeapKind,
        place: SlicePlace,
    },
    PointerRead {
        place: PointerPlace,
    },
    Pointer {
        kind: PointerKind,
        page: PageKind,
    },
    /// An integer where a pointer was expected (the frame panics).
    UntaggedPointer {
        by: PointerUse,
    },
    StorageRead {
        warm: bool,
    },
    StorageWrite {
        refund: WriteRefund,
        pubdata: PubdataChange,
    },
}

impl Corner {
    /// Every corner, in a fixed order (their indices in [`CornerCounts`]).
    pub fn all() -> &'static [Corner] {
        static ALL: OnceLock<Vec<Corner>> = OnceLock::new();
        ALL.get_or_init(enumerate)
    }

    /// Its index in [`Corner::all`].
    pub fn index(&self) -> usize {
        Corner::all().binary_search(self).unwrap_or(0)
    }

    /// Why the protocol cannot reach this corner from a batch, if it cannot (only an
    /// arbitrary start state, as the `instructions` target builds, may reach it).
    pub fn unreachable(&self) -> Option<&'static str> {
        match *self {
            Corner::Pointer {
                page: PageKind::Stack | PageKind::Static | PageKind::Other,
                ..
            } => Some("no instruction makes a pointer to this page; only initial registers or a start state hold one"),
            Corner::Pointer {
                page: PageKind::Null,
                kind: PointerKind::Whole | PointerKind::Narrowed | PointerKind::AtEnd,
            } => Some("no instruction makes a non-empty pointer to page 0; only initial registers or a start state hold one"),
            Corner::StorageWrite {
                refund: WriteRefund::Cold | WriteRefund::AfterRead,
                pubdata: PubdataChange::Less,
            } => Some("a slot's first write has paid nothing before, so cannot cost less"),
            Corner::StorageWrite {
                refund: WriteRefund::Free,
                pubdata: PubdataChange::More | PubdataChange::Less,
            } => Some("a free slot costs no pubdata, now or before"),
            _ => None,
        }
    }
}

fn enumerate() -> Vec<Corner> {
    use EndCause::*;
    use EndKind::*;
    let heaps = [HeapKind::Heap, HeapKind::AuxHeap];
    let mut all = Vec::new();
    for far in [false, true] {
        for (end, cause) in [
            (Ok, Return),
            (Ok, ReturnToLabel),
            (Revert, Return),
            (Revert, ReturnToLabel),
            (Panic, Return),
            (Panic, ReturnToLabel),
            (Panic, Exception),
        ] {
            if far && cause == ReturnToLabel {
                continue;
            }
            for changes in [false, true] {
                all.push(Corner::FrameEnd {
                    far,
                    end,
                    cause,
                    changes,
                });
            }
        }
    }
    for heap in heaps {
        for write in [false, true] {
            for place in [
                Place::Inside,
                Place::EndsAtBound,
                Place::Straddles,
                Place::AtBound,
                Place::PastBound,
                Place::BeyondMaximum,
            ] {
                all.push(Corner::HeapAccess { heap, write, place });
            }
        }
    }
    for by in [SliceBy::FarCall, SliceBy::Return] {
        for heap in heaps {
            for place in [
                SlicePlace::Inside,
                SlicePlace::EndsAtBound,
                SlicePlace::PastBound,
                SlicePlace::Overflows,
            ] {
                all.push(Corner::Slice { by, heap, place });
            }
        }
    }
    for place in [
        PointerPlace::Inside,
        PointerPlace::Straddles,
        PointerPlace::AtEnd,
        PointerPlace::PastEnd,
    ] {
        all.push(Corner::PointerRead { place });
    }
    use PageKind as P;
    for page in [
        P::Null,
        P::Static,
        P::BootloaderCalldata,
        P::OwnHeap,
        P::OwnAuxHeap,
        P::EarlierHeap,
        P::EarlierAuxHeap,
        P::LaterHeap,
        P::LaterAuxHeap,
        P::Code,
        P::Stack,
        P::Other,
    ] {
        for kind in [
            PointerKind::Whole,
            PointerKind::Narrowed,
            PointerKind::Empty,
            PointerKind::AtEnd,
            PointerKind::PastEnd,
        ] {
            all.push(Corner::Pointer { kind, page });
        }
    }
    use PointerUse as U;
    for by in [
        U::Read,
        U::Add,
        U::Sub,
        U::Pack,
        U::Shrink,
        U::FarCall,
        U::Return,
    ] {
        all.push(Corner::UntaggedPointer { by });
    }
    for warm in [false, true] {
        all.push(Corner::StorageRead { warm });
    }
    for refund in [
        WriteRefund::Cold,
        WriteRefund::AfterRead,
        WriteRefund::Warm,
        WriteRefund::Free,
    ] {
        for pubdata in [
            PubdataChange::More,
            PubdataChange::Same,
            PubdataChange::Less,
        ] {
            all.push(Corner::StorageWrite { refund, pubdata });
        }
    }
    all.sort();
    all
}

/// Lower-case words joined by dots, e.g. `frame_end.near.panic.exception.with_changes`.
impl fmt::Display for Corner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snake = |d: &dyn fmt::Debug| snake_case(&format!("{d:?}"));
        match self {
            Corner::FrameEnd {
                far,
                end,
                cause,
                changes,
            } => write!(
                f,
                "frame_end.{}.{}.{}.{}",
                if *far { "far" } else { "near" },
                snake(end),
                snake(cause),
                if *changes {
                    "with_changes"
                } else {
                    "no_changes"
                }
            ),
            Corner::HeapAccess { heap, write, place } => write!(
                f,
                "heap_access.{}.{}.{}",
                snake(heap),
                if *write { "write" } else { "read" },
                snake(place)
            ),
            Corner::Slice { by, heap, place } => {
                write!(f, "slice.{}.{}.{}", snake(by), snake(heap), snake(place))
            }
            Corner::PointerRead { place } => write!(f, "pointer_read.{}", snake(place)),
            Corner::Pointer { kind, page } => write!(f, "pointer.{}.{}", snake(kind), snake(page)),
            Corner::UntaggedPointer { by } => write!(f, "untagged_pointer.{}", snake(by)),
            Corner::StorageRead { warm } => {
                write!(f, "storage_read.{}", if *warm { "warm" } else { "cold" })
            }
            Corner::StorageWrite { refund, pubdata } => write!(
                f,
                "storage_write.{}.pubdata_{}",
                snake(refund),
                snake(pubdata)
            ),
        }
    }
}

fn snake_case(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// How often a run reached each corner, indexed as [`Corner::all`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CornerCounts(pub Vec<u64>);

impl CornerCounts {
    pub fn count(&mut self, corner: Corner) {
        if self.0.is_empty() {
            self.0 = vec![0; Corner::all().len()];
        }
        self.0[corner.index()] += 1;
    }

    pub fn add(&mut self, other: &CornerCounts) {
        if self.0.is_empty() {
            self.0 = vec![0; Corner::all().len()];
        }
        for (total, n) in self.0.iter_mut().zip(&other.0) {
            *total += n;
        }
    }

    /// Every corner with its count (zeros included), by name.
    pub fn by_name(&self) -> BTreeMap<String, u64> {
        Corner::all()
            .iter()
            .enumerate()
            .map(|(i, c)| (c.to_string(), self.0.get(i).copied().unwrap_or(0)))
            .collect()
    }

    /// The counts by name, and the corners at zero.
    pub fn report(&self) -> CornerReport {
        let counts = self.by_name();
        let never_reached = at_zero(&counts);
        CornerReport {
            reached: (counts.len() - never_reached.len()) as u64,
            of: counts.len() as u64,
            counts,
            never_reached,
        }
    }
}

/// A corner no run reached, and why the protocol cannot reach it, if it cannot.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct NeverReached {
    pub corner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<&'static str>,
}

/// The corners a campaign (or a corpus) reached, as summaries and `eradiff coverage` show
/// them.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct CornerReport {
    /// Corners reached at least once, of all.
    pub reached: u64,
    pub of: u64,
    /// Every corner with its count.
    pub counts: BTreeMap<String, u64>,
    pub never_reached: Vec<NeverReached>,
}

impl CornerReport {
    /// Writes the corners at zero: first those the protocol can reach, then the others with
    /// why not.
    pub fn write(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(
            out,
            "behaviour corners reached (eravm): {} of {}",
            self.reached, self.of
        )?;
        for n in self
            .never_reached
            .iter()
            .filter(|n| n.unreachable.is_none())
        {
            writeln!(out, "  never: {}", n.corner)?;
        }
        for n in self
            .never_reached
            .iter()
            .filter(|n| n.unreachable.is_some())
        {
            let why = n.unreachable.unwrap_or_default();
            writeln!(
                out,
                "  never: {} (out of the protocol's reach: {why})",
                n.corner
            )?;
        }
        Ok(())
    }
}

/// The corners at zero (or missing) in counts by name, as summaries write them.
pub fn at_zero(counts: &BTreeMap<String, u64>) -> Vec<NeverReached> {
    Corner::all()
        .iter()
        .map(|c| (c, c.to_string()))
        .filter(|(_, name)| counts.get(name).copied().unwrap_or(0) == 0)
        .map(|(c, corner)| NeverReached {
            corner,
            unreachable: c.unreachable(),
        })
        .collect()
}

/// What the probe saw before a cycle.
struct Before {
    peek: Peek,
    frame: Frame,
    depth: usize,
    ended: bool,
    pending_panic: bool,
    changes: usize,
    refunds: usize,
    /// For storage accesses: what the run had done to the slot.
    slot: Option<eravm::world::SlotAccess>,
}

/// Classifies eravm's cycles into corners: [`CornerProbe::before`] and
/// [`CornerProbe::after`] around each one.
#[derive(Default)]
pub struct CornerProbe {
    before: Option<Before>,
    pub counts: CornerCounts,
}

/// The largest heap offset a 32-byte access may start at.
const MAX_HEAP_OFFSET: u64 = u32::MAX as u64 - 32;

impl CornerProbe {
    pub fn before(&mut self, vm: &mut Vm) {
        let peek = vm.peek();
        let frame = *vm.current_frame();
        let slot = matches!(
            peek.instruction.opcode,
            Opcode::StorageRead | Opcode::StorageWrite
        )
        .then(|| {
            // Outside the kernel a pointer's page and start do not reach the key.
            let mut key = peek.src0.value;
            if peek.src0.is_pointer && !frame.is_kernel {
                eravm::fat_pointer::erase_pointer_metadata(&mut key);
            }
            vm.world().access(&StorageKey {
                address: frame.this_address,
                key,
            })
        });
        self.before = Some(Before {
            peek,
            frame,
            depth: vm.call_depth(),
            ended: vm.exit().is_some(),
            pending_panic: vm.pending_panic(),
            changes: vm.world().changes_in_frame(),
            refunds: vm.world().refunds.len(),
            slot,
        });
    }

    pub fn after(&mut self, vm: &Vm) {
        let Some(b) = self.before.take() else { return };
        let executed = vm.last_instruction();
        let ran = !b.pending_panic && executed.opcode == b.peek.instruction.opcode;
        if !b.ended && (vm.call_depth() < b.depth || vm.exit().is_some()) {
            self.frame_end(&b, executed.opcode, ran, vm.flags().lt_of);
        }
        if ran {
            self.instruction(&b, vm);
        }
    }

    /// A return that fails its checks (a malformed slice, say) panics instead: that is a
    /// fault, as is every panic no return instruction asked for.
    fn frame_end(&mut self, b: &Before, executed: Opcode, ran: bool, panicked: bool) {
        let far = !b.frame.is_local;
        let end = match executed {
            Opcode::RetOk if !panicked => EndKind::Ok,
            Opcode::RetRevert if !panicked => EndKind::Revert,
            _ => EndKind::Panic,
        };
        let returned = ran
            && match executed {
                Opcode::RetOk | Opcode::RetRevert => !panicked,
                Opcode::RetPanic => true,
                _ => false,
            };
        let cause = match (returned, b.peek.instruction.first_modifier()) {
            (false, _) => EndCause::Exception,
            (true, true) if !far => EndCause::ReturnToLabel,
            (true, _) => EndCause::Return,
        };
        self.counts.count(Corner::FrameEnd {
            far,
            end,
            cause,
            changes: b.changes > 0,
        });
    }

    fn instruction(&mut self, b: &Before, vm: &Vm) {
        use Opcode::*;
        let src0 = b.peek.src0;
        match b.peek.instruction.opcode {
            HeapRead => self.heap_access(b, HeapKind::Heap, false),
            HeapWrite => self.heap_access(b, HeapKind::Heap, true),
            AuxHeapRead => self.heap_access(b, HeapKind::AuxHeap, false),
            AuxHeapWrite => self.heap_access(b, HeapKind::AuxHeap, true),
            FatPointerRead => {
                if self.pointer(b, vm, src0, PointerUse::Read) {
                    self.counts.count(Corner::PointerRead {
                        place: pointer_place(&FatPointer::from_u256(&src0.value)),
                    });
                }
            }
            PtrAdd => drop(self.pointer(b, vm, src0, PointerUse::Add)),
            PtrSub => drop(self.pointer(b, vm, src0, PointerUse::Sub)),
            PtrPack => drop(self.pointer(b, vm, src0, PointerUse::Pack)),
            PtrShrink => drop(self.pointer(b, vm, src0, PointerUse::Shrink)),
            FarCall | FarCallDelegate | FarCallMimic => {
                self.passed_on(b, vm, src0, SliceBy::FarCall, PointerUse::FarCall)
            }
            RetOk | RetRevert if !b.frame.is_local => {
                self.passed_on(b, vm, src0, SliceBy::Return, PointerUse::Return)
            }
            StorageRead | StorageWrite => self.storage(b, vm),
            _ => {}
        }
    }

    fn heap_access(&mut self, b: &Before, heap: HeapKind, write: bool) {
        let place = heap_place(&b.peek.src0.value, heap.bound(&b.frame) as u64);
        self.counts.count(Corner::HeapAccess { heap, write, place });
    }

    /// Counts a pointer operand; returns whether it was one.
    fn pointer(&mut self, b: &Before, vm: &Vm, word: TaggedWord, by: PointerUse) -> bool {
        if !word.is_pointer {
            self.counts.count(Corner::UntaggedPointer { by });
            return false;
        }
        let pointer = FatPointer::from_u256(&word.value);
        self.counts.count(Corner::Pointer {
            kind: pointer_kind(&pointer),
            page: page_kind(pointer.page, b.frame.base_page.0, |base| {
                is_below(vm, base, b.peek.instruction.opcode)
            }),
        });
        true
    }

    /// A far call's calldata or a far return's return data: a forwarded pointer or a new
    /// slice of the heap or aux heap (byte 28 of the ABI word says which).
    fn passed_on(
        &mut self,
        b: &Before,
        vm: &Vm,
        abi: TaggedWord,
        by: SliceBy,
        pointer_use: PointerUse,
    ) {
        let heap = match (abi.value.0[3] >> 32) as u8 {
            1 => {
                self.pointer(b, vm, abi, pointer_use);
                return;
            }
            2 => HeapKind::AuxHeap,
            _ => HeapKind::Heap,
        };
        let bound = heap.bound(&b.frame);
        let slice = FatPointer::from_u256(&abi.value);
        let place = match slice.offset.checked_add(slice.length) {
            None => SlicePlace::Overflows,
            Some(end) if end < bound => SlicePlace::Inside,
            Some(end) if end == bound => SlicePlace::EndsAtBound,
            Some(_) => SlicePlace::PastBound,
        };
        self.counts.count(Corner::Slice { by, heap, place });
    }

    fn storage(&mut self, b: &Before, vm: &Vm) {
        let world = vm.world();
        let (Some(slot), Some(&refund)) = (b.slot, world.refunds.get(b.refunds)) else {
            return;
        };
        if b.peek.instruction.opcode == Opcode::StorageRead {
            self.counts.count(Corner::StorageRead { warm: refund > 0 });
            return;
        }
        let refund = match (slot.written, slot.read, refund) {
            (true, _, _) => WriteRefund::Warm,
            (false, true, _) => WriteRefund::AfterRead,
            (false, false, 0) => WriteRefund::Cold,
            (false, false, _) => WriteRefund::Free,
        };
        let Some(&pubdata) = world.pubdata_costs.last() else {
            return;
        };
        let pubdata = match pubdata.signum() {
            1 => PubdataChange::More,
            0 => PubdataChange::Same,
            _ => PubdataChange::Less,
        };
        self.counts.count(Corner::StorageWrite { refund, pubdata });
    }
}

fn heap_place(offset: &U256, bound: u64) -> Place {
    let too_far = offset.0[1..].iter().any(|&l| l != 0) || offset.0[0] > MAX_HEAP_OFFSET;
    if too_far {
        return Place::BeyondMaximum;
    }
    let (start, end) = (offset.0[0], offset.0[0] + 32);
    if end < bound {
        Place::Inside
    } else if end == bound {
        Place::EndsAtBound
    } else if start < bound {
        Place::Straddles
    } else if start == bound {
        Place::AtBound
    } else {
        Place::PastBound
    }
}

fn pointer_place(p: &FatPointer) -> PointerPlace {
    let (offset, length) = (p.offset as u64, p.length as u64);
    if offset + 32 <= length {
        PointerPlace::Inside
    } else if offset < length {
        PointerPlace::Straddles
    } else if offset == length {
        PointerPlace::AtEnd
    } else {
        PointerPlace::PastEnd
    }
}

fn pointer_kind(p: &FatPointer) -> PointerKind {
    if p.offset > p.length {
        PointerKind::PastEnd
    } else if p.length == 0 {
        PointerKind::Empty
    } else if p.offset == p.length {
        PointerKind::AtEnd
    } else if p.start > 0 {
        PointerKind::Narrowed
    } else {
        PointerKind::Whole
    }
}

/// Whether a far frame with this base page was below the frame that ran `executed`: it
/// is below now, or it is the caller a return went back to.
fn is_below(vm: &Vm, base: u32, executed: Opcode) -> bool {
    let returned = matches!(
        executed,
        Opcode::RetOk | Opcode::RetRevert | Opcode::RetPanic
    );
    (returned && vm.current_frame().base_page.0 == base)
        || vm.call_stack().saved().iter().any(|s| match s {
            eravm::Saved::Far(f) => f.base_page.0 == base,
            eravm::Saved::Near(_) => false,
        })
}

/// Pages 0 to 7 are fixed; from 8 on, each far frame's eight pages begin at its base page:
/// code, stack, heap, aux heap, then four unused. A heap is the running frame's own, one of
/// a frame below it (`below` says, by base page), or neither.
fn page_kind(page: u32, own_base: u32, below: impl Fn(u32) -> bool) -> PageKind {
    const BOOTLOADER_CALLDATA: u32 = eravm::BOOTLOADER_CALLDATA_PAGE.0;
    const STATIC: u32 = eravm::STATIC_MEMORY_PAGE.0;
    match page {
        0 => return PageKind::Null,
        STATIC => return PageKind::Static,
        BOOTLOADER_CALLDATA => return PageKind::BootloaderCalldata,
        p if p < eravm::BOOTLOADER_BASE_PAGE.0 => return PageKind::Other,
        _ => {}
    }
    let base = page & !7;
    let heap = |own, earlier, later| {
        if base == own_base {
            own
        } else if below(base) {
            earlier
        } else {
            later
        }
    };
    match page & 7 {
        0 => PageKind::Code,
        1 => PageKind::Stack,
        2 => heap(
            PageKind::OwnHeap,
            PageKind::EarlierHeap,
            PageKind::LaterHeap,
        ),
        3 => heap(
            PageKind::OwnAuxHeap,
            PageKind::EarlierAuxHeap,
            PageKind::LaterAuxHeap,
        ),
        _ => PageKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_corner_has_its_own_index_and_name() {
        let all = Corner::all();
        for (i, c) in all.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
        let names: std::collections::BTreeSet<String> = all.iter().map(|c| c.to_string()).collect();
        assert_eq!(names.len(), all.len());
        assert!(names.contains("frame_end.near.panic.exception.with_changes"));
        assert!(names.contains("storage_write.after_read.pubdata_same"));
    }

    #[test]
    fn places_at_the_edges() {
        let at = |o: u64, bound: u64| heap_place(&U256::from(o), bound);
        assert_eq!(at(0, 64), Place::Inside);
        assert_eq!(at(32, 64), Place::EndsAtBound);
        assert_eq!(at(33, 64), Place::Straddles);
        assert_eq!(at(64, 64), Place::AtBound);
        assert_eq!(at(65, 64), Place::PastBound);
        assert_eq!(at(MAX_HEAP_OFFSET + 1, 64), Place::BeyondMaximum);
        assert_eq!(heap_place(&(U256::one() << 64), 64), Place::BeyondMaximum);
    }

    #[test]
    fn pages_seen_from_a_frame() {
        let below = |base: u32| base == 8;
        assert_eq!(page_kind(2048 + 2, 2048, below), PageKind::OwnHeap);
        assert_eq!(page_kind(10, 2048, below), PageKind::EarlierHeap);
        assert_eq!(page_kind(2056 + 3, 2048, below), PageKind::LaterAuxHeap);
        assert_eq!(page_kind(2049, 2048, below), PageKind::Stack);
        assert_eq!(page_kind(7, 2048, below), PageKind::BootloaderCalldata);
    }
}
