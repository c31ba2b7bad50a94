//! Deliberate semantic bugs, switched on per thread, so that differential suites can show
//! they catch a wrong VM. The switch is always here; the VM acts on it only when built with
//! the `fault-injection` feature.

use std::cell::Cell;

/// A bug that can be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// `add` returns one more than the sum.
    AddOffByOne,
    /// Heap growth costs no ergs.
    FreeHeapGrowth,
    /// Events and L2→L1 messages survive a reverting frame.
    EventsSurviveRevert,
    /// Storage writes cost no pubdata.
    WritesCostNoPubdata,
    /// `log.precompile` takes none of the extra ergs its caller names.
    FreePrecompiles,
    /// The operator offers one more than the bootloader's refund.
    RefundOffByOne,
    /// The operator's pubdata leaves out the last state diff.
    PubdataDropsLastDiff,
    /// Rolling back to an operator snapshot keeps the events emitted since.
    RollbackKeepsEvents,
    /// The protocol transaction encoding (shared by both operators) adds one to the nonce.
    TxEncodingNonceOffByOne,
    /// eravm's operator writes the closing (fictive) L2 block one second late.
    FictiveBlockTimestampOffByOne,
    /// A far return resumes its caller with the stack pointer at 0.
    FarReturnLosesCallerSp,
    /// A far return resumes its caller as a frame that may change the world.
    FarReturnClearsStatic,
    /// A far return into a near frame resumes it as the far frame's own level.
    FarReturnForgetsNearLevel,
    /// A reverting frame leaves its pubdata in the VM's counter.
    RevertKeepsFramePubdata,
    /// A far return resumes its caller with the callee's context value.
    FarReturnTakesCalleeContext,
    /// A far return resumes its caller with the callee's kernel mode.
    FarReturnTakesCalleeKernelMode,
    /// A far return resumes its caller with the callee's `msg.sender`.
    FarReturnTakesCalleeSender,
    /// A far return resumes its caller with the callee's heap bound.
    FarReturnTakesCalleeHeapBound,
    /// `context.meta` reports the frame's pubdata spending instead of the VM's counter.
    MetaReportsFramePubdata,
    /// A near frame that returns ok keeps its pubdata spending from its caller.
    NearReturnKeepsCalleePubdata,
    /// A far return hands the callee's stipend back to the caller with its other ergs.
    FarReturnReturnsStipend,
    /// A return from deeper than 16 frames hands no ergs back (as a call stack with 16
    /// entries inline and the rest elsewhere might get wrong).
    DeepReturnDropsErgs,
    /// A reverting frame also undoes what its caller changed before calling it.
    RevertUndoesCallerChanges,
    /// A far return resumes its caller with the callee's aux heap bound.
    FarReturnTakesCalleeAuxHeapBound,
    /// A far return that succeeds replaces its caller's pubdata spending with the callee's
    /// instead of adding to it.
    FarReturnReplacesCallerPubdata,
    /// A near return resumes its caller with no pubdata spent before the call.
    NearReturnForgetsCallerPubdata,
    /// A far return resumes its caller with the pointer tags of its stack cleared (as a
    /// stack keeping its tags in a bitmap per frame might).
    FarReturnUntagsCallerStack,
    /// Rolling back to an operator snapshot keeps the bytecodes decommitted since (a later
    /// far call to one of them is then charged nothing for it).
    RollbackKeepsDecommits,
    /// A near call saves its caller's ergs one too high (seen when the callee returns).
    NearCallSavesCallerErgsOffByOne,
    /// `context.set_context_u128` sets one more than its operand (seen at the next far call,
    /// or at the end).
    SetContextU128OffByOne,
    /// The pubdata encoding every operator of ours shares leaves out the last state diff
    /// (the L1 messenger does not check diffs when no DA validator is named, so only an
    /// independent operator sees it).
    SharedPubdataDropsLastDiff,
    /// The refund rule every operator of ours shares offers one gas more (one-transaction
    /// runs, where the operator computes a refund).
    SharedRefundOffByOne,
}

thread_local! {
    static ACTIVE: Cell<Option<Fault>> = const { Cell::new(None) };
}

/// Whether `fault` is switched on for this thread.
pub fn is_active(fault: Fault) -> bool {
    ACTIVE.with(|active| active.get() == Some(fault))
}

/// The fault switched on in this thread, if any: what a thread it starts must inherit.
pub fn active() -> Option<Fault> {
    ACTIVE.with(Cell::get)
}

/// Runs `f` with `fault` (if any) switched on in this thread, as in the thread that started
/// it (see [`active`]).
pub fn inherit<T>(fault: Option<Fault>, f: impl FnOnce() -> T) -> T {
    match fault {
        Some(fault) => with_fault(fault, f),
        None => f(),
    }
}

/// Runs `f` with `fault` switched on in this thread.
pub fn with_fault<T>(fault: Fault, f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            ACTIVE.with(|active| active.set(None));
        }
    }
    ACTIVE.with(|active| active.set(Some(fault)));
    let _reset = Reset;
    f()
}
