//! `ret.ok`, `ret.revert`, `ret.panic`: leaving a near frame or a far frame.

use super::{clear_dst1, HandlerResult};
use crate::decoder::Predecoded;
use crate::fat_pointer::FatPointer;
use crate::opcode::Opcode;
use crate::panic::PanicReason;
use crate::state::{Finished, Flags, Frame, TaggedWord};
use crate::vm::{ExitKind, Vm};

/// Where a far return takes its return data from (byte 28 of the ABI word).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReturnDataSource {
    Heap,
    ForwardPointer,
    AuxHeap,
}

impl ReturnDataSource {
    fn from_abi(abi: &primitive_types::U256) -> ReturnDataSource {
        match (abi.0[3] >> 32) as u8 {
            1 => ReturnDataSource::ForwardPointer,
            2 => ReturnDataSource::AuxHeap,
            // 0, and anything unknown.
            _ => ReturnDataSource::Heap,
        }
    }
}

/// Its only operand is a register (no addressing modes), read only by a far return; a
/// return accepts a pointer there, so the tag is never erased.
pub(super) fn ret(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    // Near returns are the common case: kept free of the far return's work.
    if vm.stack.current.is_local {
        execute::<true>(vm, d);
    } else {
        far_ret(vm, d);
    }
    clear_dst1(vm, &d.ins);
    Ok(())
}

#[inline(never)]
fn far_ret(vm: &mut Vm, d: &Predecoded) {
    execute::<false>(vm, d);
    vm.recheck();
}

/// `LOCAL`: the current frame is a near frame.
#[inline(always)]
fn execute<const LOCAL: bool>(vm: &mut Vm, d: &Predecoded) {
    let ins = &d.ins;
    vm.flags = 0;
    let mut kind = match ins.opcode {
        Opcode::RetOk => ExitKind::Ok,
        Opcode::RetRevert => ExitKind::Revert,
        _ => ExitKind::Panic,
    };
    let frame = &vm.stack.current;
    let mut ergs = frame.ergs;
    let mut turned = None;

    // A far return validates and prices the return data slice first.
    let return_data = if LOCAL {
        None
    } else {
        let (returned, ergs_left, why) =
            far_return_data(frame, vm.registers.get(ins.src0), kind, ergs);
        ergs = ergs_left;
        if why.is_some() {
            kind = ExitKind::Panic;
        }
        turned = why;
        Some(returned)
    };
    if kind == ExitKind::Panic {
        vm.record_panic(ins.opcode, turned);
    }

    let rolled_back = kind != ExitKind::Ok;
    #[cfg(feature = "fault-injection")]
    let callee = vm.stack.current;
    let Some(finished) = vm.finish_frame(rolled_back) else {
        return;
    };

    if let Some(return_data) = return_data {
        let depth = (vm.far_depth.clamp(1, 3) - 1) as usize;
        vm.far_exits[kind as usize][depth] += 1;
        vm.far_depth = vm.far_depth.saturating_sub(1);
        vm.registers
            .set(1, TaggedWord::pointer(return_data.to_u256()));
        for r in 2..=15 {
            vm.registers.set(r, TaggedWord::ZERO);
        }
        vm.context_u128 = 0;
        #[cfg(feature = "fault-injection")]
        let stipend = if crate::faults::is_active(crate::faults::Fault::FarReturnReturnsStipend) {
            0
        } else {
            finished.stipend
        };
        #[cfg(not(feature = "fault-injection"))]
        let stipend = finished.stipend;
        ergs = ergs.saturating_sub(stipend);
        #[cfg(feature = "fault-injection")]
        inject_far_return_faults(&mut vm.stack.current, &callee);
        #[cfg(feature = "fault-injection")]
        if crate::faults::is_active(crate::faults::Fault::FarReturnUntagsCallerStack) {
            untag_stack(vm);
        }
        if vm.stack.has_ended() {
            vm.set_exit(kind, return_data);
        }
    }

    #[cfg(feature = "fault-injection")]
    if vm.stack.depth() >= 16 && crate::faults::is_active(crate::faults::Fault::DeepReturnDropsErgs)
    {
        ergs = 0;
    }
    let to_label = ins.first_modifier() && finished.is_local;
    let next = &mut vm.stack.current;
    next.ergs = next.ergs.wrapping_add(ergs);
    if to_label {
        next.pc = ins.imm0;
    } else if rolled_back {
        next.pc = finished.exception_handler;
    }
    if finished.is_local {
        // Heap growth inside a near call belongs to the whole far frame.
        next.heap_bound = finished.heap_bound;
        next.aux_heap_bound = finished.aux_heap_bound;
    }
    if kind == ExitKind::Panic {
        vm.flags = Flags {
            lt_of: true,
            eq: false,
            gt: false,
        }
        .bits();
    }
}

/// Checks the return data ABI of a far return and charges for heap growth. Returns the
/// pointer handed to the caller, the ergs left and, if a malformed ABI or the growth's
/// price turns the return into a panic, why.
fn far_return_data(
    frame: &Frame,
    abi: TaggedWord,
    kind: ExitKind,
    mut ergs: u32,
) -> (FatPointer, u32, Option<PanicReason>) {
    let mut why = None;
    let source = ReturnDataSource::from_abi(&abi.value);
    let mut pointer = FatPointer::from_u256(&abi.value);

    if source == ReturnDataSource::ForwardPointer {
        if !abi.is_pointer {
            why = Some(PanicReason::ReturnData);
        }
        // Outside the kernel, return data may not be forwarded from pages older than the
        // frame (its own calldata), which the caller could still change.
        if pointer.page < frame.base_page.0 && !frame.is_kernel() {
            why = Some(PanicReason::ReturnData);
        }
    } else if abi.is_pointer {
        why = Some(PanicReason::ReturnData);
    }
    // A fresh slice of the frame's own heap must start at offset 0.
    let fresh_with_offset = source != ReturnDataSource::ForwardPointer && pointer.offset != 0;
    let overflows = pointer.overflows();
    if fresh_with_offset || overflows || !pointer.is_valid_slice() {
        why = Some(PanicReason::ReturnData);
    }
    let panics = kind == ExitKind::Panic || why.is_some();
    if panics {
        pointer = FatPointer::default();
    }

    if !panics {
        match source {
            ReturnDataSource::ForwardPointer => {
                pointer.start = pointer.start.wrapping_add(pointer.offset);
                pointer.length = pointer.length.wrapping_sub(pointer.offset);
                pointer.offset = 0;
            }
            ReturnDataSource::Heap => pointer.page = frame.base_page.heap().0,
            ReturnDataSource::AuxHeap => pointer.page = frame.base_page.aux_heap().0,
        }
    }

    let growth = match source {
        ReturnDataSource::ForwardPointer => 0,
        ReturnDataSource::Heap | ReturnDataSource::AuxHeap => {
            // A slice past the addressable range is charged as if it grew the heap to the end.
            let end = if overflows {
                u32::MAX
            } else {
                pointer.start + pointer.length
            };
            let bound = if source == ReturnDataSource::Heap {
                frame.heap_bound
            } else {
                frame.aux_heap_bound
            };
            end.saturating_sub(bound)
        }
    };
    if ergs >= growth {
        ergs -= growth;
    } else {
        ergs = 0;
        why.get_or_insert(PanicReason::ReturnDataOutOfErgs);
        pointer = FatPointer::default();
    }
    (pointer, ergs, why)
}

#[cfg(feature = "fault-injection")]
fn untag_stack(vm: &mut Vm) {
    let page = vm.stack.current.base_page.stack();
    let words = vm
        .memory
        .page(page)
        .map(crate::memory::Page::nonzero_words)
        .unwrap_or_default();
    for (i, w) in words.into_iter().filter(|(_, w)| w.is_pointer) {
        vm.memory
            .write_from_host(page, i, TaggedWord::integer(w.value));
    }
}

#[cfg(feature = "fault-injection")]
fn inject_far_return_faults(caller: &mut crate::state::Frame, callee: &crate::state::Frame) {
    use crate::faults::{is_active, Fault};
    if is_active(Fault::FarReturnLosesCallerSp) {
        caller.sp = 0;
    }
    if is_active(Fault::FarReturnClearsStatic) {
        caller.is_static = false;
    }
    if is_active(Fault::FarReturnForgetsNearLevel) {
        caller.is_local = false;
    }
    if is_active(Fault::FarReturnTakesCalleeContext) {
        caller.context_u128 = callee.context_u128;
    }
    if is_active(Fault::FarReturnTakesCalleeKernelMode) {
        caller.is_kernel = callee.is_kernel;
    }
    if is_active(Fault::FarReturnTakesCalleeSender) {
        caller.msg_sender = callee.msg_sender;
    }
    if is_active(Fault::FarReturnTakesCalleeHeapBound) {
        caller.heap_bound = callee.heap_bound;
    }
    if is_active(Fault::FarReturnTakesCalleeAuxHeapBound) {
        caller.aux_heap_bound = callee.aux_heap_bound;
    }
}

impl Vm {
    /// Pops the current frame, settling its pubdata with the caller. `None` if no frame is
    /// left to pop.
    #[inline(always)]
    pub(crate) fn finish_frame(&mut self, rolled_back: bool) -> Option<Finished> {
        let finished = self.stack.pop()?;
        self.world.finish_frame(rolled_back);
        let caller = &mut self.stack.current;
        #[cfg(feature = "fault-injection")]
        let rolled_back_pubdata =
            rolled_back && !crate::faults::is_active(crate::faults::Fault::RevertKeepsFramePubdata);
        #[cfg(not(feature = "fault-injection"))]
        let rolled_back_pubdata = rolled_back;
        if rolled_back_pubdata {
            self.pubdata_revert_counter -= finished.total_pubdata_spent;
        } else if !rolled_back {
            #[cfg(feature = "fault-injection")]
            if finished.is_local
                && crate::faults::is_active(crate::faults::Fault::NearReturnKeepsCalleePubdata)
            {
                return Some(finished);
            }
            #[cfg(feature = "fault-injection")]
            if !finished.is_local
                && crate::faults::is_active(crate::faults::Fault::FarReturnReplacesCallerPubdata)
            {
                caller.total_pubdata_spent = 0;
            }
            caller.total_pubdata_spent += finished.total_pubdata_spent;
        }
        Some(finished)
    }
}
