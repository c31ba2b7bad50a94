//! Runs that would grow without bound end within a memory budget, classified alike on every
//! VM (`RunEnd::MemoryBudget`): a loop rewriting one slot with no cycle limit used to hold
//! 8.9 GB on eravm and 5.3 GB on zk_evm (155 million cycles, until the ergs ran out).

use eradiff::asm::{op, Program};
use eradiff::backend::{EraVm, ZkEvm};
use eradiff::case::Case;
use eradiff::differential::{Judge, Verdict};
use eradiff::observe::RunEnd;
use eravm::{Condition, Opcode, SrcMode};

/// The budget these tests run with: small, so that a debug build gets there quickly.
const BUDGET: u64 = 20_000;

fn with_budget() {
    std::env::set_var("ERADIFF_MAX_JOURNAL", BUDGET.to_string());
}

/// `r1 += 1; sstore r0, r1; jump 0`, all ergs, no cycle cap: warm writes to one slot are
/// cheap, and every one is journaled for rollback.
fn same_slot_loop() -> Case {
    let mut case = Program::new()
        .push(op(Opcode::Add).src_mode(SrcMode::Imm, 1).src1(1).dst(1))
        .push(op(Opcode::StorageWrite).src0(0).src1(1))
        .push(op(Opcode::Jump).imm(0).when(Condition::Always))
        .case(u32::MAX);
    case.max_cycles = u64::MAX;
    case
}

#[test]
fn a_storage_write_loop_without_a_cycle_cap_ends_on_the_memory_budget_on_both_vms() {
    with_budget();
    let run = match Judge::new(&[&EraVm, &ZkEvm]).check(&same_slot_loop()) {
        Verdict::Agree(run) => run,
        other => panic!("both VMs end the loop alike: {other:?}"),
    };
    assert_eq!(run.state.end, RunEnd::MemoryBudget);
    // Three instructions a turn, one of them journaling: the budget is spent on the write
    // after it, BUDGET + 1 turns in.
    assert_eq!(run.state.cycles, 3 * (BUDGET + 1) - 1);
}

#[test]
fn a_loop_without_journaling_instructions_is_not_cut_by_the_budget() {
    with_budget();
    let mut case = Program::new()
        .push(op(Opcode::Add).src_mode(SrcMode::Imm, 1).src1(1).dst(1))
        .push(op(Opcode::Jump).imm(0).when(Condition::Always))
        .case(u32::MAX);
    case.max_cycles = 3 * BUDGET;
    let Verdict::Agree(run) = Judge::new(&[&EraVm, &ZkEvm]).check(&case) else {
        panic!("both VMs run the loop alike")
    };
    assert_eq!(run.state.end, RunEnd::CycleLimit);
}
