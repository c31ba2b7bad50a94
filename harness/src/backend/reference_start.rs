//! A case's start state, loaded into `zk_evm` the way its own calls build one: every frame
//! pushed through `VmState::start_frame` (so the hosts open a journal frame for it), words
//! written into the frames' pages, and each change made through the host calls the `log`
//! opcodes make. Read from the case model only: nothing here comes from eravm.

use zk_evm::aux_structures::{LogQuery, PubdataCost, Timestamp};
use zk_evm::vm_state::CallStackEntry;
use zk_evm::zkevm_opcode_defs::ethereum_types::Address as RefAddress;
use zk_evm::zkevm_opcode_defs::system_params::{
    EVENT_AUX_BYTE, L1_MESSAGE_AUX_BYTE, STORAGE_AUX_BYTE, TRANSIENT_STORAGE_AUX_BYTE,
};
use zk_evm::zkevm_opcode_defs::{
    NEW_MEMORY_PAGES_PER_FAR_CALL, STARTING_BASE_PAGE, STARTING_TIMESTAMP,
};

use super::reference::{to_ref, RefVm};
use crate::start::{Change, FarFrame, MemoryWord, NearFrame, Page, Start, StartFrame};

/// Pushes the frames of `start` below `running` (the case's own frame), then `running` and its
/// near callers, with their memory and changes.
pub(crate) fn load(vm: &mut RefVm, start: &Start, running: CallStackEntry) {
    // The formal frame below keeps nothing, as after pushing the bootloader's frame.
    vm.local_state.callstack.current.ergs_remaining = 0;
    let mut far = 0;
    for frame in &start.below {
        match frame {
            StartFrame::Far(f) => {
                let base = STARTING_BASE_PAGE + NEW_MEMORY_PAGES_PER_FAR_CALL * far;
                far += 1;
                vm.start_frame(0, far_entry(f, base, running.code_page.0));
                write_words(vm, base, &f.memory);
                make_changes(vm, &f.changes);
            }
            StartFrame::Near(n) => push_near(vm, n),
        }
    }
    vm.local_state.memory_page_counter = STARTING_BASE_PAGE + NEW_MEMORY_PAGES_PER_FAR_CALL * far;
    let innermost = NearFrame {
        pc: 0,
        sp: start.sp,
        exception_handler: start.exception_handler,
        ergs: running.ergs_remaining,
        total_pubdata_spent: 0,
        changes: start.changes.clone(),
    };
    let mut outer = running;
    outer.sp = start.sp;
    outer.exception_handler_location = start.exception_handler;
    let Some((outermost, callers)) = start.near_callers.split_first() else {
        vm.start_frame(0, outer);
        write_words(vm, running.base_memory_page.0, &start.memory);
        make_changes(vm, &start.changes);
        return finish(vm, start);
    };
    outer.pc = outermost.pc;
    outer.sp = outermost.sp;
    outer.ergs_remaining = outermost.ergs;
    outer.exception_handler_location = outermost.exception_handler;
    outer.total_pubdata_spent = PubdataCost(outermost.total_pubdata_spent);
    vm.start_frame(0, outer);
    write_words(vm, running.base_memory_page.0, &start.memory);
    make_changes(vm, &outermost.changes);
    for n in callers.iter().chain([&innermost]) {
        push_near(vm, n);
    }
    finish(vm, start);
}

fn finish(vm: &mut RefVm, start: &Start) {
    // On top of what the loaded writes spent.
    let counter = &mut vm.local_state.pubdata_revert_counter.0;
    *counter = counter.wrapping_add(start.pubdata_counter);
    vm.local_state.context_u128_register = start.context_u128_register.0.low_u128();
}

fn far_entry(f: &FarFrame, base: u32, code_page: u32) -> CallStackEntry {
    let address = RefAddress::from_slice(f.address.0.as_bytes());
    CallStackEntry {
        this_address: address,
        msg_sender: RefAddress::from_slice(f.caller.0.as_bytes()),
        code_address: address,
        base_memory_page: zk_evm::aux_structures::MemoryPage(base),
        code_page: zk_evm::aux_structures::MemoryPage(code_page),
        sp: f.sp,
        pc: f.pc,
        exception_handler_location: f.exception_handler,
        ergs_remaining: f.ergs,
        this_shard_id: 0,
        caller_shard_id: 0,
        code_shard_id: 0,
        is_static: f.is_static,
        is_local_frame: false,
        context_u128_value: f.context_u128.0.low_u128(),
        heap_bound: f.heap_bound,
        aux_heap_bound: f.aux_heap_bound,
        total_pubdata_spent: PubdataCost(f.total_pubdata_spent),
        stipend: f.stipend,
    }
}

/// A near call as zk_evm makes one: the callee is a copy of the caller's entry, marked
/// local, with its own place to resume, ergs and handler.
fn push_near(vm: &mut RefVm, n: &NearFrame) {
    let mut callee = *vm.local_state.callstack.get_current_stack();
    callee.pc = n.pc;
    callee.sp = n.sp;
    callee.exception_handler_location = n.exception_handler;
    callee.ergs_remaining = n.ergs;
    callee.total_pubdata_spent = PubdataCost(n.total_pubdata_spent);
    callee.is_local_frame = true;
    vm.start_frame(0, callee);
    make_changes(vm, &n.changes);
}

/// Stack words keep their tags; heap words are bytes.
fn write_words(vm: &mut RefVm, base: u32, words: &[MemoryWord]) {
    for w in words {
        let (page, pointer) = match w.page {
            Page::Stack => (base + 1, w.pointer),
            Page::Heap => (base + 2, false),
            Page::AuxHeap => (base + 3, false),
        };
        vm.memory
            .set_tagged(page, w.index, to_ref(w.value.0), pointer);
    }
}

/// Each change through the host calls its `log` opcode makes, as the current frame.
fn make_changes(vm: &mut RefVm, changes: &[Change]) {
    for change in changes {
        let (aux_byte, key, value, rw_flag, first) = match *change {
            Change::Read { key } => (STORAGE_AUX_BYTE, key, Default::default(), false, false),
            Change::Write { key, value } => (STORAGE_AUX_BYTE, key, value, true, false),
            Change::TransientWrite { key, value } => {
                (TRANSIENT_STORAGE_AUX_BYTE, key, value, true, false)
            }
            Change::Event { key, value, first } => (EVENT_AUX_BYTE, key, value, true, first),
            Change::Message { key, value, first } => (L1_MESSAGE_AUX_BYTE, key, value, true, first),
        };
        let frame = vm.local_state.callstack.get_current_stack();
        let query = LogQuery {
            timestamp: Timestamp(STARTING_TIMESTAMP),
            tx_number_in_block: vm.local_state.tx_number_in_block,
            aux_byte,
            shard_id: frame.this_shard_id,
            address: frame.this_address,
            key: to_ref(key.0),
            read_value: Default::default(),
            written_value: to_ref(value.0),
            rw_flag,
            rollback: false,
            is_service: first,
        };
        match aux_byte {
            STORAGE_AUX_BYTE | TRANSIENT_STORAGE_AUX_BYTE => {
                vm.refund_for_partial_query(0, &query);
                let (_, pubdata) = vm.access_storage(0, query);
                // As the `log` opcode does: the frame spends a write's pubdata.
                vm.add_pubdata_cost(pubdata);
            }
            _ => vm.emit_event(0, query),
        }
    }
}
