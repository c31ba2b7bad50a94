//! Versioned bytecode hashes: byte 0 the version (1 EraVM bytecode, 2 EVM bytecode blob),
//! byte 1 the construction marker (0 constructed, 1 being constructed), bytes 2–3 the length,
//! bytes 4–31 the hash proper.

use primitive_types::U256;

/// Byte 0 of the hash of EraVM bytecode.
pub const ERAVM_VERSION: u8 = 1;
/// Byte 0 of the hash of an EVM bytecode blob.
pub const EVM_BLOB_VERSION: u8 = 2;
/// Byte 1 of the hash of a constructed contract's code.
pub const AT_REST: u8 = 0;
/// Byte 1 of the hash of code whose constructor is running.
pub const BEING_CONSTRUCTED: u8 = 1;

/// The hash as its 32 bytes, big-endian (byte 0 the version).
pub fn bytes(hash: &U256) -> [u8; 32] {
    let mut out = [0u8; 32];
    hash.to_big_endian(&mut out);
    out
}

/// The hash proper, bytes 4..32: what identifies a bytecode whatever its header says.
pub fn normalized(hash: &U256) -> [u8; 28] {
    let b = bytes(hash);
    let mut out = [0u8; 28];
    out.copy_from_slice(&b[4..]);
    out
}

/// A well-formed hash of `version` (1 or 2) with a known construction marker.
pub fn is_valid(b: &[u8; 32], version: u8) -> bool {
    b[0] == version && (b[1] == AT_REST || b[1] == BEING_CONSTRUCTED)
}

/// Bytes 2–3: the length in 32-byte words for EraVM bytecode.
pub fn length_in_words(b: &[u8; 32]) -> u16 {
    u16::from_be_bytes([b[2], b[3]])
}
