//! secp256r1 (P-256) signature verification, as RIP-7212 describes it: five input words
//! (digest, r, s, x, y); two output words: (1, 1 or 0) when the signature and key parse,
//! (0, 0) when they do not. High s is accepted.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::FromEncodedPoint;
use p256::{AffinePoint, EncodedPoint};
use primitive_types::U256;

use super::{input_word, write_outcome, PrecompileAbi};
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
    let word = |i: u32| input_word(memory, abi, i);
    let (digest, r, s, x, y) = (word(0), word(1), word(2), word(3), word(4));
    let valid = verify(&digest, &r, &s, &x, &y);
    write_outcome(memory, abi, valid.map(|v| [U256::from(v as u8)]));
}
