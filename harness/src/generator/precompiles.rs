//! Precompile calls: the `precompiles` target.
//!
//! The first frame runs at a precompile's address (so its `log.precompile` reaches that
//! precompile), writes an input to memory, calls the precompile with an ABI that is usually
//! sensible and sometimes not (odd offsets, other pages, huge rounds, too few extra ergs),
//! reads the output back and returns it.

use arbitrary::{Result, Unstructured};
use eravm::precompiles::{
    ECADD, ECMUL, ECPAIRING, ECRECOVER, KECCAK256, MODEXP, SECP256R1_VERIFY, SHA256,
};
use eravm::{Instruction, Opcode, SrcMode, H160, U256};

use super::{pick, value, Settings};
use crate::case::{Address, Bytes, Case, FrameSettings, Word, CASE_FORMAT_VERSION};

/// The precompiles eravm runs today.
pub const GENERATED: [u16; 8] = [
    KECCAK256,
    SHA256,
    ECRECOVER,
    SECP256R1_VERIFY,
    MODEXP,
    ECADD,
    ECMUL,
    ECPAIRING,
];

mod bn254 {
    //! Points of BN254 as the precompiles take them, valid and broken.
    use arbitrary::{Result, Unstructured};
    use bn::{AffineG1, AffineG2, Fq, Fr, Group, G1, G2};
    use eravm::U256;

    use crate::generator::pick;

    pub const PRIME: &str = "30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47";
    pub const ORDER: &str = "30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";

    fn word(f: Fq) -> U256 {
        let mut b = [0u8; 32];
        f.to_big_endian(&mut b).expect("32 bytes");
        U256::from_big_endian(&b)
    }

    pub fn scalar(u: &mut Unstructured) -> Result<Fr> {
        let mut b = [0u8; 32];
        u.fill_buffer(&mut b)?;
        b[0] &= 0x1f;
        Ok(Fr::from_slice(&b).unwrap_or_else(|_| Fr::one()))
    }

    pub fn g1_words(p: G1) -> [U256; 2] {
        match AffineG1::from_jacobian(p) {
            Some(a) => [word(a.x()), word(a.y())],
            None => [U256::zero(), U256::zero()],
        }
    }

    /// A G1 point: a multiple of the generator, infinity, off the curve, or not in the field.
    pub fn g1(u: &mut Unstructured) -> Result<[U256; 2]> {
        let prime = U256::from_str_radix(PRIME, 16).expect("prime");
        Ok(match pick(u, &[10, 2, 1, 1])? {
            0 => *u.choose(&G1_MULTIPLES)?,
            1 => [U256::zero(), U256::zero()],
            2 => [U256::one(), U256::from(3u64)],
            _ => [prime + U256::one(), U256::from(2u64)],
        })
    }

    /// A G2 point in EIP-197 order (x imaginary, x real, y imaginary, y real).
    pub fn g2_words(q: G2) -> [U256; 4] {
        match AffineG2::from_jacobian(q) {
            Some(a) => [
                word(a.x().imaginary()),
                word(a.x().real()),
                word(a.y().imaginary()),
                word(a.y().real()),
            ],
            None => [U256::zero(); 4],
        }
    }

    /// The `i`-th of a fixed list of scalars that look random.
    fn listed_scalar(i: u64) -> Fr {
        let mut b = [0u8; 32];
        for (j, chunk) in b.chunks_mut(8).enumerate() {
            let x = (i * 4 + j as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            chunk.copy_from_slice(&(x ^ x >> 29).to_be_bytes());
        }
        b[0] &= 0x1f;
        Fr::from_slice(&b).unwrap_or_else(|_| Fr::one())
    }

    /// Multiples of the generators (G2 ones with their scalars), made once per process: a
    /// scalar multiplication costs more than running a whole case, so cases pick from these.
    static G1_MULTIPLES: std::sync::LazyLock<Vec<[U256; 2]>> = std::sync::LazyLock::new(|| {
        (1..=64)
            .map(|i| g1_words(G1::one() * listed_scalar(i)))
            .collect()
    });
    static G2_MULTIPLES: std::sync::LazyLock<Vec<(Fr, [U256; 4])>> =
        std::sync::LazyLock::new(|| {
            (100..132)
                .map(|i| {
                    let k = listed_scalar(i);
                    (k, g2_words(G2::one() * k))
                })
                .collect()
        });

    /// A multiple of the G2 generator, with its scalar.
    fn g2_multiple(u: &mut Unstructured) -> Result<(Fr, [U256; 4])> {
        Ok(*u.choose(&G2_MULTIPLES)?)
    }

    pub fn g2(u: &mut Unstructured) -> Result<[U256; 4]> {
        Ok(match pick(u, &[10, 2, 1])? {
            0 => g2_multiple(u)?.1,
            1 => [U256::zero(); 4],
            _ => [
                U256::one(),
                U256::from(2u64),
                U256::from(3u64),
                U256::from(4u64),
            ],
        })
    }

    /// Pairs for ecpairing: e(aP, bQ)·e(−abP, Q) = 1 (true), random pairs (false), broken ones.
    pub fn pairs(u: &mut Unstructured) -> Result<(Vec<U256>, u64)> {
        let mut words = Vec::new();
        let n: u64 = match pick(u, &[1, 4, 3, 2])? {
            0 => 0,
            1 => {
                let a = scalar(u)?;
                let (b, bq) = g2_multiple(u)?;
                words.extend(g1_words(G1::one() * a));
                words.extend(bq);
                words.extend(g1_words(-(G1::one() * (a * b))));
                words.extend(g2_words(G2::one()));
                2
            }
            2 => {
                let n = u.int_in_range(1..=3u64)?;
                for _ in 0..n {
                    words.extend(g1(u)?);
                    words.extend(g2(u)?);
                }
                n
            }
            _ => {
                words.extend(g1(u)?);
                words.extend(g2(u)?);
                1
            }
        };
        Ok((words, n))
    }
}

fn load(
    code: &mut Vec<Instruction>,
    constants: &mut Vec<U256>,
    loads: &mut Vec<(usize, usize)>,
    v: U256,
    reg: u8,
) {
    let mut ins = Instruction::new(Opcode::Add);
    ins.src0_mode = SrcMode::CodePage;
    ins.dst0 = reg;
    loads.push((code.len(), constants.len()));
    constants.push(v);
    code.push(ins);
}

/// Words of an ecrecover input: digest, v, r, s — a real signature, or a broken one.
fn ecrecover_input(u: &mut Unstructured) -> Result<Vec<U256>> {
    use k256::ecdsa::SigningKey;
    let mut key_bytes = [0u8; 32];
    u.fill_buffer(&mut key_bytes)?;
    key_bytes[0] |= 1;
    key_bytes[31] |= 1;
    let mut digest = [0u8; 32];
    u.fill_buffer(&mut digest)?;
    let (mut r, mut s, mut v) = match SigningKey::from_slice(&key_bytes)
        .ok()
        .and_then(|k| k.sign_prehash_recoverable(&digest).ok())
    {
        Some((sig, id)) => {
            let b = sig.to_bytes();
            (
                U256::from_big_endian(&b[..32]),
                U256::from_big_endian(&b[32..]),
                U256::from(id.to_byte() & 1),
            )
        }
        None => (value(u)?, value(u)?, U256::zero()),
    };
    let order = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .expect("the secp256k1 order");
    match pick(u, &[10, 2, 1, 1, 1, 1, 2, 1])? {
        0 => {}
        // The malleable twin: high s with the other parity, which ecrecover here accepts.
        1 => {
            s = order - s;
            v = U256::from(1u64) - v;
        }
        2 => r = U256::zero(),
        3 => s = U256::zero(),
        4 => r = order + U256::from(u.int_in_range(0..=5u64)?),
        5 => s = order,
        6 => v = U256::from(1u64) - v,
        // Only the last byte of v counts.
        _ => v = v | (U256::from(u.arbitrary::<u64>()?) << 8),
    }
    Ok(vec![U256::from_big_endian(&digest), v, r, s])
}

/// Words of a secp256r1 input: digest, r, s, x, y — a real signature, or a broken one.
fn secp256r1_input(u: &mut Unstructured) -> Result<Vec<U256>> {
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    use p256::ecdsa::{Signature, SigningKey};
    let mut key_bytes = [0u8; 32];
    u.fill_buffer(&mut key_bytes)?;
    key_bytes[0] = (key_bytes[0] & 0x7f) | 1;
    let mut digest = [0u8; 32];
    u.fill_buffer(&mut digest)?;
    let Ok(key) = SigningKey::from_slice(&key_bytes) else {
        return (0..5).map(|_| value(u)).collect();
    };
    let signature: Signature = key.sign_prehash(&digest).expect("signing a digest works");
    let b = signature.to_bytes();
    let point = key.verifying_key().to_encoded_point(false);
    let mut words = vec![
        U256::from_big_endian(&digest),
        U256::from_big_endian(&b[..32]),
        U256::from_big_endian(&b[32..]),
        U256::from_big_endian(point.x().expect("uncompressed")),
        U256::from_big_endian(point.y().expect("uncompressed")),
    ];
    let order = U256::from_str_radix(
        "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
        16,
    )
    .expect("the P-256 order");
    let prime = U256::from_str_radix(
        "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
        16,
    )
    .expect("the P-256 prime");
    match pick(u, &[8, 2, 1, 1, 1, 1, 1, 2])? {
        0 => {}
        // High s: the same signature, which this precompile accepts.
        1 => words[2] = order - words[2],
        2 => words[1] = U256::zero(),
        3 => words[2] = order,
        4 => words[4] = words[4] ^ U256::one(), // off the curve
        5 => words[3] = prime + U256::from(u.int_in_range(0..=3u64)?),
        6 => words[0] = words[0] ^ U256::one(), // another digest: parses, does not verify
        _ => {
            words[3] = U256::zero();
            words[4] = U256::zero();
        }
    }
    Ok(words)
}

fn modexp_input(u: &mut Unstructured) -> Result<Vec<U256>> {
    let small = |u: &mut Unstructured| -> Result<U256> {
        Ok(match pick(u, &[2, 2, 3])? {
            0 => U256::from(u.int_in_range(0..=2u64)?),
            1 => U256::from(u.int_in_range(0..=1000u64)?),
            _ => value(u)?,
        })
    };
    Ok(vec![small(u)?, small(u)?, small(u)?])
}

/// A case of the precompiles target, drawn from `u`.
pub fn generate(u: &mut Unstructured, settings: &Settings) -> Result<Case> {
    let precompile = *u.choose(&GENERATED)?;
    let mut code = Vec::new();
    let mut constants = Vec::new();
    let mut loads = Vec::new();

    // The input, written to the heap word by word.
    let input_word = *u.choose(&[0u32, 1, 2, 5])?;
    let mut pairs = 0u64;
    let words: Vec<U256> = match precompile {
        ECRECOVER => ecrecover_input(u)?,
        SECP256R1_VERIFY => secp256r1_input(u)?,
        MODEXP => modexp_input(u)?,
        ECADD => [bn254::g1(u)?, bn254::g1(u)?].concat(),
        ECMUL => {
            let order = U256::from_str_radix(bn254::ORDER, 16).expect("order");
            let s = match pick(u, &[4, 1, 1, 1, 1])? {
                0 => value(u)?,
                1 => order,
                2 => order + U256::one(),
                3 => U256::MAX,
                _ => U256::from(u.int_in_range(0..=3u64)?),
            };
            [bn254::g1(u)?.to_vec(), vec![s]].concat()
        }
        ECPAIRING => {
            let (words, n) = bn254::pairs(u)?;
            pairs = n;
            words
        }
        _ => (0..u.int_in_range(0..=12usize)?)
            .map(|_| value(u))
            .collect::<Result<_>>()?,
    };
    for (i, w) in words.iter().enumerate() {
        load(&mut code, &mut constants, &mut loads, *w, 4);
        let mut st = Instruction::new(Opcode::HeapWrite);
        st.src0_mode = SrcMode::Imm;
        st.imm0 = ((input_word as usize + i) * 32) as u16;
        st.src1 = 4;
        code.push(st);
    }

    let output_word = *u.choose(&[0u32, 1, 8, 20])?;
    let (input_offset, input_length, interpreted) = match precompile {
        KECCAK256 => {
            let start = input_word * 32 + *u.choose(&[0u32, 0, 1, 7, 31])?;
            let len = match pick(u, &[6, 3, 1])? {
                0 => u.int_in_range(0..=(words.len() as u32 * 32))?,
                1 => *u.choose(&[0u32, 135, 136, 137, 272])?,
                _ => u.int_in_range(0..=2000u32)?,
            };
            (start, len, 0u64)
        }
        SHA256 => (input_word, 0, *u.choose(&[0u64, 1, 1, 2, 3, 5])?),
        ECPAIRING => (input_word, words.len() as u32, pairs),
        _ => (input_word, words.len() as u32, 0),
    };
    let page = |u: &mut Unstructured| -> Result<u64> {
        Ok(match pick(u, &[10, 1, 1, 1])? {
            0 => 0,
            1 => 11, // the aux heap
            2 => 7,  // the calldata page
            _ => 1,  // static memory
        })
    };
    // ecrecover reading another page would see arbitrary bytes as v, and zk_evm panics on a
    // v other than 0 or 1 (a known divergence, kept by its own test): read its heap input.
    let read_page = if precompile == ECRECOVER { 0 } else { page(u)? };
    let write_page = page(u)?;
    let abi = U256([
        input_offset as u64 | (input_length as u64) << 32,
        output_word as u64 | 2 << 32,
        read_page | write_page << 32,
        interpreted,
    ]);
    let extra_ergs: u64 = match pick(u, &[6, 2, 1])? {
        0 => u.int_in_range(0..=2_000)?,
        1 => u.int_in_range(0..=200_000)?,
        _ => u32::MAX as u64,
    };
    let extra_pubdata: u64 = if u.ratio(1, 4)? {
        u.int_in_range(0..=1_000)?
    } else {
        0
    };
    load(&mut code, &mut constants, &mut loads, abi, 1);
    load(
        &mut code,
        &mut constants,
        &mut loads,
        U256::from(extra_ergs | extra_pubdata << 32),
        2,
    );
    let mut call = Instruction::new(Opcode::PrecompileCall);
    call.src0 = 1;
    call.src1 = 2;
    call.dst0 = 3;
    code.push(call);
    // Return the output (and the success word) through the heap.
    let mut st = Instruction::new(Opcode::HeapWrite);
    st.src0_mode = SrcMode::Imm;
    st.imm0 = 30 * 32;
    st.src1 = 3;
    code.push(st);
    let ret_abi = eravm::FatPointer {
        offset: 0,
        page: 0,
        start: 0,
        length: 32 * 40,
    }
    .to_u256();
    load(&mut code, &mut constants, &mut loads, ret_abi, 5);
    let mut ret = Instruction::new(Opcode::RetOk);
    ret.src0 = 5;
    code.push(ret);

    let words_len = code.len().div_ceil(4);
    for (at, k) in &loads {
        code[*at].imm0 = (words_len + k) as u16;
    }
    let raw: Vec<u64> = code.iter().map(|i| i.encode().expect("valid")).collect();
    let mut packed = super::pack(&raw);
    packed.extend(constants.into_iter().map(Word));

    let frame = FrameSettings {
        address: Address(H160::from_low_u64_be(precompile as u64)),
        ..FrameSettings::default()
    };
    Ok(Case {
        version: CASE_FORMAT_VERSION,
        code: packed,
        ergs: match pick(u, &[8, 1])? {
            0 => u.int_in_range(10_000..=10_000_000)?,
            _ => u.int_in_range(0..=2_000)?,
        },
        registers: Vec::new(),
        calldata: Bytes(
            (0..u.int_in_range(0..=64usize)?)
                .map(|_| u.arbitrary::<u8>())
                .collect::<Result<_>>()?,
        ),
        frame,
        max_cycles: settings.max_cycles,
        flags: Default::default(),
        note: String::new(),
        world: None,
        start: None,
        batch: None,
    })
}
