//! The execution state: registers with pointer tags, flags, and the stack of call frames.

use primitive_types::{H160, U256};

use crate::ergs::MAX_CALL_DEPTH;

/// A 256-bit value with the tag that says whether it is a fat pointer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TaggedWord {
    pub value: U256,
    pub is_pointer: bool,
}

impl TaggedWord {
    pub const ZERO: TaggedWord = TaggedWord {
        value: U256([0; 4]),
        is_pointer: false,
    };

    pub const fn integer(value: U256) -> TaggedWord {
        TaggedWord {
            value,
            is_pointer: false,
        }
    }

    pub const fn pointer(value: U256) -> TaggedWord {
        TaggedWord {
            value,
            is_pointer: true,
        }
    }
}

/// General purpose registers r1–r15; r0 reads as zero and ignores writes.
///
/// Values and pointer tags are kept apart (slot 0 is the always-zero r0), so that reading a
/// register is one indexed load and the hot path copies 32-byte words, not tagged structs.
#[derive(Clone, Debug, Default)]
pub struct Registers {
    values: [U256; 16],
    /// Bit i: ri holds a fat pointer. Bit 0 is never set.
    pointers: u16,
    /// Bit i: ri was written since the last [`Registers::take_written`] (an observer that
    /// looks at the registers after every cycle need only look at these).
    written: u16,
}

/// Equal registers hold the same values and tags; which were written lately is not state.
impl PartialEq for Registers {
    fn eq(&self, other: &Registers) -> bool {
        self.values == other.values && self.pointers == other.pointers
    }
}

impl Eq for Registers {}

impl Registers {
    #[inline(always)]
    pub fn get(&self, index: u8) -> TaggedWord {
        let i = (index & 15) as usize;
        TaggedWord {
            value: self.values[i],
            is_pointer: self.pointers >> i & 1 != 0,
        }
    }

    /// The value of a register without its tag.
    #[inline(always)]
    pub fn value(&self, index: u8) -> U256 {
        self.values[(index & 15) as usize]
    }

    #[inline(always)]
    pub fn set(&mut self, index: u8, word: TaggedWord) {
        let i = (index & 15) as usize;
        if i != 0 {
            self.values[i] = word.value;
            self.pointers = self.pointers & !(1 << i) | (word.is_pointer as u16) << i;
            self.written |= 1 << i;
        }
    }

    /// Writes an integer (clearing the pointer tag).
    #[inline(always)]
    pub fn set_integer(&mut self, index: u8, value: U256) {
        let i = (index & 15) as usize;
        if i != 0 {
            self.values[i] = value;
            self.pointers &= !(1 << i);
            self.written |= 1 << i;
        }
    }

    /// Bit i set: ri holds a fat pointer (bit 0, r0, never is); r1 is bit 1.
    #[inline(always)]
    pub fn pointer_mask(&self) -> u16 {
        self.pointers
    }

    /// Which registers were written since the last call (bit i: ri), and forgets it.
    #[inline(always)]
    pub fn take_written(&mut self) -> u16 {
        std::mem::take(&mut self.written)
    }

    /// Counts every register as written (after they were replaced wholesale).
    pub fn mark_all_written(&mut self) {
        self.written = u16::MAX;
    }

    /// r1..r15 in order.
    pub fn all(&self) -> [TaggedWord; 15] {
        std::array::from_fn(|i| self.get(i as u8 + 1))
    }

    pub fn from_array(words: [TaggedWord; 15]) -> Registers {
        let mut registers = Registers::default();
        for (i, word) in words.into_iter().enumerate() {
            registers.set(i as u8 + 1, word);
        }
        registers
    }
}

/// The three condition flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    /// Less than, or overflow.
    pub lt_of: bool,
    pub eq: bool,
    pub gt: bool,
}

impl Flags {
    /// The flags as a 3-bit index: lt_of, eq, gt from the lowest bit.
    #[inline(always)]
    pub const fn bits(&self) -> u8 {
        self.lt_of as u8 | (self.eq as u8) << 1 | (self.gt as u8) << 2
    }

    /// The flags from their 3-bit index (see [`Flags::bits`]).
    pub const fn from_bits(bits: u8) -> Flags {
        Flags {
            lt_of: bits & 1 != 0,
            eq: bits & 2 != 0,
            gt: bits & 4 != 0,
        }
    }

    pub fn holds(&self, condition: crate::opcode::Condition) -> bool {
        use crate::opcode::Condition::*;
        match condition {
            Always => true,
            Gt => self.gt,
            Lt => self.lt_of,
            Eq => self.eq,
            Ge => self.gt || self.eq,
            Le => self.lt_of || self.eq,
            Ne => !self.eq,
            GtOrLt => self.gt || self.lt_of,
        }
    }
}

/// A memory page number. Each far frame owns four consecutive pages from its base page:
/// code candidate, stack, heap and aux heap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageId(pub u32);

impl PageId {
    pub const fn stack(self) -> PageId {
        PageId(self.0 + 1)
    }
    pub const fn heap(self) -> PageId {
        PageId(self.0 + 2)
    }
    pub const fn aux_heap(self) -> PageId {
        PageId(self.0 + 3)
    }
}

/// One entry of the call stack. Near calls copy the current entry and mark it local.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub this_address: H160,
    pub msg_sender: H160,
    pub code_address: H160,
    pub base_page: PageId,
    pub code_page: PageId,
    pub sp: u16,
    pub pc: u16,
    pub exception_handler: u16,
    pub ergs: u32,
    pub this_shard_id: u8,
    pub caller_shard_id: u8,
    pub code_shard_id: u8,
    pub is_static: bool,
    /// A near-call frame.
    pub is_local: bool,
    pub context_u128: u128,
    pub heap_bound: u32,
    pub aux_heap_bound: u32,
    pub total_pubdata_spent: i32,
    pub stipend: u32,
    /// Whether `this_address` is a kernel (system) address; kept with the frame because
    /// every instruction asks.
    pub is_kernel: bool,
}

impl Frame {
    /// The formal frame below the bootloader: execution has ended when it is current again.
    pub fn below_bootloader() -> Frame {
        Frame {
            this_address: H160::zero(),
            msg_sender: H160::zero(),
            code_address: H160::zero(),
            base_page: PageId(0),
            code_page: PageId(0),
            sp: 0,
            pc: 0,
            exception_handler: 0,
            ergs: 0,
            this_shard_id: 0,
            caller_shard_id: 0,
            code_shard_id: 0,
            is_static: false,
            is_local: false,
            context_u128: 0,
            heap_bound: 0,
            aux_heap_bound: 0,
            total_pubdata_spent: 0,
            stipend: 0,
            is_kernel: true,
        }
    }

    /// Kernel frames are those of system contracts, at addresses below 2^16.
    #[inline(always)]
    pub fn is_kernel(&self) -> bool {
        self.is_kernel
    }
}

pub fn is_kernel_address(address: &H160) -> bool {
    address.as_bytes()[..18].iter().all(|&b| b == 0)
}

/// What a near call saves of its caller. Everything else in the frame is shared with the
/// callee and no instruction changes it before the callee returns (heap bounds are handed
/// back from the callee), so a near call pushes this much instead of a whole frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NearCaller {
    pub pc: u16,
    pub sp: u16,
    pub exception_handler: u16,
    pub is_local: bool,
    pub ergs: u32,
    pub total_pubdata_spent: i32,
}

/// An entry below the current frame: a whole far frame, or the caller's part of a near one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    Far(Frame),
    Near(NearCaller),
}

/// What a return needs to know of the frame it finished.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Finished {
    pub is_local: bool,
    pub exception_handler: u16,
    pub heap_bound: u32,
    pub aux_heap_bound: u32,
    pub total_pubdata_spent: i32,
    pub stipend: u32,
}

/// The call stack: the current frame and the frames below it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallStack {
    pub current: Frame,
    below: Vec<Saved>,
}

impl CallStack {
    pub fn new() -> CallStack {
        CallStack {
            current: Frame::below_bootloader(),
            below: Vec::new(),
        }
    }

    #[inline(always)]
    pub fn depth(&self) -> usize {
        self.below.len()
    }

    #[inline(always)]
    pub fn is_full(&self) -> bool {
        self.depth() == MAX_CALL_DEPTH
    }

    /// Execution has ended once the formal frame below the bootloader is current.
    #[inline(always)]
    pub fn has_ended(&self) -> bool {
        self.below.is_empty()
    }

    /// A near call: the caller's own part of the current frame is saved below, and the
    /// current frame is changed in place into the callee's.
    #[inline]
    pub fn push_near(&mut self) -> &mut Frame {
        let f = &self.current;
        self.below.push(Saved::Near(NearCaller {
            pc: f.pc,
            sp: f.sp,
            exception_handler: f.exception_handler,
            is_local: f.is_local,
            ergs: f.ergs,
            total_pubdata_spent: f.total_pubdata_spent,
        }));
        &mut self.current
    }

    /// The entries below the current frame, bottom first (the formal frame below the
    /// bootloader is the first).
    pub fn saved(&self) -> &[Saved] {
        &self.below
    }

    /// A far call: `frame` becomes current.
    pub fn push(&mut self, frame: Frame) {
        let previous = std::mem::replace(&mut self.current, frame);
        self.below.push(Saved::Far(previous));
    }

    /// Pops the current frame; `None` if only the formal bottom frame is left.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Finished> {
        let f = &self.current;
        let finished = Finished {
            is_local: f.is_local,
            exception_handler: f.exception_handler,
            heap_bound: f.heap_bound,
            aux_heap_bound: f.aux_heap_bound,
            total_pubdata_spent: f.total_pubdata_spent,
            stipend: f.stipend,
        };
        match self.below.last()? {
            Saved::Near(caller) => {
                let f = &mut self.current;
                f.pc = caller.pc;
                f.sp = caller.sp;
                f.exception_handler = caller.exception_handler;
                f.is_local = caller.is_local;
                f.ergs = caller.ergs;
                f.total_pubdata_spent = caller.total_pubdata_spent;
                #[cfg(feature = "fault-injection")]
                if crate::faults::is_active(crate::faults::Fault::NearReturnForgetsCallerPubdata) {
                    f.total_pubdata_spent = 0;
                }
            }
            Saved::Far(frame) => self.current = *frame,
        }
        self.below.truncate(self.below.len() - 1);
        Some(finished)
    }
}

impl Default for CallStack {
    fn default() -> Self {
        CallStack::new()
    }
}
