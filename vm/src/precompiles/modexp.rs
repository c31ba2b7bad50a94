//! modexp on 256-bit numbers: three input words (base, exponent, modulus), one output word,
//! base^exponent mod modulus — 0 for a zero modulus, and 0^0 = 1.

use primitive_types::{U256, U512};

use super::{input_word, write_word, PrecompileAbi};
use crate::memory::Memory;

fn mul_mod(a: U256, b: U256, m: U256) -> U256 {
    let product: U512 = a.full_mul(b);
    let rem = product % U512::from(m);
    U256([rem.0[0], rem.0[1], rem.0[2], rem.0[3]])
}

pub fn modexp(base: U256, exponent: U256, modulus: U256) -> U256 {
    if modulus.is_zero() {
        return U256::zero();
    }
    if modulus == U256::one() {
        return U256::zero();
    }
    let mut result = U256::one();
    let mut b = base % modulus;
    let mut e = exponent;
    while !e.is_zero() {
        if e.bit(0) {
            result = mul_mod(result, b, modulus);
        }
        b = mul_mod(b, b, modulus);
        e >>= 1;
    }
    result
}

pub(super) fn run(abi: &PrecompileAbi, memory: &mut Memory) {
    let word = |i: u32| input_word(memory, abi, i);
    let result = modexp(word(0), word(1), word(2));
    write_word(memory, abi.write_page, abi.output_offset, result);
}
