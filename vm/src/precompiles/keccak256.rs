//! keccak256 of a byte range of a page; the digest goes to one word of the output page.

use primitive_types::U256;
use sha3::{Digest, Keccak256};

use super::{read_word, write_word, PrecompileAbi};
use crate::memory::Memory;

pub(super) fn run(abi: &PrecompileAbi, memory: &mut Memory) {
    let mut hasher = Keccak256::new();
    let mut offset = abi.input_offset as u64;
    let end = offset + abi.input_length as u64;
    let mut word = [0u8; 32];
    // Reads go word by word; a byte offset past 2^32 still names word (offset / 32).
    while offset < end {
        let index = (offset / 32) as u32;
        let skip = (offset % 32) as usize;
        let take = ((32 - skip) as u64).min(end - offset) as usize;
        read_word(memory, abi.read_page, index).to_big_endian(&mut word);
        hasher.update(&word[skip..skip + take]);
        offset += take as u64;
    }
    let digest = U256::from_big_endian(&hasher.finalize());
    write_word(memory, abi.write_page, abi.output_offset, digest);
}
