//! SHA-256 compression rounds: the caller pads; each round takes the next 64 bytes (two
//! words) of the input page; after the last, the raw state (not a finalised digest of
//! anything but the padded input) goes to one word. No rounds, nothing written.

use primitive_types::U256;

use super::{read_word, write_word, PrecompileAbi};
use crate::memory::Memory;

const INITIAL_STATE: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

pub(super) fn run(abi: &PrecompileAbi, memory: &mut Memory) {
    let rounds = abi.interpreted;
    if rounds == 0 {
        return;
    }
    let mut state = INITIAL_STATE;
    let mut index = abi.input_offset;
    for _ in 0..rounds {
        let mut block = [0u8; 64];
        for half in 0..2 {
            read_word(memory, abi.read_page, index)
                .to_big_endian(&mut block[half * 32..half * 32 + 32]);
            index = index.wrapping_add(1);
        }
        sha2::compress256(&mut state, &[block.into()]);
    }
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    write_word(
        memory,
        abi.write_page,
        abi.output_offset,
        U256::from_big_endian(&out),
    );
}
