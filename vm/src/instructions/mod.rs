//! The instructions, one module per opcode family. Each takes the resolved operands and
//! changes the VM; faults found during execution set a pending panic for the next cycle.
//!
//! Every instruction is decoded once into a [`Handler`], specialised by addressing mode (see
//! [`mode`]) so that it reads its operands with no branch on the modes. The simple families
//! (arithmetic, bitwise, jump, nop) read only what they need; near calls, returns and each
//! heap access opcode have handlers of their own; the rest go through [`generic`], which
//! resolves [`Operands`] first and dispatches by family.

mod arith;
mod bitwise;
mod context;
mod far_call;
mod heap;
mod jump;
mod log;
pub(crate) use log::{storage_read, storage_write};
mod near_call;
mod ptr;
mod ret;

use primitive_types::U256;

use crate::decoder::{Instruction, Predecoded};
use crate::fat_pointer::erase_pointer_metadata;
use crate::opcode::{DstMode, Family, Opcode, SrcMode};
use crate::state::TaggedWord;
use crate::vm::{Vm, VmError};

/// Runs one decoded instruction (after the checks before execution passed).
pub(crate) type Handler = fn(&mut Vm, &Predecoded) -> HandlerResult;

/// Boxed, the rare error leaves the common `Ok` a null pointer returned in a register.
pub(crate) type HandlerResult = Result<(), Box<VmError>>;

/// An addressing mode as a const generic: the source mode times 4 plus the destination
/// mode (their declaration orders), so that a handler addresses its operands with no
/// branch on the modes.
pub(crate) const fn mode(src: SrcMode, dst: DstMode) -> u8 {
    (src as u8) << 2 | dst as u8
}

pub(crate) const fn src_mode_of(mode: u8) -> SrcMode {
    match mode >> 2 {
        0 => SrcMode::Reg,
        1 => SrcMode::StackPop,
        2 => SrcMode::StackRelative,
        3 => SrcMode::StackAbsolute,
        4 => SrcMode::Imm,
        _ => SrcMode::CodePage,
    }
}

pub(crate) const fn dst_mode_of(mode: u8) -> DstMode {
    match mode & 3 {
        0 => DstMode::Reg,
        1 => DstMode::StackPush,
        2 => DstMode::StackRelative,
        _ => DstMode::StackAbsolute,
    }
}

/// The handler an instruction is decoded into.
pub(crate) fn handler_for(ins: &Instruction) -> Handler {
    let mode = mode(ins.src0_mode, ins.dst0_mode);
    // Every source mode with every destination mode.
    macro_rules! by_mode {
        ($module:ident :: $handler:ident) => {{
            use $module::$handler as h;
            by_mode!(@arms h; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22)
        }};
        ($handler:ident) => {
            by_mode!(@arms $handler; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22)
        };
        (@arms $h:ident; $($m:literal)*) => {
            match mode {
                $($m => $h::<$m> as Handler,)*
                _ => $h::<23>,
            }
        };
    }
    // Every mode, swapped or not (the opcodes whose operands' order matters).
    macro_rules! by_mode_and_swap {
        ($module:ident :: $handler:ident) => {{
            use $module::$handler as h;
            by_mode_and_swap!(@arms h; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22)
        }};
        (@arms $h:ident; $($m:literal)*) => {
            match (mode, ins.swap_operands()) {
                $(($m, false) => $h::<$m, false> as Handler,)*
                $(($m, true) => $h::<$m, true> as Handler,)*
                (_, false) => $h::<23, false>,
                (_, true) => $h::<23, true>,
            }
        };
    }
    // Every source mode, the destination a register (the opcodes whose variants have no
    // other).
    macro_rules! by_src_mode {
        ($($handler:ident)::+) => {
            match mode {
                0 => $($handler)::+::<0> as Handler,
                4 => $($handler)::+::<4>,
                8 => $($handler)::+::<8>,
                12 => $($handler)::+::<12>,
                16 => $($handler)::+::<16>,
                _ => $($handler)::+::<20>,
            }
        };
    }
    match ins.opcode {
        Opcode::Nop => by_mode!(nop),
        Opcode::Add => by_mode!(arith::add),
        Opcode::Sub => by_mode_and_swap!(arith::sub),
        Opcode::Mul => by_mode!(arith::mul),
        Opcode::Div => by_mode_and_swap!(arith::div),
        Opcode::Xor | Opcode::And | Opcode::Or => by_mode!(bitwise::logic),
        Opcode::Shl | Opcode::Shr | Opcode::Rol | Opcode::Ror => by_mode_and_swap!(bitwise::shift),
        Opcode::Jump => by_src_mode!(jump::jump),
        Opcode::NearCall => near_call::near_call,
        Opcode::RetOk | Opcode::RetRevert | Opcode::RetPanic => ret::ret,
        Opcode::HeapRead => by_src_mode!(heap::heap_read),
        Opcode::HeapWrite => by_src_mode!(heap::heap_write),
        Opcode::AuxHeapRead => by_src_mode!(heap::aux_heap_read),
        Opcode::AuxHeapWrite => by_src_mode!(heap::aux_heap_write),
        Opcode::StaticMemoryRead => by_src_mode!(heap::static_read),
        Opcode::StaticMemoryWrite => by_src_mode!(heap::static_write),
        Opcode::FatPointerRead => by_src_mode!(heap::pointer_read),
        _ if ins.opcode.family() == Family::Ptr => by_mode!(generic),
        // The rest (context, log, far call) take register operands only.
        _ => by_src_mode!(generic),
    }
}

/// The two sources of a specialised handler, swapped if `SWAP` (only opcodes whose
/// operands' order matters are decoded with it), with pointers erased outside the kernel
/// (none of these instructions accepts one), and the stack slot `dst0` goes to.
#[inline(always)]
pub(crate) fn sources<const MODE: u8, const SWAP: bool>(
    vm: &mut Vm,
    d: &Predecoded,
) -> (U256, U256, Option<u16>) {
    let ins = &d.ins;
    let (src0, dst0_slot) = vm.address::<MODE>(ins, true);
    let src1 = vm.registers.get(ins.src1);
    // Erased before the swap: an immediate is never a pointer, and the compiler sees it.
    let erase = |word: TaggedWord, vm: &Vm| {
        let mut value = word.value;
        if word.is_pointer && !vm.stack.current.is_kernel {
            erase_pointer_metadata(&mut value);
        }
        value
    };
    let (a, b) = (erase(src0, vm), erase(src1, vm));
    if SWAP {
        (b, a, dst0_slot)
    } else {
        (a, b, dst0_slot)
    }
}

/// Writes an integer result to `dst0` (a register, or the stack slot addressing chose).
#[inline(always)]
pub(crate) fn write_result<const MODE: u8>(
    vm: &mut Vm,
    ins: &Instruction,
    dst0_slot: Option<u16>,
    value: U256,
) {
    match (dst_mode_of(MODE), dst0_slot) {
        (DstMode::Reg, _) | (_, None) => vm.registers.set_integer(ins.dst0, value),
        (_, Some(slot)) => {
            let page = vm.stack.current.base_page.stack();
            vm.write_memory(page, slot as u32, TaggedWord::integer(value));
        }
    }
}

/// What every instruction that leaves dst1 alone does last: it clears the register anyway.
#[inline(always)]
pub(crate) fn clear_dst1(vm: &mut Vm, ins: &Instruction) {
    vm.registers.set_integer(ins.dst1, U256::zero());
}

/// `nop`: moves PC, and SP if its operands address the stack (it reads nothing).
fn nop<const MODE: u8>(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    vm.address::<MODE>(&d.ins, false);
    let frame = &mut vm.stack.current;
    frame.pc = frame.pc.wrapping_add(1);
    clear_dst1(vm, &d.ins);
    Ok(())
}

/// The operands of an instruction that reads them all, for addressing mode `MODE`. Outside
/// the kernel, a pointer reaching an instruction that takes integers loses its page and start
/// and its tag; `src0` keeps them if `pointer_src0` (the families that take pointers).
#[inline(always)]
pub(crate) fn operands<const MODE: u8>(
    vm: &mut Vm,
    d: &Predecoded,
    pointer_src0: bool,
) -> Operands {
    let ins = &d.ins;
    let new_pc = vm.stack.current.pc.wrapping_add(1);
    let (src0, dst0_slot) = vm.address::<MODE>(ins, true);
    let src1 = vm.registers.get(ins.src1);
    let (mut src0, mut src1) = if d.swap { (src1, src0) } else { (src0, src1) };
    if (src0.is_pointer || src1.is_pointer) && !vm.stack.current.is_kernel {
        if src0.is_pointer && !pointer_src0 {
            erase_pointer_metadata(&mut src0.value);
            src0.is_pointer = false;
        }
        if src1.is_pointer {
            erase_pointer_metadata(&mut src1.value);
            src1.is_pointer = false;
        }
    }
    Operands {
        src0,
        src1,
        dst0_slot,
        new_pc,
    }
}

/// Every other instruction: operands resolved in full, then the family's `execute`.
pub(crate) fn generic<const MODE: u8>(vm: &mut Vm, d: &Predecoded) -> HandlerResult {
    let ins = &d.ins;
    let ops = operands::<MODE>(vm, d, ins.opcode.accepts_pointer_in_src0());
    let is_kernel = vm.stack.current.is_kernel;
    execute(vm, ins, &ops, is_kernel)?;
    clear_dst1(vm, ins);
    Ok(())
}

/// The operands of one instruction, resolved before it runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Operands {
    pub src0: TaggedWord,
    pub src1: TaggedWord,
    /// The stack slot dst0 goes to, if it is not a register.
    pub dst0_slot: Option<u16>,
    /// The address of the next instruction.
    pub new_pc: u16,
}

pub(crate) fn execute(
    vm: &mut Vm,
    ins: &Instruction,
    ops: &Operands,
    is_kernel: bool,
) -> Result<(), VmError> {
    match ins.opcode.family() {
        Family::Nop
        | Family::Add
        | Family::Sub
        | Family::Mul
        | Family::Div
        | Family::Binop
        | Family::Shift
        | Family::Jump
        | Family::NearCall
        | Family::Ret
        | Family::HeapAccess => unreachable!("{} has a handler of its own", ins.opcode),
        Family::Ptr => ptr::execute(vm, ins, ops),
        Family::Context => context::execute(vm, ins, ops, is_kernel),
        Family::Log => log::execute(vm, ins, ops)?,
        Family::FarCall => far_call::execute(vm, ins, ops, is_kernel)?,
        // The invalid opcode never executes: the checks before execution turn it into a panic.
        Family::Invalid => unreachable!("invalid opcodes are replaced before execution"),
    }
    Ok(())
}
