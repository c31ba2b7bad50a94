//! ecrecover: four input words (digest, v, r, s); two output words (1 and the address, or 0
//! and 0). High s is accepted (no malleability check); v must be 0 or 1.

use k256::elliptic_curve::ops::{LinearCombination, Reduce};
use k256::elliptic_curve::point::DecompressPoint;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::elliptic_curve::PrimeField;
use k256::{AffinePoint, ProjectivePoint, Scalar};
use primitive_types::U256;
use sha3::{Digest, Keccak256};

use super::{input_word, write_outcome, PrecompileAbi};
use crate::memory::Memory;

pub(super) fn run(abi: &PrecompileAbi, memory: &mut Memory) {
    let word = |i: u32| input_word(memory, abi, i);
    let (digest, v, r, s) = (word(0), word(1), word(2), word(3));
    let address = recover(&digest, v.byte(0), &r, &s);
    write_outcome(memory, abi, address.map(|a| [a]));
}

fn bytes(v: &U256) -> [u8; 32] {
    let mut out = [0u8; 32];
    v.to_big_endian(&mut out);
    out
}

/// The address whose key signed `digest` with (r, s) and recovery bit `v`.
fn recover(digest: &U256, v: u8, r: &U256, s: &U256) -> Option<U256> {
    if v > 1 {
        return None;
    }
    // r and s must be non-zero scalars below the group order.
    let r_scalar = Option::<Scalar>::from(Scalar::from_repr(bytes(r).into()))?;
    let s_scalar = Option::<Scalar>::from(Scalar::from_repr(bytes(s).into()))?;
    if bool::from(r_scalar.is_zero()) || bool::from(s_scalar.is_zero()) {
        return None;
    }
    let z = <Scalar as Reduce<k256::U256>>::reduce_bytes(&bytes(digest).into());
    let big_r = Option::<AffinePoint>::from(AffinePoint::decompress(
        &bytes(r).into(),
        k256::elliptic_curve::subtle::Choice::from(v),
    ))?;
    let r_inv = Option::<Scalar>::from(r_scalar.invert())?;
    let u1 = -(r_inv * z);
    let u2 = r_inv * s_scalar;
    let key = ProjectivePoint::lincomb(
        &ProjectivePoint::GENERATOR,
        &u1,
        &ProjectivePoint::from(big_r),
        &u2,
    );
    if key == ProjectivePoint::IDENTITY {
        return None;
    }
    let encoded = key.to_affine().to_encoded_point(false);
    let hash = Keccak256::digest(&encoded.as_bytes()[1..]);
    let mut address = [0u8; 32];
    address[12..].copy_from_slice(&hash[12..]);
    Some(U256::from_big_endian(&address))
}
