//! Behaviour coverage: a run's corners are what eravm did, classified per cycle.

use std::collections::BTreeMap;

use eradiff::asm::{op, Program};
use eradiff::backend::{run_isolated, EraVm};
use eravm::Opcode::*;
use eravm::SrcMode;

fn corners(p: Program) -> BTreeMap<String, u64> {
    let case = p.case(1_000_000);
    let run = run_isolated(&EraVm, &case, false).expect("eravm runs the case");
    run.corners.by_name()
}

/// A near frame writes a slot and reverts to a label; a second writes and faults; the far
/// frame reads the slot back (warm: warmth outlives the revert), writes it and returns.
fn near_frames_that_roll_back() -> Program {
    Program::new()
        .push(op(Add).src_mode(SrcMode::Imm, 1).src1(1).dst(1)) // 0: r1 = 1
        .push(op(Add).src_mode(SrcMode::Imm, 50_000).src1(5).dst(5)) // 1: r5 = 50,000
        .push(op(NearCall).src0(5).imm0(4).imm1(7)) // 2: with r5's ergs (a panic burns them)
        .push(op(RetPanic)) // 3: never reached
        .push(op(StorageWrite).src0(0).src1(1)) // 4: slot 0 = 1
        .push(op(RetRevert).m0().imm0(6)) // 5: revert to label 6
        .push(op(NearCall).src0(5).imm0(8).imm1(10)) // 6
        .push(op(RetPanic)) // 7: never reached
        .push(op(StorageWrite).src0(0).src1(1)) // 8
        .raw(0) // 9: the invalid opcode faults, to the handler at 10
        .push(op(StorageRead).src0(0).dst(2)) // 10
        .push(op(StorageWrite).src0(0).src1(1)) // 11
        .push(op(RetOk)) // 12
}

#[test]
fn frame_ends_are_classified_by_kind_cause_and_changes() {
    let c = corners(near_frames_that_roll_back());
    for (corner, n) in [
        ("frame_end.near.revert.return_to_label.with_changes", 1),
        ("frame_end.near.panic.exception.with_changes", 1),
        ("frame_end.far.ok.return.with_changes", 1),
        ("frame_end.near.revert.return.with_changes", 0),
        ("frame_end.far.ok.return.no_changes", 0),
        ("storage_read.warm", 1),
        ("storage_read.cold", 0),
    ] {
        assert_eq!(c[corner], n, "{corner}: {c:#?}");
    }
    let writes: u64 = (c.iter())
        .filter(|(k, _)| k.starts_with("storage_write."))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(writes, 3, "three storage writes: {c:#?}");
    assert_eq!(c["storage_write.cold.pubdata_more"], 1, "{c:#?}");
}

#[test]
fn heap_accesses_are_placed_against_the_bound() {
    // Offsets 0 (inside) and u32::MAX (beyond the maximum: the frame panics).
    let p = Program::new()
        .push(op(HeapWrite).src0(0).src1(0))
        .push(op(Sub).src_mode(SrcMode::Imm, 1).src1(0).dst(3).m1()) // r3 = 0 - 1
        .push(op(HeapRead).src0(3).dst(4));
    let c = corners(p);
    assert_eq!(c["heap_access.heap.write.inside"], 1, "{c:#?}");
    assert_eq!(c["heap_access.heap.read.beyond_maximum"], 1, "{c:#?}");
    assert_eq!(c["frame_end.far.panic.exception.no_changes"], 1, "{c:#?}");
}
