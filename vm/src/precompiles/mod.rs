//! Precompiles: what `log.precompile` runs, chosen by the address of the calling system
//! contract.
//!
//! The ABI word (src0) says where input and output live: input and output offsets and
//! lengths (bytes for keccak256's input, 32-byte words elsewhere), the pages to read and to
//! write (0 means the caller's heap), and 64 bits the precompile interprets (sha256: the
//! number of rounds). The caller pays `extra_ergs_cost` and `extra_pubdata_cost` from src1;
//! the precompile itself does exactly what the ABI says, whatever that costs.

mod bn254;
mod ecrecover;
mod keccak256;
mod modexp;
mod secp256r1;
mod sha256;

use primitive_types::U256;

use crate::memory::Memory;
use crate::state::{PageId, TaggedWord};

/// The precompile call ABI, as packed in src0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrecompileAbi {
    pub input_offset: u32,
    pub input_length: u32,
    pub output_offset: u32,
    pub output_length: u32,
    pub read_page: u32,
    pub write_page: u32,
    pub interpreted: u64,
}

impl PrecompileAbi {
    pub fn from_word(w: &U256) -> PrecompileAbi {
        PrecompileAbi {
            input_offset: w.0[0] as u32,
            input_length: (w.0[0] >> 32) as u32,
            output_offset: w.0[1] as u32,
            output_length: (w.0[1] >> 32) as u32,
            read_page: w.0[2] as u32,
            write_page: (w.0[2] >> 32) as u32,
            interpreted: w.0[3],
        }
    }
}

/// Precompile addresses (low 16 bits of the calling contract's address).
pub const ECRECOVER: u16 = 0x0001;
pub const SHA256: u16 = 0x0002;
pub const MODEXP: u16 = 0x0005;
pub const ECADD: u16 = 0x0006;
pub const ECMUL: u16 = 0x0007;
pub const ECPAIRING: u16 = 0x0008;
pub const SECP256R1_VERIFY: u16 = 0x0100;
pub const KECCAK256: u16 = 0x8010;

/// Runs the precompile of `address_low` on `memory`; any other address runs nothing (`None`).
/// Returns whether the input was well formed (for the signature and curve precompiles: the
/// success word they wrote; for the others: a non-degenerate request), for statistics.
pub fn run(address_low: u16, abi: &PrecompileAbi, memory: &mut Memory) -> Option<bool> {
    match address_low {
        KECCAK256 => keccak256::run(abi, memory),
        SHA256 => sha256::run(abi, memory),
        ECRECOVER => ecrecover::run(abi, memory),
        SECP256R1_VERIFY => secp256r1::run(abi, memory),
        MODEXP => modexp::run(abi, memory),
        ECADD => bn254::ecadd(abi, memory),
        ECMUL => bn254::ecmul(abi, memory),
        ECPAIRING => bn254::ecpairing(abi, memory),
        _ => return None,
    }
    Some(match address_low {
        KECCAK256 => abi.input_length > 0,
        SHA256 => abi.interpreted > 0,
        MODEXP => read_word(memory, abi.read_page, abi.input_offset.wrapping_add(2)) > U256::one(),
        _ => read_word(memory, abi.write_page, abi.output_offset) == U256::one(),
    })
}

fn read_word(memory: &Memory, page: u32, index: u32) -> U256 {
    memory.read(PageId(page), index).value
}

fn write_word(memory: &mut Memory, page: u32, index: u32, value: U256) {
    // The caller rechecks decoded code after every precompile.
    let _wrote_code = memory.write(PageId(page), index, TaggedWord::integer(value));
}

fn input_word(memory: &Memory, abi: &PrecompileAbi, i: u32) -> U256 {
    read_word(memory, abi.read_page, abi.input_offset.wrapping_add(i))
}

/// Writes the output words from the output offset on: the success word (1), then `values`;
/// or, for input that does not parse, zeros in their place.
fn write_outcome<const N: usize>(
    memory: &mut Memory,
    abi: &PrecompileAbi,
    values: Option<[U256; N]>,
) {
    let (flag, values) = match values {
        Some(v) => (U256::one(), v),
        None => (U256::zero(), [U256::zero(); N]),
    };
    write_word(memory, abi.write_page, abi.output_offset, flag);
    for (i, v) in values.into_iter().enumerate() {
        write_word(
            memory,
            abi.write_page,
            abi.output_offset.wrapping_add(1 + i as u32),
            v,
        );
    }
}
