//! Known answers for the precompiles eravm runs, on both VMs.

mod common;

use eradiff::asm::{op, Program};
use eradiff::case::{Address, Case, FrameSettings};
use eravm::precompiles::{
    ECADD, ECMUL, ECPAIRING, ECRECOVER, KECCAK256, MODEXP, SECP256R1_VERIFY, SHA256,
};
use eravm::{FatPointer, Opcode, SrcMode, H160, U256};

/// A program at `precompile`'s address that writes `input` words from heap word 0, calls the
/// precompile with `abi` (output at word 8), and returns heap words 8 to 10.
fn call(precompile: u16, input: &[U256], abi: U256) -> Case {
    let mut p = Program::new();
    let mut constants = Vec::new();
    // The constant pool starts after all instructions: 2 per input word, then 5.
    let instructions = input.len() * 2 + 5;
    let first = instructions.div_ceil(4) as u16;
    for (i, w) in input.iter().enumerate() {
        p = p
            .push(
                op(Opcode::Add)
                    .src_mode(SrcMode::CodePage, first + i as u16)
                    .dst(4),
            )
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
    constants.push(
        FatPointer {
            offset: 0,
            page: 0,
            start: 8 * 32,
            length: 96,
        }
        .to_u256(),
    );
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
    U256([
        input_offset as u64 | (input_length as u64) << 32,
        8,
        0,
        rounds,
    ])
}

fn output(case: &Case) -> (U256, U256) {
    let words = output3(case);
    (words[0], words[1])
}

fn output3(case: &Case) -> [U256; 3] {
    let state = common::agree(case).state;
    let d = &state.return_data;
    [
        U256::from_big_endian(&d[..32]),
        U256::from_big_endian(&d[32..64]),
        U256::from_big_endian(&d[64..96]),
    ]
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
    let words = [
        U256::from_big_endian(&block[..32]),
        U256::from_big_endian(&block[32..]),
    ];
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
    assert_eq!(
        output(&call(ECRECOVER, &input, abi(0, 4, 0))),
        (U256::one(), expected)
    );
    // The wrong parity recovers another key or none; r = 0 recovers none.
    let mut wrong = input;
    wrong[2] = U256::zero();
    assert_eq!(
        output(&call(ECRECOVER, &wrong, abi(0, 4, 0))),
        (U256::zero(), U256::zero())
    );
}

/// zk_evm asserts that v is 0 or 1 (and so panics); eravm reports a failed recovery. The
/// difference is on the known-divergence list, and this case keeps it honest.
#[test]
fn ecrecover_with_v_27_is_a_known_reference_crash() {
    use eradiff::differential::{Finding, Judge, Verdict};
    let input = [U256::one(), U256::from(27u64), U256::one(), U256::one()];
    let case = call(ECRECOVER, &input, abi(0, 4, 0));
    let Verdict::Disagree(finding) = Judge::default().check(&case) else {
        panic!("zk_evm no longer panics on v = 27: update known-divergences.json");
    };
    assert!(matches!(&finding, Finding::Crash { backend, .. } if backend == "zk_evm"));
    let signature = Judge::default().explain(&case, finding).signature;
    assert!(
        eradiff::known::KnownDivergences::shipped()
            .reason(&signature)
            .is_some(),
        "{signature} is not on the known-divergence list"
    );
}

#[test]
fn modexp_known_answers() {
    let run = |b: u64, e: u64, m: u64| {
        output(&call(MODEXP, &[b.into(), e.into(), m.into()], abi(0, 3, 0))).0
    };
    assert_eq!(run(3, 5, 7), U256::from(5));
    assert_eq!(run(0, 0, 5), U256::one());
    assert_eq!(run(12, 34, 0), U256::zero());
    assert_eq!(run(12, 34, 1), U256::zero());
    let big = output(&call(
        MODEXP,
        &[U256::MAX, U256::MAX, U256::MAX - 1],
        abi(0, 3, 0),
    ))
    .0;
    assert!(big < U256::MAX - 1);
}

#[test]
fn secp256r1_verifies() {
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    use p256::ecdsa::{Signature, SigningKey};
    let key = SigningKey::from_slice(&[9u8; 32]).unwrap();
    let digest = [0x42u8; 32];
    let sig: Signature = key.sign_prehash(&digest).unwrap();
    let b = sig.to_bytes();
    let point = key.verifying_key().to_encoded_point(false);
    let mut input = [
        U256::from_big_endian(&digest),
        U256::from_big_endian(&b[..32]),
        U256::from_big_endian(&b[32..]),
        U256::from_big_endian(point.x().unwrap()),
        U256::from_big_endian(point.y().unwrap()),
    ];
    assert_eq!(
        output(&call(SECP256R1_VERIFY, &input, abi(0, 5, 0))),
        (U256::one(), U256::one())
    );
    input[0] = input[0] ^ U256::one();
    assert_eq!(
        output(&call(SECP256R1_VERIFY, &input, abi(0, 5, 0))),
        (U256::one(), U256::zero())
    );
    input[1] = U256::zero();
    assert_eq!(
        output(&call(SECP256R1_VERIFY, &input, abi(0, 5, 0))),
        (U256::zero(), U256::zero())
    );
}

/// EIP-196/197 vectors: 2·G by addition and by multiplication, and e(G1, G2)·e(−G1, G2) = 1.
#[test]
fn bn254_known_answers() {
    let two_g = [
        U256::one(),
        hex_word("030644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd3"),
        hex_word("15ed738c0e0a7c92e7845f96b2ae9c0a68a6a449e3538fc7ff3ebf7a5a18a2c4"),
    ];
    let g = [U256::one(), U256::from(2)];
    assert_eq!(
        output3(&call(ECADD, &[g[0], g[1], g[0], g[1]], abi(0, 4, 0))),
        two_g
    );
    assert_eq!(
        output3(&call(ECMUL, &[g[0], g[1], U256::from(2)], abi(0, 3, 0))),
        two_g
    );
    // Off the curve: all zeros.
    assert_eq!(
        output3(&call(
            ECADD,
            &[U256::one(), U256::from(3), g[0], g[1]],
            abi(0, 4, 0)
        )),
        [U256::zero(); 3]
    );
    let p = hex_word("30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47");
    let g2 = [
        hex_word("198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c2"),
        hex_word("1800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed"),
        hex_word("090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b"),
        hex_word("12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa"),
    ];
    let mut input = vec![g[0], g[1]];
    input.extend(g2);
    input.extend([g[0], p - U256::from(2)]);
    input.extend(g2);
    assert_eq!(
        output(&call(ECPAIRING, &input, abi(0, 12, 2))),
        (U256::one(), U256::one())
    );
    // One pair alone does not multiply to one.
    assert_eq!(
        output(&call(ECPAIRING, &input[..6], abi(0, 6, 1))),
        (U256::one(), U256::zero())
    );
}
