//! Why a frame panicked: every way EraVM turns a cycle into `ret.panic`, named.
//!
//! The VM records the reason of the latest panic ([`crate::Vm::last_panic`]); it changes
//! nothing it computes. zk_evm and vm2 keep only that a panic is pending, so a harness can
//! show the reason eravm gives beside the others' state, not compare it.

use std::fmt;

/// The reason a frame panicked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PanicReason {
    /// The program ran `ret.panic`.
    Explicit,
    /// The instruction's price was more than the frame's ergs.
    OutOfErgs,
    /// A call with the call stack full (every instruction faults until a frame returns).
    CallStackFull,
    /// The `invalid` instruction, or an encoding no instruction has.
    InvalidInstruction,
    /// A kernel-only instruction in a user frame.
    KernelOnly,
    /// A state-changing instruction in a static frame.
    StaticViolation,
    /// `ptr.*` with an integer as the pointer, or a pointer as the integer operand.
    PointerOperands,
    /// `ptr.add` / `ptr.sub` by 2^32 or more, or to an offset outside 32 bits.
    PointerOffsetOutOfRange,
    /// `ptr.pack` with a second operand whose low 128 bits are not zero.
    PointerPackLowBits,
    /// `ptr.shrink` by more than the slice's length.
    PointerShrinkPastLength,
    /// A read through a fat pointer (`ld`) from an integer.
    ReadFromInteger,
    /// A heap offset beyond 2^32 − 32, or an access ending past 2^32.
    HeapOffsetOutOfRange,
    /// Growing the heap cost more than the frame had.
    HeapGrowthOutOfErgs,
    /// A far call to a shard other than the rollup's.
    FarCallShard,
    /// A far call whose callee has no code it may run (from a kernel caller: no code, a
    /// malformed hash, or one being constructed when not constructing).
    FarCallCodeHash,
    /// A far call whose calldata ABI is malformed (the pointer flag against the tag, a fresh
    /// slice with an offset, a slice past 2^32).
    FarCallCalldata,
    /// A far call that could not pay for the calldata's heap growth, the msg.value
    /// simulator's extra ergs, or decommitting the callee's code.
    FarCallOutOfErgs,
    /// A far return whose return data ABI is malformed (forwarding an integer, or from a page
    /// older than the frame in user mode; a fresh slice tagged or with an offset; past 2^32).
    ReturnData,
    /// A far return that could not pay for its return data's heap growth.
    ReturnDataOutOfErgs,
}

impl PanicReason {
    /// The reason in a few words, for reports.
    pub const fn describe(self) -> &'static str {
        use PanicReason::*;
        match self {
            Explicit => "ret.panic",
            OutOfErgs => "out of ergs for the instruction",
            CallStackFull => "call stack full",
            InvalidInstruction => "invalid instruction",
            KernelOnly => "kernel-only instruction in user mode",
            StaticViolation => "state change in a static frame",
            PointerOperands => "ptr.*: src0 not a pointer, or src1 a pointer",
            PointerOffsetOutOfRange => "ptr.add/ptr.sub: offset out of range",
            PointerPackLowBits => "ptr.pack: low 128 bits of src1 not zero",
            PointerShrinkPastLength => "ptr.shrink: more than the length",
            ReadFromInteger => "ld: the pointer operand is an integer",
            HeapOffsetOutOfRange => "heap offset out of range",
            HeapGrowthOutOfErgs => "out of ergs for heap growth",
            FarCallShard => "far call to another shard",
            FarCallCodeHash => "far call: the callee has no code it may run",
            FarCallCalldata => "far call: malformed calldata ABI",
            FarCallOutOfErgs => "far call: out of ergs (heap growth, extra ergs or decommit)",
            ReturnData => "far return: malformed return data ABI",
            ReturnDataOutOfErgs => "far return: out of ergs for heap growth",
        }
    }
}

impl fmt::Display for PanicReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A panic that happened: the cycle whose `ret.panic` ended the frame (counting from 1, as
/// traces do), the call depth before it, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Panic {
    /// The cycle of the `ret.panic`, from 1.
    pub cycle: u64,
    /// The call depth before it (near and far frames).
    pub depth: usize,
    /// Why.
    pub reason: PanicReason,
}
