//! Known answers for the precompiles eravm runs, on both VMs.

mod common;

use eradiff::asm::{op, Program};
use eradiff::case::{Address, Case, FrameSettings};
use eravm::precompiles::{ECRECOVER, KECCAK256, SHA256};
use eravm::{FatPointer, Opcode, SrcMode, H160, U256};

/// A program at `precompile`'s address that writes `input` words from heap word 0, calls the
/// precompile with `abi` (output at word 8), and returns heap words 8 and 9.
fn call(precompile: u16, input: &[U256], abi: U256) -> Case {
    let mut p = Program::new();
    let mut constants = Vec::new();
    // The constant pool starts after all instructions: 2 per input word, then 5.
    let instructions = input.len() * 2 + 5;
    let first = instructions.div_ceil(4) as u16;
    for (i, w) in input.iter().enumerate() {
        p = p
            .push(op(Opcode::Add).src_mode(SrcMode::CodePage, first + i as u16).dst(4))
            .push(op(Opcode::HeapWrite).imm((i * 32) as u16).src1(4));
        constants.push(*w);
    }
    let k = first + input.len() as u16;
    p = p
        .push(op(Opcode::Add).src_mode(SrcMode::CodePage, k).dst(1))
        .push(op(Opcode::PrecompileCall).src0(1).src1(0).dst(3))
        .push(op(Opcode::Add).src_mode(SrcMode::CodePage, k + 1).dst(5))
        .push(op(Opcode::RetOk).src0(5))
        .push(op(Opcode::Nop));
    constants.push(abi);
    constants.push(FatPointer { offset: 0, page: 0, start: 8 * 32, length: 64 }.to_u256());
    for c in constants {
        p = p.constant(c);
    }
    p.frame(FrameSettings {
        address: Address(H160::from_low_u64_be(precompile as u64)),
        ..FrameSettings::default()
    })
    .case(1_000_000)
}

fn abi(input_offset: u32, input_length: u32, rounds: u64) -> U256 {
    U256([input_offset as u64 | (input_length as u64) << 32, 8, 0, rounds])
}

fn output(case: &Case) -> (U256, U256) {
    let state = common::agree(case).state;
    let d = &state.return_data;
    (U256::from_big_endian(&d[..32]), U256::from_big_endian(&d[32..64]))
}

fn hex_word(s: &str) -> U256 {
    U256::from_str_radix(s, 16).unwrap()
}

#[test]
fn keccak256_known_answers() {
    let empty = call(KECCAK256, &[], abi(0, 0, 0));
    assert_eq!(
        output(&empty).0,
        hex_word("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
    );
    // "abc" at byte offset 5 of the heap (unaligned).
    let abc = U256::from_big_endian(&[0, 0, 0, 0, 0, b'a', b'b', b'c']) << (24 * 8);
    let case = call(KECCAK256, &[abc], abi(5, 3, 0));
    assert_eq!(
        output(&case).0,
        hex_word("4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
    );
    // 136 bytes exactly: a whole extra padding block.
    let ff = U256::MAX;
    let case = call(KECCAK256, &[ff, ff, ff, ff, ff], abi(0, 136, 0));
    let _ = output(&case);
}

#[test]
fn sha256_rounds_known_answer() {
    // "abc", padded by the caller into one 64-byte block.
    let mut block = [0u8; 64];
    block[..3].copy_from_slice(b"abc");
    block[3] = 0x80;
    block[63] = 24;
    let words = [U256::from_big_endian(&block[..32]), U256::from_big_endian(&block[32..])];
    let case = call(SHA256, &words, abi(0, 0, 1));
    assert_eq!(
        output(&case).0,
        hex_word("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    // No rounds: nothing is written.
    let case = call(SHA256, &words, abi(0, 0, 0));
    assert_eq!(output(&case).0, U256::zero());
}

#[test]
fn ecrecover_recovers_the_signer() {
    use k256::ecdsa::SigningKey;
    use sha3::{Digest, Keccak256};
    let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
    let digest = Keccak256::digest(b"eradiff");
    let (sig, id) = key.sign_prehash_recoverable(&digest).unwrap();
    let b = sig.to_bytes();
    let point = key.verifying_key().to_encoded_point(false);
    let hash = Keccak256::digest(&point.as_bytes()[1..]);
    let expected = U256::from_big_endian(&hash[12..]);
    let input = [
        U256::from_big_endian(&digest),
        U256::from(id.to_byte() & 1),
        U256::from_big_endian(&b[..32]),
        U256::from_big_endian(&b[32..]),
    ];
    assert_eq!(output(&call(ECRECOVER, &input, abi(0, 4, 0))), (U256::one(), expected));
    // The wrong parity recovers another key or none; r = 0 recovers none.
    let mut wrong = input;
    wrong[2] = U256::zero();
    assert_eq!(output(&call(ECRECOVER, &wrong, abi(0, 4, 0))), (U256::zero(), U256::zero()));
}

/// zk_evm asserts that v is 0 or 1 (and so panics); eravm reports a failed recovery. The
/// difference is on the known-divergence list, and this case keeps it honest.
#[test]
fn ecrecover_with_v_27_is_a_known_reference_crash() {
    use eradiff::backend::{EraVm, ZkEvm};
    use eradiff::differential::{check, explain, Finding, Verdict};
    let input = [U256::one(), U256::from(27u64), U256::one(), U256::one()];
    let case = call(ECRECOVER, &input, abi(0, 4, 0));
    let Verdict::Disagree(finding) = check(&case, &EraVm, &ZkEvm) else {
        panic!("zk_evm no longer panics on v = 27: update known-divergences.json");
    };
    assert!(matches!(&finding, Finding::Crash { backend, .. } if backend == "zk_evm"));
    let signature = explain(&case, &EraVm, &ZkEvm, finding).signature;
    assert!(
        eradiff::known::KnownDivergences::shipped().reason(&signature).is_some(),
        "{signature} is not on the known-divergence list"
    );
}
