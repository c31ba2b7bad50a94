//! Ergs, EraVM's gas: the unit, the price list and the limits derived from it.

/// An amount of ergs. The VM keeps ergs per frame in a `u32`, and so does this type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ergs(pub u32);

/// Instruction prices of EraVM 1.5, built the way the protocol builds them: one VM cycle
/// costs 4 ergs and each memory permutation the instruction causes costs 1 more.
pub mod prices {
    const VM_CYCLE: u32 = 4;
    const RAM_PERMUTATION: u32 = 1;
    const LOG_DEMUXER: u32 = 1;
    const STORAGE_SORTER: u32 = 2;
    const EVENTS_SORTER: u32 = 1;
    const CODE_DECOMMITMENT_SORTER: u32 = 1;
    const TRANSIENT_STORE_CHECKER: u32 = 2;
    const CALL_LIKE: u32 = 20;
    const STORAGE_READ_IO: u32 = 150;
    const EVENT_IO: u32 = 25;
    const L1_MESSAGE_IO: u32 = 100;
    const COLD_READ: u32 = 2000;
    const COLD_WRITE: u32 = 5500;
    const WARM_READ: u32 = 30;
    const WARM_WRITE: u32 = 60;

    /// An undecodable word burns every erg of the frame.
    pub const INVALID: u32 = u32::MAX;
    /// Instructions whose operands may live on the stack.
    pub const RICH_ADDRESSING: u32 = VM_CYCLE + 2 * RAM_PERMUTATION;
    pub const AVERAGE: u32 = VM_CYCLE + RAM_PERMUTATION;
    pub const NEAR_CALL: u32 = AVERAGE + CALL_LIKE;
    pub const FAR_CALL: u32 = 2 * VM_CYCLE
        + RAM_PERMUTATION
        + STORAGE_READ_IO
        + CALL_LIKE
        + STORAGE_SORTER
        + CODE_DECOMMITMENT_SORTER
        + LOG_DEMUXER;
    pub const HEAP_READ: u32 = VM_CYCLE + 3 * RAM_PERMUTATION;
    pub const HEAP_WRITE: u32 = 2 * VM_CYCLE + 5 * RAM_PERMUTATION;
    pub const STORAGE_READ: u32 =
        VM_CYCLE + RAM_PERMUTATION + LOG_DEMUXER + STORAGE_SORTER + COLD_READ;
    pub const STORAGE_WRITE: u32 =
        VM_CYCLE + RAM_PERMUTATION + 2 * LOG_DEMUXER + 2 * STORAGE_SORTER + COLD_WRITE;
    pub const L1_MESSAGE: u32 =
        L1_MESSAGE_IO + VM_CYCLE + RAM_PERMUTATION + 2 * LOG_DEMUXER + 2 * EVENTS_SORTER;
    pub const EVENT: u32 =
        EVENT_IO + VM_CYCLE + RAM_PERMUTATION + 2 * LOG_DEMUXER + 2 * EVENTS_SORTER;
    pub const PRECOMPILE_CALL: u32 = VM_CYCLE + RAM_PERMUTATION + LOG_DEMUXER;
    pub const DECOMMIT: u32 = VM_CYCLE + RAM_PERMUTATION + CODE_DECOMMITMENT_SORTER;
    pub const TRANSIENT_STORAGE_READ: u32 =
        VM_CYCLE + RAM_PERMUTATION + LOG_DEMUXER + TRANSIENT_STORE_CHECKER + WARM_READ;
    pub const TRANSIENT_STORAGE_WRITE: u32 =
        VM_CYCLE + RAM_PERMUTATION + 2 * LOG_DEMUXER + 2 * TRANSIENT_STORE_CHECKER + WARM_WRITE;

    /// Cost of one byte of heap growth.
    pub const MEMORY_GROWTH_PER_BYTE: u32 = 1;
    pub(crate) const CALL_LIKE_COST: u32 = CALL_LIKE;
}

/// Ergs the bootloader frame may hold at most.
pub const MAX_INITIAL_FRAME_ERGS: u32 = u32::MAX;

/// The deepest the call stack may grow (near and far frames together), counting the
/// formal frame below the bootloader. Deep enough that ergs run out first in practice.
pub const MAX_CALL_DEPTH: usize = (MAX_INITIAL_FRAME_ERGS / prices::CALL_LIKE_COST + 80) as usize;
