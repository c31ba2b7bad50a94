//! secp256r1 (P-256) signature verification, as RIP-7212 describes it: five input words
//! (digest, r, s, x, y); two output words: (1, 1 or 0) when the signature and key parse,
//! (0, 0) when they do not. High s is accepted.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::FromEncodedPoint;
use p256::{AffinePoint, EncodedPoint};
use primitive_types::U256;

use super::{read_word, write_word, PrecompileAbi};
use crate::memory::Memory;

fn bytes(v: &U256) -> [u8; 32] {
    let mut out = [0u8; 32];
    v.to_big_endian(&mut out);
    out
}

/// `Some(valid)` if the signature and the key are well formed.
fn verify(digest: &U256, r: &U256, s: &U256, x: &U256, y: &U256) -> Option<bool> {
    let signature = Signature::from_scalars(bytes(r), bytes(s)).ok()?;
    let point = EncodedPoint::from_affine_coordinates(&bytes(x).into(), &bytes(y).into(), false);
    let key = Option::<AffinePoint>::from(AffinePoint::from_encoded_point(&point))?;
    let key = VerifyingKey::from_affine(key).ok()?;
    Some(key.verify_prehash(&bytes(digest), &signature).is_ok())
}

pub(super) fn run(abi: &PrecompileAbi, memory: &mut Memory) {
    let word = |i: u32| read_word(memory, abi.read_page, abi.input_offset.wrapping_add(i));
    let (digest, r, s, x, y) = (word(0), word(1), word(2), word(3), word(4));
    let (flag, valid) = match verify(&digest, &r, &s, &x, &y) {
        Some(valid) => (U256::one(), U256::from(valid as u8)),
        None => (U256::zero(), U256::zero()),
    };
    write_word(memory, abi.write_page, abi.output_offset, flag);
    write_word(
        memory,
        abi.write_page,
        abi.output_offset.wrapping_add(1),
        valid,
    );
}
