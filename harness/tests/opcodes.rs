//! Hand-written edge cases, one group per opcode family. Each runs on both VMs (which must
//! agree) and then checks the property the case was written for, so a case that silently
//! stopped exercising its edge fails too.

mod common;

use eradiff::asm::{op, Program};
use eradiff::case::{Address, FrameSettings};
use eradiff::observe::{FinalState, RunEnd};
use eravm::{Condition, DstMode, FatPointer, Opcode, SrcMode, TaggedWord, H160, U256};

use Opcode::*;

fn int(v: impl Into<U256>) -> TaggedWord {
    TaggedWord::integer(v.into())
}

fn ptr(p: FatPointer) -> TaggedWord {
    TaggedWord::pointer(p.to_u256())
}

fn reg(state: &FinalState, r: usize) -> U256 {
    state.registers[r - 1].value
}

/// Runs a program that ends by returning r0 and so exposes its registers only through the
/// heap: registers are cleared by a far return, so these cases store what they check.
fn run(program: Program, ergs: u32) -> FinalState {
    common::agree(&program.case(ergs)).state
}

/// `st.1 offset, value` then `ret.ok` of heap [0, 32*n).
fn store_and_return(mut p: Program, regs: &[u8]) -> Program {
    for (i, &r) in regs.iter().enumerate() {
        p = p.push(op(HeapWrite).imm((32 * i) as u16).src1(r));
    }
    let abi = FatPointer {
        offset: 0,
        page: 0,
        start: 0,
        length: 32 * regs.len() as u32,
    };
    p.constant(abi.to_u256()) // loaded by the caller of this helper
}

/// Loads the ABI constant at `word` into r15 and returns it.
fn ret_with_constant(p: Program, word: u16) -> Program {
    p.push(op(Add).src_mode(SrcMode::CodePage, word).dst(15))
        .push(op(RetOk).src0(15))
}

fn returned_words(state: &FinalState) -> Vec<U256> {
    state
        .return_data
        .chunks(32)
        .map(U256::from_big_endian)
        .collect()
}

/// Computes with the given instructions on r1..r5 set up front, then returns r1..r6 through
/// the heap.
fn compute(setup: &[(u8, TaggedWord)], body: &[eradiff::asm::Op]) -> (FinalState, Vec<U256>) {
    let mut p = Program::new();
    for &(r, w) in setup {
        p = p.register(r, w);
    }
    for &o in body {
        p = p.push(o);
    }
    let regs = [1u8, 2, 3, 4, 5, 6];
    let mut p = store_and_return(p, &regs);
    // Instruction words so far plus the two the return adds decide where the constant lands.
    let word = p.constants_start_after(2) as u16;
    p = ret_with_constant(p, word);
    let state = run(p, 100_000);
    assert_eq!(state.end, RunEnd::Ok, "the program must reach its return");
    let words = returned_words(&state);
    (state, words)
}

trait AfterInstructions {
    fn constants_start_after(&self, more: usize) -> usize;
}

impl AfterInstructions for Program {
    fn constants_start_after(&self, more: usize) -> usize {
        // constants_start rounds the instruction count up to whole words.
        let mut probe = self.clone();
        for _ in 0..more {
            probe = probe.push(op(Nop));
        }
        probe.constants_start()
    }
}

#[test]
fn add_and_sub_wrap_and_set_flags() {
    let (state, r) = compute(
        &[(1, int(U256::MAX)), (2, int(2u64))],
        &[
            op(Add).src0(1).src1(2).dst(3).m0(),
            op(Sub).src0(2).src1(1).dst(4),
            op(Sub).src0(2).src1(1).dst(5).m1(), // swapped: r1 - r2
        ],
    );
    assert_eq!(r[2], U256::one());
    assert_eq!(r[3], U256::from(3));
    assert_eq!(r[4], U256::MAX - 2);
    // The far return resets the flags.
    assert!(!state.flags.lt);
}

#[test]
fn mul_puts_the_high_half_in_dst1_and_div_the_remainder() {
    let (_, r) = compute(
        &[(1, int(U256::MAX)), (2, int(3u64)), (5, int(7u64))],
        &[
            op(Mul).src0(1).src1(2).dst(3).dst1(4),
            op(Div).src0(5).src1(2).dst(6).dst1(1),
        ],
    );
    assert_eq!(r[2], U256::MAX - 2);
    assert_eq!(r[3], U256::from(2));
    assert_eq!(r[5], U256::from(2));
    assert_eq!(r[0], U256::one());
}

#[test]
fn division_by_zero_gives_zeros_and_the_overflow_flag() {
    let (_, r) = compute(
        &[(1, int(5u64)), (3, int(9u64)), (4, int(9u64))],
        &[
            op(Div).src0(1).src1(2).dst(3).dst1(4).m0(),
            // LT is set by the division above, so this add runs.
            op(Add).imm(1).dst(5).when(Condition::Lt),
        ],
    );
    assert_eq!(
        (r[2], r[3], r[4]),
        (U256::zero(), U256::zero(), U256::one())
    );
}

#[test]
fn shifts_use_the_low_byte_and_rotations_wrap() {
    let (_, r) = compute(
        &[
            (1, int(U256::one() << 255 | U256::one())),
            (2, int(256 + 1u64)),
        ],
        &[
            op(Shl).src0(1).src1(2).dst(3),
            op(Rol).src0(1).src1(2).dst(4),
            op(Ror).src0(1).src1(2).dst(5),
            op(Shr).src0(1).src1(0).dst(6),
        ],
    );
    assert_eq!(r[2], U256::from(2));
    assert_eq!(r[3], U256::from(3));
    assert_eq!(r[4], U256::one() << 255 | U256::one() << 254);
    assert_eq!(r[5], U256::one() << 255 | U256::one());
}

#[test]
fn most_instructions_clear_their_dst1_register() {
    let (_, r) = compute(
        &[(1, int(41u64)), (4, int(7u64))],
        &[op(Add).imm(1).src1(1).dst(2).dst1(4)],
    );
    assert_eq!(r[1], U256::from(42));
    assert_eq!(r[3], U256::zero(), "add clears the register named as dst1");
}

#[test]
fn a_false_condition_is_a_nop_that_keeps_dst1() {
    let (_, r) = compute(
        &[(4, int(7u64))],
        &[op(Add).imm(1).dst(2).dst1(4).when(Condition::Eq)],
    );
    assert_eq!((r[1], r[3]), (U256::zero(), U256::from(7)));
}

#[test]
fn stack_push_pop_and_relative_addressing() {
    let (state, r) = compute(
        &[(1, int(5u64))],
        &[
            op(Add).imm(10).dst_mode(DstMode::StackPush, 1),
            op(Add).imm(20).dst_mode(DstMode::StackPush, 1),
            op(Add).src_mode(SrcMode::StackRelative, 2).dst(2),
            op(Add).src_mode(SrcMode::StackPop, 1).dst(3),
            op(Add).src_mode(SrcMode::StackAbsolute, 0).dst(4),
            op(Nop).src_mode(SrcMode::StackPop, 1),
            op(This).dst(5),
        ],
    );
    assert_eq!(
        (r[1], r[2], r[3]),
        (U256::from(10), U256::from(20), U256::from(10))
    );
    assert_eq!(state.last_frame.sp, 0);
    assert_eq!(state.stack.len(), 2);
}

#[test]
fn code_page_operands_read_constants() {
    let p = Program::new()
        .push(op(Add).src_mode(SrcMode::CodePage, 1).dst(1))
        .push(op(HeapWrite).imm(0).src1(1))
        .push(op(Add).src_mode(SrcMode::CodePage, 2).dst(15))
        .push(op(RetOk).src0(15))
        .constant(U256::from(0xabcdefu64))
        .constant(
            FatPointer {
                offset: 0,
                page: 0,
                start: 0,
                length: 32,
            }
            .to_u256(),
        );
    let state = run(p, 10_000);
    assert_eq!(returned_words(&state), vec![U256::from(0xabcdefu64)]);
}

#[test]
fn jump_saves_the_return_address() {
    let (_, r) = compute(
        &[],
        &[
            op(Jump).imm(2).dst(2),
            op(Add).imm(99).dst(1), // skipped
            op(Add).imm(7).dst(3),
        ],
    );
    assert_eq!(
        (r[0], r[1], r[2]),
        (U256::zero(), U256::one(), U256::from(7))
    );
}

#[test]
fn running_off_the_code_is_an_invalid_opcode_that_burns_all_ergs() {
    let state = run(Program::new().push(op(Jump).imm(1000)), 50_000);
    assert_eq!(state.end, RunEnd::Panic);
    assert_eq!(state.ergs, 0);
}

#[test]
fn invalid_opcode_with_exactly_all_ergs() {
    let state = run(Program::new().raw(0x7ff), u32::MAX);
    assert_eq!(state.end, RunEnd::Panic);
}

#[test]
fn out_of_ergs_panics() {
    let state = run(
        Program::new().push(op(Add)).push(op(Add)).push(op(RetOk)),
        8,
    );
    assert_eq!(state.end, RunEnd::Panic);
}

#[test]
fn pointer_arithmetic() {
    let p = FatPointer {
        offset: 5,
        page: 7,
        start: 64,
        length: 100,
    };
    let (_, r) = compute(
        &[(1, ptr(p)), (2, int(10u64)), (3, int(U256::one() << 200))],
        &[
            op(PtrAdd).src0(1).src1(2).dst(4),
            op(PtrShrink).src0(4).src1(2).dst(5),
            op(PtrPack).src0(5).src1(3).dst(6),
            op(PtrSub).src0(2).src1(4).dst(1).m0(), // swapped: r4 - 10
        ],
    );
    assert_eq!(FatPointer::from_u256(&r[3]).offset, 15);
    assert_eq!(FatPointer::from_u256(&r[4]).length, 90);
    assert_eq!(r[5] >> 128, U256::one() << 72);
    assert_eq!(FatPointer::from_u256(&r[0]).offset, 5);
}

#[test]
fn pointer_faults_panic_on_the_next_cycle() {
    for body in [
        vec![op(PtrAdd).src0(2).src1(2).dst(3)],    // not a pointer
        vec![op(PtrSub).src0(1).src1(2).dst(3)],    // offset underflow
        vec![op(PtrPack).src0(1).src1(2).dst(3)],   // low half not empty
        vec![op(PtrAdd).src0(1).src1(4).dst(3)],    // delta of 2^32
        vec![op(PtrShrink).src0(1).src1(5).dst(3)], // length underflow
    ] {
        let mut p = Program::new()
            .register(
                1,
                ptr(FatPointer {
                    offset: 1,
                    page: 10,
                    start: 0,
                    length: 8,
                }),
            )
            .register(2, int(2u64))
            .register(4, int(1u64 << 32))
            .register(5, int(9u64));
        for o in body {
            p = p.push(o);
        }
        let state = run(p.push(op(RetOk)), 1_000);
        assert_eq!(state.end, RunEnd::Panic);
        assert_eq!(state.cycles, 2, "the panic runs as a cycle of its own");
    }
}

#[test]
fn outside_the_kernel_pointers_lose_their_metadata() {
    let user = FrameSettings {
        address: Address(H160::from_low_u64_be(0x12345)),
        ..FrameSettings::default()
    };
    let p = FatPointer {
        offset: 3,
        page: 7,
        start: 64,
        length: 100,
    };
    let program = Program::new()
        .register(1, ptr(p))
        .push(op(Add).src0(1).dst(2))
        .push(op(HeapWrite).imm(0).src1(2))
        .push(op(Add).src_mode(SrcMode::CodePage, 1).dst(15))
        .push(op(RetOk).src0(15))
        .constant(
            FatPointer {
                offset: 0,
                page: 0,
                start: 0,
                length: 32,
            }
            .to_u256(),
        )
        .frame(user);
    let state = run(program, 10_000);
    let erased = FatPointer::from_u256(&returned_words(&state)[0]);
    assert_eq!(
        (erased.page, erased.start, erased.offset, erased.length),
        (0, 0, 3, 100)
    );
}

#[test]
fn context_reads() {
    let frame = FrameSettings {
        heap_bound: 1000,
        aux_heap_bound: 2000,
        caller: Address(H160::from_low_u64_be(0xca11e7)),
        context_u128: eradiff::case::Word(U256::from(77u64)),
        ..FrameSettings::default()
    };
    let mut p = Program::new().frame(frame);
    for (i, o) in [
        This,
        Caller,
        CodeAddress,
        Meta,
        ErgsLeft,
        Sp,
        GetContextU128,
    ]
    .into_iter()
    .enumerate()
    {
        p = p
            .push(op(o).dst(1))
            .push(op(HeapWrite).imm(32 * i as u16).src1(1));
    }
    let word = p.constants_start_after(2) as u16;
    let p = ret_with_constant(
        p.constant(
            FatPointer {
                offset: 0,
                page: 0,
                start: 0,
                length: 7 * 32,
            }
            .to_u256(),
        ),
        word,
    );
    let state = run(p, 100_000);
    let w = returned_words(&state);
    assert_eq!(w[0], U256::from(0x8001));
    assert_eq!(w[1], U256::from(0xca11e7));
    assert_eq!(w[3].0[1], 1000 | 2000 << 32);
    assert_eq!(w[6], U256::from(77));
}

#[test]
fn kernel_only_and_static_rules() {
    let user = FrameSettings {
        address: Address(H160::from_low_u64_be(0x10001)),
        ..FrameSettings::default()
    };
    let state = run(
        Program::new().push(op(SetContextU128).src0(1)).frame(user),
        1_000,
    );
    assert_eq!(state.end, RunEnd::Panic);
    let frozen = FrameSettings {
        is_static: true,
        ..FrameSettings::default()
    };
    let state = run(
        Program::new().push(op(IncrementTxNumber)).frame(frozen),
        1_000,
    );
    assert_eq!(state.end, RunEnd::Panic);
    let state = run(
        Program::new()
            .push(op(IncrementTxNumber))
            .push(op(SetContextU128).src0(1))
            .push(op(RetOk))
            .register(1, int(5u64)),
        1_000,
    );
    assert_eq!((state.end, state.tx_number), (RunEnd::Ok, 1));
    assert_eq!(
        state.context_u128_register, 0,
        "a far return clears the context register"
    );
}

#[test]
fn near_call_passes_ergs_and_returns() {
    // near_call r1 to 3, handler 5; the callee returns, the caller stores ergs_left.
    let p = Program::new()
        .register(1, int(1000u64))
        .push(op(NearCall).src0(1).imm0(3).imm1(5))
        .push(op(ErgsLeft).dst(2))
        .push(op(RetOk))
        .push(op(RetOk)) // 3: callee
        .push(op(RetOk))
        .push(op(RetRevert)); // 5: handler
    let state = run(p, 10_000);
    assert_eq!(state.end, RunEnd::Ok);
    assert_eq!(state.cycles, 4);
}

#[test]
fn near_call_panic_goes_to_the_handler_and_keeps_heap_growth() {
    let p = Program::new()
        .frame(FrameSettings {
            heap_bound: 0,
            ..FrameSettings::default()
        })
        .push(op(NearCall).src0(0).imm0(2).imm1(4))
        .push(op(RetOk))
        .push(op(HeapWrite).imm(64).src1(0)) // 2: callee grows the heap
        .push(op(RetPanic))
        .push(op(Meta).dst(1)) // 4: handler
        .push(op(Add).imm(0).src1(1).dst(2).when(Condition::Lt))
        .push(op(RetRevert));
    let state = run(p, 10_000);
    assert_eq!(state.end, RunEnd::Revert);
    assert_eq!(state.last_frame.heap_bound, 96);
}

#[test]
fn ret_to_label() {
    let p = Program::new()
        .push(op(NearCall).imm0(2).imm1(2))
        .push(op(RetPanic))
        .push(op(RetRevert).m0().imm0(4)) // 2: to label 4
        .push(op(RetPanic))
        .push(op(RetOk)); // 4
    let state = run(p, 10_000);
    assert_eq!(state.end, RunEnd::Ok);
}

#[test]
fn far_return_rules() {
    let heap_slice = |start, length| {
        FatPointer {
            offset: 0,
            page: 0,
            start,
            length,
        }
        .to_u256()
    };
    let forward = |p: FatPointer| p.to_u256() | U256::one() << 224;
    let aux = |start, length| heap_slice(start, length) | U256::from(2u64) << 224;
    let calldata = FatPointer {
        offset: 2,
        page: 7,
        start: 0,
        length: 10,
    };
    let cases: Vec<(TaggedWord, RunEnd)> = vec![
        (int(heap_slice(0, 64)), RunEnd::Ok),
        (int(aux(32, 0)), RunEnd::Ok),
        (ptr(calldata), RunEnd::Panic), // a pointer without forwarding
        (int(forward(calldata)), RunEnd::Panic), // forwarding an integer
        (TaggedWord::pointer(forward(calldata)), RunEnd::Ok),
        (int(heap_slice(u32::MAX - 3, 8)), RunEnd::Panic), // start + length overflows
        (int(heap_slice(0, 8) | U256::one()), RunEnd::Panic), // fresh slice with an offset
        (int(heap_slice(0, 100_000)), RunEnd::Panic),      // growth costs more than there is
    ];
    for (abi, end) in cases {
        let p = Program::new()
            .frame(FrameSettings {
                heap_bound: 0,
                aux_heap_bound: 0,
                ..FrameSettings::default()
            })
            .calldata(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
            .register(3, abi)
            .push(op(RetOk).src0(3));
        let state = run(p, 50_000);
        assert_eq!(state.end, end, "abi {abi:?}");
    }
}

#[test]
fn heap_reads_and_writes_unaligned_with_increment() {
    let (state, r) = compute(
        &[(1, int(U256::MAX)), (2, int(17u64))],
        &[
            op(HeapWrite).src0(2).src1(1).m0().dst(3), // st.1.inc: r3 = 49
            op(HeapRead).imm(32).dst(4).dst1(5).m0(),  // ld.1.inc at 32: r5 = 64
            op(HeapRead).imm(0).dst(6),
        ],
    );
    assert_eq!(r[2], U256::from(49));
    assert_eq!(r[3], U256::MAX << (15 * 8), "bytes 32..49 were written");
    assert_eq!(r[4], U256::from(64));
    assert_eq!(r[5], U256::MAX >> (17 * 8));
    assert!(state.heap.len() >= 2);
}

#[test]
fn heap_offset_limits() {
    for (offset, end) in [
        (u32::MAX as u64 - 33, RunEnd::Ok),
        (u32::MAX as u64 - 32, RunEnd::Ok),
        (u32::MAX as u64 - 31, RunEnd::Panic),
        (u32::MAX as u64, RunEnd::Panic),
        (1u64 << 32, RunEnd::Panic),
    ] {
        let p = Program::new()
            .register(1, int(offset))
            .push(op(HeapRead).src0(1).dst(2))
            .push(op(RetOk));
        assert_eq!(run(p, 100_000).end, end, "offset {offset:#x}");
    }
}

#[test]
fn heap_growth_is_paid_per_byte() {
    let p = Program::new()
        .frame(FrameSettings {
            heap_bound: 100,
            ..FrameSettings::default()
        })
        .push(op(HeapWrite).imm(1000).src1(0))
        .push(op(ErgsLeft).dst(1))
        .push(op(HeapWrite).imm(0).src1(1))
        .push(op(Add).src_mode(SrcMode::CodePage, 2).dst(15))
        .push(op(RetOk).src0(15))
        .constant(
            FatPointer {
                offset: 0,
                page: 0,
                start: 0,
                length: 32,
            }
            .to_u256(),
        );
    let state = run(p, 10_000);
    // 13 for the write, 932 bytes of growth, 5 for ergs_left.
    assert_eq!(returned_words(&state)[0], U256::from(10_000 - 13 - 932 - 5));
    assert_eq!(state.last_frame.heap_bound, 1032);
}

#[test]
fn heap_growth_beyond_the_ergs_panics() {
    let p = Program::new()
        .frame(FrameSettings {
            aux_heap_bound: 0,
            ..FrameSettings::default()
        })
        .register(1, int(u32::MAX as u64 - 40))
        .push(op(AuxHeapRead).src0(1).dst(2))
        .push(op(RetOk));
    let state = run(p, u32::MAX - 100);
    assert_eq!(state.end, RunEnd::Panic);
}

#[test]
fn fat_pointer_reads_clip_past_the_slice() {
    let p = FatPointer {
        offset: 20,
        page: 7,
        start: 0,
        length: 40,
    };
    let (_, r) = compute(
        &[(1, ptr(p))],
        &[
            op(FatPointerRead).src0(1).dst(2).dst1(3).m0(),
            op(FatPointerRead).src0(3).dst(4), // offset 52: past the end, reads zero
        ],
    );
    assert_eq!(r[3], U256::zero());
    assert_eq!(FatPointer::from_u256(&r[2]).offset, 52);
}

#[test]
fn fat_pointer_read_needs_a_pointer() {
    let p = Program::new()
        .register(1, int(5u64))
        .push(op(FatPointerRead).src0(1).dst(2))
        .push(op(RetOk));
    assert_eq!(run(p, 1_000).end, RunEnd::Panic);
}

#[test]
fn static_memory_is_kernel_only_and_free() {
    let (state, r) = compute(
        &[(1, int(0xbeefu64)), (2, int(1u64 << 20))],
        &[
            op(StaticMemoryWrite).src0(2).src1(1),
            op(StaticMemoryRead).src0(2).dst(3),
        ],
    );
    assert_eq!(r[2], U256::from(0xbeefu64));
    assert_eq!(state.static_memory.len(), 1);
}

#[test]
fn cycle_limit_states_compare_too() {
    let mut case = Program::new().push(op(Jump).imm(0)).case(1_000_000);
    case.max_cycles = 500;
    let state = common::agree(&case).state;
    assert_eq!((state.end, state.cycles), (RunEnd::CycleLimit, 500));
}

#[test]
fn reg_at_is_visible_in_final_state() {
    let mut case = Program::new()
        .push(op(Add).imm(3).dst(4))
        .push(op(Jump).imm(1))
        .case(10_000);
    case.max_cycles = 3;
    let state = common::agree(&case).state;
    assert_eq!(reg(&state, 4), U256::from(3));
}
