//! `far_call`, `far_call.delegate`, `far_call.mimic`: calls into another contract.
//!
//! The callee's code hash is read from the account code storage contract (0x8002), checked,
//! masked to the default account or the EVM emulator where the protocol says so, decommitted
//! (paid per word the first time a hash is loaded) and run in a fresh frame with its own
//! pages. Calldata goes as a fat pointer in r1. A call that fails any check still opens the
//! frame, on the unmapped page, with a panic pending: the callee panics back at once.

use primitive_types::{H160, U256};

use super::Operands;
use crate::code_hash::{self, AT_REST, BEING_CONSTRUCTED, ERAVM_VERSION, EVM_BLOB_VERSION};
use crate::decoder::Instruction;
use crate::fat_pointer::FatPointer;
use crate::opcode::Opcode;
use crate::panic::PanicReason;
use crate::state::{is_kernel_address, Frame, PageId, TaggedWord};
use crate::vm::{Vm, VmError};
use crate::world::StorageKey;

/// The contract that maps addresses to code hashes.
pub const ACCOUNT_CODE_STORAGE_ADDRESS: u64 = 0x8002;
/// The msg.value simulator: a system call to it takes extra ergs from the caller for the
/// callee.
pub const MSG_VALUE_SIMULATOR_ADDRESS: u64 = 0x8009;
const MSG_VALUE_SIMULATOR_EXTRA_ERGS: u32 = 14_500 + 4 * 100_000 / 32;
const PAGES_PER_FAR_CALL: u32 = 8;
const ERGS_PER_CODE_WORD: u32 = 4;
/// Heap (and aux heap) a new frame may use without paying for growth.
const USER_FRAME_MEMORY_STIPEND: u32 = 1 << 12;
const EVM_FRAME_MEMORY_STIPEND: u32 = 56 << 10;
const KERNEL_FRAME_MEMORY_STIPEND: u32 = 1 << 21;

/// Where the calldata of a far call comes from (byte 28 of the ABI word).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CalldataSource {
    Heap,
    ForwardPointer,
    AuxHeap,
}

/// The far call ABI word, as the caller packs it in src0.
#[derive(Clone, Copy, Debug)]
struct FarCallAbi {
    pointer: FatPointer,
    ergs: u32,
    shard_id: u8,
    source: CalldataSource,
    constructor_call: bool,
    to_system: bool,
}

impl FarCallAbi {
    fn from_word(word: &U256) -> FarCallAbi {
        let high = word.0[3];
        let [source, shard_id, constructor, system] = ((high >> 32) as u32).to_le_bytes();
        FarCallAbi {
            pointer: FatPointer::from_u256(word),
            ergs: high as u32,
            shard_id,
            source: match source {
                1 => CalldataSource::ForwardPointer,
                2 => CalldataSource::AuxHeap,
                _ => CalldataSource::Heap,
            },
            constructor_call: constructor != 0,
            to_system: system != 0,
        }
    }
}

fn address_of(word: &U256) -> H160 {
    let mut b = [0u8; 32];
    word.to_big_endian(&mut b);
    H160::from_slice(&b[12..])
}

fn address_word(address: &H160) -> U256 {
    U256::from_big_endian(address.as_bytes())
}

pub(super) fn execute(
    vm: &mut Vm,
    ins: &Instruction,
    ops: &Operands,
    is_kernel: bool,
) -> Result<(), VmError> {
    vm.flags = 0;
    let is_static_call = ins.modifiers[0];
    let shard_from_abi = ins.modifiers[1];
    let callee = address_of(&ops.src1.value);
    let callee_is_kernel = is_kernel_address(&callee);
    let mut abi = FarCallAbi::from_word(&ops.src0.value);
    abi.constructor_call &= is_kernel;
    abi.to_system &= callee_is_kernel;

    let caller = vm.stack.current;
    let code_shard = if shard_from_abi {
        abi.shard_id
    } else {
        caller.this_shard_id
    };
    let this_shard = if ins.opcode == Opcode::FarCallDelegate {
        caller.this_shard_id
    } else {
        code_shard
    };
    let new_base = PageId(vm.memory_page_counter);

    // Look the code up; only the rollup shard exists.
    let mut fault: Option<PanicReason> = None;
    let stored_hash = if code_shard != 0 {
        fault = Some(PanicReason::FarCallShard);
        U256::zero()
    } else {
        let key = StorageKey {
            address: H160::from_low_u64_be(ACCOUNT_CODE_STORAGE_ADDRESS),
            key: address_word(&callee),
        };
        vm.world.warm_for_read(key);
        vm.world.read_storage(vm.storage.as_mut(), &key)
    };
    let hash_bytes = code_hash::bytes(&stored_hash);
    let version = hash_bytes[0];
    let callable = |b: &[u8; 32], v: u8| {
        code_hash::is_valid(b, v)
            && ((!abi.constructor_call && b[1] == AT_REST)
                || (abi.constructor_call && b[1] == BEING_CONSTRUCTED))
    };
    let mut to_default_account = false;
    let mut to_evm_emulator = false;
    let mut runs_as_is = false;
    for v in [ERAVM_VERSION, EVM_BLOB_VERSION] {
        if code_hash::is_valid(&hash_bytes, v) {
            if callable(&hash_bytes, v) {
                runs_as_is = v == ERAVM_VERSION;
                to_evm_emulator = v == EVM_BLOB_VERSION;
            } else if !callee_is_kernel {
                // Most likely a contract still being constructed, called normally.
                to_default_account = true;
            } else {
                fault.get_or_insert(PanicReason::FarCallCodeHash);
            }
        }
    }
    if stored_hash.is_zero() {
        if callee_is_kernel {
            fault.get_or_insert(PanicReason::FarCallCodeHash);
        } else {
            to_default_account = true;
        }
    }
    if !to_default_account && !to_evm_emulator && !runs_as_is {
        fault.get_or_insert(PanicReason::FarCallCodeHash);
    }
    let code_hash = if to_evm_emulator {
        vm.settings.evm_emulator_code_hash
    } else if to_default_account {
        vm.settings.default_aa_code_hash
    } else {
        stored_hash
    };
    let code_words = if fault.is_some() {
        0
    } else {
        code_hash::length_in_words(&code_hash::bytes(&code_hash))
    };

    // The calldata: a pointer passed on, or a fresh slice of the caller's heap.
    if (abi.source == CalldataSource::ForwardPointer) != ops.src0.is_pointer {
        fault.get_or_insert(PanicReason::FarCallCalldata);
    }
    let overflows = abi.pointer.overflows();
    let fresh_with_offset = abi.source != CalldataSource::ForwardPointer && abi.pointer.offset != 0;
    if overflows || fresh_with_offset || !abi.pointer.is_valid_slice() {
        fault.get_or_insert(PanicReason::FarCallCalldata);
    }
    match abi.source {
        CalldataSource::ForwardPointer => {
            abi.pointer.start = abi.pointer.start.wrapping_add(abi.pointer.offset);
            abi.pointer.length = abi.pointer.length.wrapping_sub(abi.pointer.offset);
            abi.pointer.offset = 0;
        }
        CalldataSource::Heap => abi.pointer.page = caller.base_page.heap().0,
        CalldataSource::AuxHeap => abi.pointer.page = caller.base_page.aux_heap().0,
    }
    if fault.is_some() {
        abi.pointer = FatPointer::default();
    }

    // Pay for growing the heap the calldata comes from.
    let frame = &mut vm.stack.current;
    let mut ergs = frame.ergs;
    if abi.source != CalldataSource::ForwardPointer {
        let end = if overflows {
            u32::MAX
        } else {
            abi.pointer.start + abi.pointer.length
        };
        let bound = if abi.source == CalldataSource::Heap {
            &mut frame.heap_bound
        } else {
            &mut frame.aux_heap_bound
        };
        let growth = end.saturating_sub(*bound);
        if ergs >= growth {
            if end > *bound {
                *bound = end;
            }
            ergs -= growth;
        } else {
            fault.get_or_insert(PanicReason::FarCallOutOfErgs);
            ergs = 0;
        }
    }

    // A system call to the msg.value simulator carries extra ergs from the caller.
    let mut extra_ergs = if callee_is_kernel
        && abi.to_system
        && callee == H160::from_low_u64_be(MSG_VALUE_SIMULATOR_ADDRESS)
    {
        MSG_VALUE_SIMULATOR_EXTRA_ERGS
    } else {
        0
    };
    if ergs >= extra_ergs {
        ergs -= extra_ergs;
    } else {
        fault.get_or_insert(PanicReason::FarCallOutOfErgs);
        extra_ergs = 0;
        ergs = 0;
    }

    // Decommit: free if this hash was loaded before.
    let code_page = if let Some(reason) = fault {
        vm.set_pending_panic(reason);
        PageId(0)
    } else {
        let normalized = code_hash::normalized(&code_hash);
        let fresh = !vm.world.decommitted_hashes.contains_key(&normalized);
        if fresh && vm.storage.decommit(code_hash).is_none() {
            return Err(VmError::MissingBytecode(code_hash));
        }
        let cost = if fresh {
            ERGS_PER_CODE_WORD * code_words as u32
        } else {
            0
        };
        if ergs >= cost {
            ergs -= cost;
            vm.decommit_into(&code_hash, new_base)?.0
        } else {
            vm.set_pending_panic(PanicReason::FarCallOutOfErgs);
            PageId(0)
        }
    };

    // 63/64 of what is left may go to the callee.
    let passable = ergs / 64 * 63;
    let kept = ergs - passable;
    let (passed, kept) = match passable.checked_sub(abi.ergs) {
        Some(rest) => (abi.ergs, kept + rest),
        None => (passable, kept),
    };
    let passed = passed.wrapping_add(extra_ergs);

    let frame = &mut vm.stack.current;
    frame.ergs = kept;
    frame.pc = ops.new_pc;
    let is_static = caller.is_static || is_static_call;
    vm.memory_page_counter = vm.memory_page_counter.wrapping_add(PAGES_PER_FAR_CALL);

    let (this_address, msg_sender) = match ins.opcode {
        Opcode::FarCall => (callee, caller.this_address),
        Opcode::FarCallDelegate => (caller.this_address, caller.msg_sender),
        _ => (callee, address_of(&vm.registers.get(15).value)),
    };
    let context_u128 = if ins.opcode == Opcode::FarCallDelegate {
        caller.context_u128
    } else {
        vm.context_u128
    };
    let stipend = if is_kernel_address(&this_address) {
        KERNEL_FRAME_MEMORY_STIPEND
    } else if version == EVM_BLOB_VERSION {
        EVM_FRAME_MEMORY_STIPEND
    } else {
        USER_FRAME_MEMORY_STIPEND
    };
    let callee_frame = Frame {
        this_address,
        msg_sender,
        code_address: callee,
        base_page: new_base,
        code_page,
        sp: 0,
        pc: 0,
        exception_handler: ins.imm0,
        ergs: passed,
        this_shard_id: this_shard,
        caller_shard_id: caller.this_shard_id,
        code_shard_id: code_shard,
        is_static: is_static && !to_evm_emulator,
        is_local: false,
        context_u128,
        heap_bound: stipend,
        aux_heap_bound: stipend,
        total_pubdata_spent: 0,
        stipend: 0,
        is_kernel: is_kernel_address(&this_address),
    };
    vm.context_u128 = 0;
    vm.world.start_frame();
    vm.stack.push(callee_frame);
    vm.recheck();
    vm.far_depth += 1;

    // The callee's registers: calldata pointer, call flags, and for system calls r3..r12
    // as passed (without pointer tags); everything else cleared.
    vm.registers
        .set(1, TaggedWord::pointer(abi.pointer.to_u256()));
    let call_flags = abi.constructor_call as u64
        | (abi.to_system as u64) << 1
        | if to_evm_emulator {
            (is_static as u64) << 2
        } else {
            0
        };
    vm.registers
        .set(2, TaggedWord::integer(U256::from(call_flags)));
    for r in 3..=12 {
        let word = if abi.to_system {
            TaggedWord::integer(vm.registers.get(r).value)
        } else {
            TaggedWord::ZERO
        };
        vm.registers.set(r, word);
    }
    for r in 13..=15 {
        vm.registers.set(r, TaggedWord::ZERO);
    }
    Ok(())
}
