//! Precompile calls: the `precompiles` target.
//!
//! The first frame runs at a precompile's address (so its `log.precompile` reaches that
//! precompile), writes an input to memory, calls the precompile with an ABI that is usually
//! sensible and sometimes not (odd offsets, other pages, huge rounds, too few extra ergs),
//! reads the output back and returns it.

use arbitrary::{Result, Unstructured};
use eravm::precompiles::{ECRECOVER, KECCAK256, SHA256};
use eravm::{Instruction, Opcode, SrcMode, H160, U256};

use super::{pick, value, Settings};
use crate::case::{Address, Bytes, Case, FrameSettings, Word, CASE_FORMAT_VERSION};

/// The precompiles eravm runs today.
pub const GENERATED: [u16; 3] = [KECCAK256, SHA256, ECRECOVER];

fn load(code: &mut Vec<Instruction>, constants: &mut Vec<U256>, loads: &mut Vec<(usize, usize)>, v: U256, reg: u8) {
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
            (U256::from_big_endian(&b[..32]), U256::from_big_endian(&b[32..]), U256::from(id.to_byte() & 1))
        }
        None => (value(u)?, value(u)?, U256::zero()),
    };
    let order = U256::from_str_radix("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 16)
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

pub fn generate(u: &mut Unstructured, settings: &Settings) -> Result<Case> {
    let precompile = *u.choose(&GENERATED)?;
    let mut code = Vec::new();
    let mut constants = Vec::new();
    let mut loads = Vec::new();

    // The input, written to the heap word by word.
    let input_word = *u.choose(&[0u32, 1, 2, 5])?;
    let words: Vec<U256> = match precompile {
        ECRECOVER => ecrecover_input(u)?,
        _ => (0..u.int_in_range(0..=12usize)?).map(|_| value(u)).collect::<Result<_>>()?,
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
        _ => (input_word, 4, 0),
    };
    let page = |u: &mut Unstructured| -> Result<u64> {
        Ok(match pick(u, &[10, 1, 1, 1])? {
            0 => 0,
            1 => 11, // the aux heap
            2 => 7,  // the calldata page
            _ => 1,  // static memory
        })
    };
    let read_page = page(u)?;
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
    let extra_pubdata: u64 = if u.ratio(1, 4)? { u.int_in_range(0..=1_000)? } else { 0 };
    load(&mut code, &mut constants, &mut loads, abi, 1);
    load(&mut code, &mut constants, &mut loads, U256::from(extra_ergs | extra_pubdata << 32), 2);
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
        calldata: Bytes((0..u.int_in_range(0..=64usize)?).map(|_| u.arbitrary::<u8>()).collect::<Result<_>>()?),
        frame,
        max_cycles: settings.max_cycles,
        note: String::new(),
        world: None,
    })
}
