//! The alt_bn128 (BN254) precompiles of EIP-196/197: ecadd (x1, y1, x2, y2 → 1, x, y),
//! ecmul (x, y, s → 1, x, y) and ecpairing (the ABI's 64-bit field counts the pairs of six
//! words each → 1, 1 if the product of pairings is one). The point at infinity is (0, 0);
//! coordinates must be below the field prime and points on the curve (G2 points also in the
//! subgroup), else the output is all zeros. ecmul reduces the scalar modulo the group order.

use bn::{AffineG1, AffineG2, Fq, Fq2, Fr, Group, G1, G2};
use primitive_types::U256;

use super::{input_word, read_word, write_outcome, PrecompileAbi};
use crate::memory::Memory;

const GROUP_ORDER: U256 = U256([
    0x43e1f593f0000001,
    0x2833e84879b97091,
    0xb85045b68181585d,
    0x30644e72e131a029,
]);

fn fq(v: &U256) -> Option<Fq> {
    let mut b = [0u8; 32];
    v.to_big_endian(&mut b);
    Fq::from_slice(&b).ok()
}

fn word(f: Fq) -> U256 {
    let mut b = [0u8; 32];
    f.to_big_endian(&mut b).expect("32 bytes");
    U256::from_big_endian(&b)
}

fn g1(x: &U256, y: &U256) -> Option<G1> {
    let (x, y) = (fq(x)?, fq(y)?);
    if x.is_zero() && y.is_zero() {
        return Some(G1::zero());
    }
    AffineG1::new(x, y).ok().map(G1::from)
}

/// A G2 point from EIP-197's order: x imaginary, x real, y imaginary, y real.
fn g2(w: &[U256]) -> Option<G2> {
    let (xi, xr, yi, yr) = (fq(&w[0])?, fq(&w[1])?, fq(&w[2])?, fq(&w[3])?);
    let (x, y) = (Fq2::new(xr, xi), Fq2::new(yr, yi));
    if x.is_zero() && y.is_zero() {
        return Some(G2::zero());
    }
    AffineG2::new(x, y).ok().map(G2::from)
}

fn affine(p: G1) -> (U256, U256) {
    match AffineG1::from_jacobian(p) {
        Some(a) => (word(a.x()), word(a.y())),
        None => (U256::zero(), U256::zero()),
    }
}

fn write_point(memory: &mut Memory, abi: &PrecompileAbi, result: Option<G1>) {
    write_outcome(
        memory,
        abi,
        result.map(|p| {
            let (x, y) = affine(p);
            [x, y]
        }),
    );
}

fn input(memory: &Memory, abi: &PrecompileAbi, n: u32) -> Vec<U256> {
    (0..n).map(|i| input_word(memory, abi, i)).collect()
}

pub(super) fn ecadd(abi: &PrecompileAbi, memory: &mut Memory) {
    let w = input(memory, abi, 4);
    let sum = (|| Some(g1(&w[0], &w[1])? + g1(&w[2], &w[3])?))();
    write_point(memory, abi, sum);
}

pub(super) fn ecmul(abi: &PrecompileAbi, memory: &mut Memory) {
    let w = input(memory, abi, 3);
    let product = (|| {
        let point = g1(&w[0], &w[1])?;
        let mut s = w[2];
        while s >= GROUP_ORDER {
            s -= GROUP_ORDER;
        }
        let mut b = [0u8; 32];
        s.to_big_endian(&mut b);
        Some(point * Fr::from_slice(&b).ok()?)
    })();
    write_point(memory, abi, product);
}

pub(super) fn ecpairing(abi: &PrecompileAbi, memory: &mut Memory) {
    let pairs = abi.interpreted;
    let check = (|| {
        let mut points = Vec::new();
        for i in 0..pairs {
            let base = abi.input_offset.wrapping_add((i as u32).wrapping_mul(6));
            let w: Vec<U256> = (0..6)
                .map(|k| read_word(memory, abi.read_page, base.wrapping_add(k)))
                .collect();
            points.push((g1(&w[0], &w[1])?, g2(&w[2..6])?));
        }
        Some(points.is_empty() || bn::pairing_batch(&points) == bn::Gt::one())
    })();
    write_outcome(memory, abi, check.map(|ok| [U256::from(ok as u8)]));
}
