//! The pubdata the operator hands the bootloader on PubdataRequested, in the protocol's
//! rollup form (v26 and later):
//!
//! 1. the L1 messenger's events are recovered from the `log.event` pieces a VM recorded
//!    ([`merge_events`]) and read as user L2→L1 logs (`L2ToL1LogSent`), long messages
//!    (`L1MessageSent`) and bytecode publication requests (`BytecodeL1PublicationRequested`,
//!    whose bytes come from the known bytecodes) — [`PubdataInput::from_events`];
//! 2. the state diffs are the slots whose final value differs from their value at the start
//!    of the batch, L1 messenger slots left out, each with its derived key and enumeration
//!    index ([`StateDiff`]);
//! 3. the body is: the logs (u32 count, 88 bytes each), the messages (u32 count, u32 length
//!    and bytes each), the bytecodes (likewise), the compressed state diffs (version 1, u24
//!    length, index size 4, u16 count of initial writes, initial writes by derived key then
//!    repeated writes by index, values compressed by the best strategy), and the state diffs
//!    again in full (u32 count, 272-byte padded records) — [`PubdataInput::body`];
//! 4. the L1 messenger's input is `validatePubdata(bytes32,bytes32,bytes32,bytes32,bytes)`'s
//!    selector and the ABI encoding of the chained logs hash, the logs Merkle root (16,384
//!    leaves), the chained messages hash, the chained bytecodes hash and the body —
//!    [`PubdataInput::operator_input`];
//! 5. what goes into the bootloader's heap, from the word after the start of the pubdata
//!    region, is `abi.encode(l2DaValidator, operatorInput)` — [`PubdataInput::memory_bytes`].
//!
//! Both operators call this with data each collects from its own VM and host, so any
//! difference in what the VMs did shows in the bytes.
//!
//! Simplifications, because our worlds have no system contracts:
//! - vm1 keeps only events emitted through the event writer (0x800d), whose first topic names
//!   the real emitter. Here an event the event writer emitted is read that way too, but an
//!   event a contract emitted itself (with `log.event`) also counts, so a contract at 0x8008
//!   emitting the three kinds of events stands for the real L1 messenger.
//! - vm1's operator panics on a payload it cannot decode, and on a bytecode it does not know;
//!   here such an event is left out.
//! - The L2 DA validator is [`L2_DA_VALIDATOR`], the zero address, as a node's tests name
//!   it: the real L1 messenger then checks the hashes and the logs root but calls no
//!   validator.

use primitive_types::{H160, U256};
use sha2::Sha256;
use sha3::{Digest, Keccak256};

use crate::world::LogEntry;

/// The L1 messenger system contract.
pub const L1_MESSENGER: H160 = H160([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x08,
]);
/// The event writer system contract.
pub const EVENT_WRITER: H160 = H160([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x0d,
]);
/// The L2 DA validator our operators name: none (the real L1 messenger skips the call).
pub const L2_DA_VALIDATOR: H160 = H160([0; 20]);

/// Leaves of the L2→L1 logs Merkle tree.
pub const LOGS_TREE_LEAVES: usize = 16_384;
/// Bytes of a state diff record, and of the padded form published after the compressed ones.
pub const STATE_DIFF_RECORD_BYTES: usize = 156;
pub const PADDED_STATE_DIFF_BYTES: usize = 272;
/// Bytes of a user L2→L1 log in its packed form.
pub const L2_TO_L1_LOG_BYTES: usize = 88;

fn keccak(bytes: &[u8]) -> [u8; 32] {
    Keccak256::digest(bytes).into()
}

fn word(v: &U256) -> [u8; 32] {
    let mut b = [0u8; 32];
    v.to_big_endian(&mut b);
    b
}

/// topic0 of `L2ToL1LogSent((uint8,bool,uint16,address,bytes32,bytes32))`.
pub fn l2_to_l1_log_sent_signature() -> [u8; 32] {
    keccak(b"L2ToL1LogSent((uint8,bool,uint16,address,bytes32,bytes32))")
}
/// topic0 of `L1MessageSent(address,bytes32,bytes)`.
pub fn l1_message_sent_signature() -> [u8; 32] {
    keccak(b"L1MessageSent(address,bytes32,bytes)")
}
/// topic0 of `BytecodeL1PublicationRequested(bytes32)`.
pub fn bytecode_publication_signature() -> [u8; 32] {
    keccak(b"BytecodeL1PublicationRequested(bytes32)")
}
/// The selector of `validatePubdata(bytes32,bytes32,bytes32,bytes32,bytes)`.
pub fn validate_pubdata_selector() -> [u8; 4] {
    let h = keccak(b"validatePubdata(bytes32,bytes32,bytes32,bytes32,bytes)");
    [h[0], h[1], h[2], h[3]]
}

/// An event put back together from its pieces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub address: H160,
    pub topics: Vec<[u8; 32]>,
    pub data: Vec<u8>,
    pub tx_number: u16,
    pub shard_id: u8,
}

/// An event being assembled: what it still needs.
struct Partial {
    event: Event,
    topics_left: u32,
    data_left: usize,
}

impl Partial {
    fn complete(&self) -> bool {
        self.topics_left == 0 && self.data_left == 0
    }

    fn feed(&mut self, bytes: [u8; 32]) {
        if self.topics_left > 0 {
            self.event.topics.push(bytes);
            self.topics_left -= 1;
        } else if self.data_left > 0 {
            let n = self.data_left.min(32);
            self.event.data.extend_from_slice(&bytes[..n]);
            self.data_left -= n;
        }
    }
}

/// Joins the pieces `log.event` records into events, the way vm1's operator does: a first
/// piece's key holds the number of topics (bits 0..32) and the data length in bytes (bits
/// 32..64), its value the first topic (or, with no topics, the first 32 data bytes); every
/// following piece carries two more words, topics first, then data. A piece from another
/// emitter, shard or transaction breaks the event it interrupts; an event still incomplete
/// when the next one starts is dropped. Then events the event writer emitted are rewritten
/// to their real emitter (the first topic); other events keep the address that emitted them.
pub fn merge_events(pieces: &[LogEntry]) -> Vec<Event> {
    let mut events = Vec::new();
    let mut current: Option<Partial> = None;
    for piece in pieces {
        if piece.is_first {
            if let Some(done) = current.take().filter(Partial::complete) {
                events.push(done.event);
            }
            let low = piece.key.low_u64();
            let mut topics_left = low as u32;
            let mut data_left = (low >> 32) as usize;
            let first = word(&piece.value);
            let (topics, data) = if topics_left == 0 && data_left == 0 {
                (Vec::new(), Vec::new())
            } else if topics_left == 0 {
                // vm1 takes the whole word and subtracts 32 (wrapping below 32: such an
                // event never completes).
                data_left = data_left.wrapping_sub(32);
                (Vec::new(), first.to_vec())
            } else {
                topics_left -= 1;
                (vec![first], Vec::new())
            };
            current = Some(Partial {
                event: Event {
                    address: piece.address,
                    topics,
                    data,
                    tx_number: piece.tx_number,
                    shard_id: piece.shard_id,
                },
                topics_left,
                data_left,
            });
        } else if let Some(mut partial) = current.take() {
            let e = &partial.event;
            if e.address != piece.address
                || e.shard_id != piece.shard_id
                || e.tx_number != piece.tx_number
            {
                continue;
            }
            partial.feed(word(&piece.key));
            partial.feed(word(&piece.value));
            if partial.complete() {
                events.push(partial.event);
            } else {
                current = Some(partial);
            }
        }
    }
    if let Some(done) = current.filter(Partial::complete) {
        events.push(done.event);
    }
    for e in &mut events {
        if e.address == EVENT_WRITER && !e.topics.is_empty() {
            let emitter = e.topics.remove(0);
            e.address = H160::from_slice(&emitter[12..]);
        }
    }
    events
}

/// A user L2→L1 log, as `L2ToL1LogSent` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L2ToL1Log {
    pub shard_id: u8,
    pub is_service: bool,
    pub tx_number: u16,
    pub sender: H160,
    pub key: [u8; 32],
    pub value: [u8; 32],
}

impl L2ToL1Log {
    /// The packed 88-byte form.
    pub fn packed(&self) -> [u8; L2_TO_L1_LOG_BYTES] {
        let mut out = [0u8; L2_TO_L1_LOG_BYTES];
        out[0] = self.shard_id;
        out[1] = self.is_service as u8;
        out[2..4].copy_from_slice(&self.tx_number.to_be_bytes());
        out[4..24].copy_from_slice(self.sender.as_bytes());
        out[24..56].copy_from_slice(&self.key);
        out[56..88].copy_from_slice(&self.value);
        out
    }

    /// Decodes the event's data: the static tuple, six words. `None` if a word is out of its
    /// type's range.
    fn decode(data: &[u8]) -> Option<L2ToL1Log> {
        let w = |i: usize| -> Option<&[u8]> { data.get(32 * i..32 * i + 32) };
        let small = |i: usize, bytes: usize| -> Option<&[u8]> {
            let x = w(i)?;
            x[..32 - bytes]
                .iter()
                .all(|&b| b == 0)
                .then(|| &x[32 - bytes..])
        };
        let is_service = match small(1, 1)?[0] {
            0 => false,
            1 => true,
            _ => return None,
        };
        let tx = small(2, 2)?;
        Some(L2ToL1Log {
            shard_id: small(0, 1)?[0],
            is_service,
            tx_number: u16::from_be_bytes([tx[0], tx[1]]),
            sender: H160::from_slice(small(3, 20)?),
            key: w(4)?.try_into().ok()?,
            value: w(5)?.try_into().ok()?,
        })
    }
}

/// Decodes `abi.encode(bytes)`: an offset, then at it a length and the bytes.
fn decode_bytes(data: &[u8]) -> Option<Vec<u8>> {
    let as_usize = |b: &[u8]| -> Option<usize> {
        let v = U256::from_big_endian(b);
        (v.bits() <= 32).then(|| v.low_u64() as usize)
    };
    let offset = as_usize(data.get(..32)?)?;
    let length = as_usize(data.get(offset..offset.checked_add(32)?)?)?;
    let start = offset + 32;
    data.get(start..start.checked_add(length)?)
        .map(<[u8]>::to_vec)
}

/// The versioned hash of EraVM bytecode bytes: version 1, constructed, the length in words,
/// then the sha256 of the bytes from byte 4 on.
pub fn bytecode_hash(bytes: &[u8]) -> [u8; 32] {
    let mut hash: [u8; 32] = Sha256::digest(bytes).into();
    hash[0] = 1;
    hash[1] = 0;
    hash[2..4].copy_from_slice(&((bytes.len() / 32) as u16).to_be_bytes());
    hash
}

/// blake2s256 of 12 zero bytes, the address and the key: the slot's key in the state tree.
pub fn derived_key(address: &H160, key: &U256) -> [u8; 32] {
    use blake2::{Blake2s256, Digest as _};
    let mut preimage = [0u8; 64];
    preimage[12..32].copy_from_slice(address.as_bytes());
    preimage[32..].copy_from_slice(&word(key));
    Blake2s256::digest(preimage).into()
}

/// The shortest encoding of a slot going from `initial` to `new`: a metadata byte (length
/// << 3 | operation) and the value bytes. Adding (1), subtracting (2) and replacing (3) are
/// allowed when their operand takes under 31 bytes; the shortest wins, the first of them on a
/// tie; with none allowed, a zero byte and the whole new value.
pub fn compress_value(initial: U256, new: U256) -> Vec<u8> {
    let candidates = [
        (1u8, new.overflowing_sub(initial).0),
        (2, initial.overflowing_sub(new).0),
        (3, new),
    ];
    let mut best: Option<(u8, U256, usize)> = None;
    for (op, operand) in candidates {
        let len = operand.bits().div_ceil(8);
        if len < 31 && best.map_or(true, |(_, _, l)| len < l) {
            best = Some((op, operand, len));
        }
    }
    match best {
        Some((op, operand, len)) => {
            let mut out = vec![((len as u8) << 3) | op];
            out.extend_from_slice(&word(&operand)[32 - len..]);
            out
        }
        None => {
            let mut out = vec![0u8];
            out.extend_from_slice(&word(&new));
            out
        }
    }
}

/// One slot whose value the batch changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StateDiff {
    pub address: H160,
    pub key: U256,
    /// 0 for a slot written for the first time (an initial write).
    pub enumeration_index: u64,
    pub initial: U256,
    pub final_value: U256,
}

impl StateDiff {
    /// address ‖ key ‖ derived key ‖ enumeration index (u64) ‖ initial ‖ final, zero-padded
    /// to 272 bytes.
    pub fn padded(&self) -> [u8; PADDED_STATE_DIFF_BYTES] {
        let mut out = [0u8; PADDED_STATE_DIFF_BYTES];
        out[..20].copy_from_slice(self.address.as_bytes());
        out[20..52].copy_from_slice(&word(&self.key));
        out[52..84].copy_from_slice(&derived_key(&self.address, &self.key));
        out[84..92].copy_from_slice(&self.enumeration_index.to_be_bytes());
        out[92..124].copy_from_slice(&word(&self.initial));
        out[124..156].copy_from_slice(&word(&self.final_value));
        out
    }

    /// The slot (derived key, or a u32 index for a repeated write) and its compressed value.
    fn compressed(&self) -> Vec<u8> {
        let mut out = if self.enumeration_index == 0 {
            derived_key(&self.address, &self.key).to_vec()
        } else {
            // The protocol needs indices below 2^32 - 1; ours are small.
            (self.enumeration_index as u32).to_be_bytes().to_vec()
        };
        out.extend(compress_value(self.initial, self.final_value));
        out
    }
}

/// The compressed state diffs: version 1, a 3-byte length of the rest, the index size (4),
/// the number of initial writes (u16), the initial writes, then the repeated writes, each
/// group by address and key.
pub fn compress_state_diffs(diffs: &[StateDiff]) -> Vec<u8> {
    let mut sorted = diffs.to_vec();
    sorted.sort_by_key(|d| (d.address, d.key));
    let (initial, repeated): (Vec<&StateDiff>, Vec<&StateDiff>) =
        sorted.iter().partition(|d| d.enumeration_index == 0);
    let mut rest = (initial.len() as u16).to_be_bytes().to_vec();
    for d in initial.iter().chain(&repeated) {
        rest.extend(d.compressed());
    }
    let mut out = vec![1u8];
    out.extend_from_slice(&(rest.len() as u32).to_be_bytes()[1..]);
    out.push(4);
    out.extend(rest);
    out
}

/// The root of the binary Merkle tree over [`LOGS_TREE_LEAVES`] leaves: keccak of each packed
/// log, then keccak of 88 zero bytes; a node is keccak(left ‖ right).
pub fn logs_root(logs: &[L2ToL1Log]) -> [u8; 32] {
    let mut level: Vec<[u8; 32]> = logs.iter().map(|l| keccak(&l.packed())).collect();
    let mut empty = keccak(&[0u8; L2_TO_L1_LOG_BYTES]);
    let mut width = LOGS_TREE_LEAVES;
    while width > 1 {
        if level.len() % 2 == 1 {
            level.push(empty);
        }
        level = level
            .chunks(2)
            .map(|pair| {
                let mut both = [0u8; 64];
                both[..32].copy_from_slice(&pair[0]);
                both[32..].copy_from_slice(&pair[1]);
                keccak(&both)
            })
            .collect();
        let mut both = [0u8; 64];
        both[..32].copy_from_slice(&empty);
        both[32..].copy_from_slice(&empty);
        empty = keccak(&both);
        width /= 2;
    }
    level.first().copied().unwrap_or(empty)
}

/// h = keccak(h ‖ item), from 32 zero bytes.
fn chained(items: impl IntoIterator<Item = [u8; 32]>) -> [u8; 32] {
    items.into_iter().fold([0u8; 32], |h, item| {
        let mut both = [0u8; 64];
        both[..32].copy_from_slice(&h);
        both[32..].copy_from_slice(&item);
        keccak(&both)
    })
}

/// Everything the batch publishes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PubdataInput {
    pub user_logs: Vec<L2ToL1Log>,
    pub messages: Vec<Vec<u8>>,
    pub bytecodes: Vec<Vec<u8>>,
    pub state_diffs: Vec<StateDiff>,
}

impl PubdataInput {
    /// Reads the L1 messenger's events (after [`merge_events`]); `bytecode` gives the bytes
    /// of a versioned hash the VM knows.
    pub fn from_events(
        events: &[Event],
        mut bytecode: impl FnMut(U256) -> Option<Vec<u8>>,
        state_diffs: Vec<StateDiff>,
    ) -> PubdataInput {
        let (log_sig, msg_sig, code_sig) = (
            l2_to_l1_log_sent_signature(),
            l1_message_sent_signature(),
            bytecode_publication_signature(),
        );
        #[allow(unused_mut)]
        let mut state_diffs = state_diffs;
        #[cfg(feature = "fault-injection")]
        if crate::faults::is_active(crate::faults::Fault::SharedPubdataDropsLastDiff) {
            state_diffs.pop();
        }
        let mut input = PubdataInput {
            state_diffs,
            ..Default::default()
        };
        for e in events.iter().filter(|e| e.address == L1_MESSENGER) {
            let Some(topic) = e.topics.first() else {
                continue;
            };
            if *topic == log_sig {
                input.user_logs.extend(L2ToL1Log::decode(&e.data));
            } else if *topic == msg_sig && e.topics.len() == 3 {
                input.messages.extend(decode_bytes(&e.data));
            } else if *topic == code_sig {
                if let Some(hash) = e.data.get(..32) {
                    input
                        .bytecodes
                        .extend(bytecode(U256::from_big_endian(hash)));
                }
            }
        }
        input
    }

    /// The pubdata body: logs, messages, bytecodes, compressed state diffs, padded diffs.
    pub fn body(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend((self.user_logs.len() as u32).to_be_bytes());
        for log in &self.user_logs {
            out.extend(log.packed());
        }
        for list in [&self.messages, &self.bytecodes] {
            out.extend((list.len() as u32).to_be_bytes());
            for item in list {
                out.extend((item.len() as u32).to_be_bytes());
                out.extend(item);
            }
        }
        out.extend(compress_state_diffs(&self.state_diffs));
        let mut diffs = self.state_diffs.clone();
        diffs.sort_by_key(|d| (d.address, d.key));
        out.extend((diffs.len() as u32).to_be_bytes());
        for d in &diffs {
            out.extend(d.padded());
        }
        out
    }

    /// The L1 messenger's input: the selector of `validatePubdata`, then the ABI encoding of
    /// the chained logs hash, the logs root, the chained messages hash, the chained bytecodes
    /// hash and the body.
    pub fn operator_input(&self) -> Vec<u8> {
        let logs = chained(self.user_logs.iter().map(|l| keccak(&l.packed())));
        let messages = chained(self.messages.iter().map(|m| keccak(m)));
        let bytecodes = chained(self.bytecodes.iter().map(|b| bytecode_hash(b)));
        let mut out = validate_pubdata_selector().to_vec();
        for h in [logs, logs_root(&self.user_logs), messages, bytecodes] {
            out.extend(h);
        }
        out.extend(abi_bytes(0xa0, &self.body()));
        out
    }

    /// What the operator writes from the word after the start of the pubdata region:
    /// `abi.encode(L2_DA_VALIDATOR, operator_input)`.
    pub fn memory_bytes(&self) -> Vec<u8> {
        let mut out = [0u8; 32].to_vec();
        out[12..].copy_from_slice(L2_DA_VALIDATOR.as_bytes());
        out.extend(abi_bytes(0x40, &self.operator_input()));
        out
    }
}

/// The offset word, then the length and the bytes, zero-padded to whole words.
fn abi_bytes(offset: u64, bytes: &[u8]) -> Vec<u8> {
    let mut out = word(&U256::from(offset)).to_vec();
    out.extend(word(&U256::from(bytes.len())));
    out.extend(bytes);
    out.resize(out.len().div_ceil(32) * 32, 0);
    out
}

/// Counts read back from what [`PubdataInput::memory_bytes`] wrote (for statistics and
/// tests): logs, messages, bytecodes, initial writes, state diffs. `None` if the bytes are
/// not in that form.
pub fn summarize(memory: &[u8]) -> Option<[u32; 5]> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(memory.get(at..at + 4)?.try_into().ok()?))
    };
    // validator, offset, length, selector, four hashes, offset, length.
    let mut at = 32 * 3 + 4 + 32 * 6;
    let logs = u32_at(at)?;
    at += 4 + logs as usize * L2_TO_L1_LOG_BYTES;
    let mut lists = [0u32; 2];
    for count in &mut lists {
        *count = u32_at(at)?;
        at += 4;
        for _ in 0..*count {
            at += 4 + u32_at(at)? as usize;
        }
    }
    let compressed = u32_at(at)? & 0xff_ffff;
    let initial = u16::from_be_bytes(memory.get(at + 5..at + 7)?.try_into().ok()?) as u32;
    at += 5 + compressed as usize;
    let diffs = u32_at(at)?;
    Some([logs, lists[0], lists[1], initial, diffs])
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from zksync-era's `compression.rs` tests.
    #[test]
    fn values_compress_as_the_protocol_does() {
        let c = |a: u64, b: u64| compress_value(a.into(), b.into());
        assert_eq!(c(255438218, 255438638), vec![17, 1, 164]);
        assert_eq!(c(580481589, 229496100), vec![34, 20, 235, 157, 17]);
        assert_eq!(c(580481589, 1337), vec![19, 5, 57]);
        assert_eq!(c(580481589, 0), vec![3]);
        assert_eq!(compress_value(U256::MAX, 1.into()), vec![9, 2]);
        assert_eq!(compress_value(0.into(), U256::MAX), vec![10, 1]);
        let none = compress_value(U256::MAX / 2, U256::MAX);
        assert_eq!(none.len(), 33);
        assert_eq!(none[0], 0);
        // The pubdata price the hosts charge is these lengths.
        for (a, b) in [(0u64, 92122u64), (7, 0), (5, 3), (1, 1 << 40)] {
            assert_eq!(
                compress_value(a.into(), b.into()).len() as u32,
                crate::world::compressed_state_diff_len(a.into(), b.into())
            );
        }
    }

    #[test]
    fn derived_keys_are_blake2s_of_the_padded_address_and_key() {
        use blake2::{Blake2s256, Digest as _};
        // RFC 7693's BLAKE2s-256 vector: the hash is the 32-byte BLAKE2s.
        let abc: [u8; 32] = Blake2s256::digest(b"abc").into();
        assert_eq!(&abc[..4], &[0x50, 0x8c, 0x5e, 0x8c]);
        assert_eq!(&abc[28..], &[0x86, 0x67, 0x59, 0x82]);
        let mut preimage = [0u8; 64];
        preimage[30..32].copy_from_slice(&[0x80, 0x08]);
        preimage[63] = 5;
        let expected: [u8; 32] = Blake2s256::digest(preimage).into();
        assert_eq!(derived_key(&L1_MESSENGER, &5.into()), expected);
    }

    #[test]
    fn the_empty_logs_tree_has_the_protocol_root_leaf() {
        let leaf = keccak(&[0u8; L2_TO_L1_LOG_BYTES]);
        assert_eq!(&leaf[..4], &[0x72, 0xab, 0xee, 0x45]);
        assert_eq!(&leaf[30..], &[0x43, 0xba]);
        // One log or none: a tree of 14 levels either way, and they differ.
        let log = L2ToL1Log {
            shard_id: 0,
            is_service: true,
            tx_number: 1,
            sender: L1_MESSENGER,
            key: [1; 32],
            value: [2; 32],
        };
        assert_ne!(logs_root(&[]), logs_root(&[log]));
    }

    #[test]
    fn pieces_merge_into_events() {
        let piece = |is_first: bool, key: u64, value: u64| LogEntry {
            address: L1_MESSENGER,
            key: key.into(),
            value: value.into(),
            is_first,
            tx_number: 0,
            shard_id: 0,
        };
        // Two topics and 40 data bytes: the first piece holds topic 0, the next topic 1 and
        // data 0..32, the last data 32..40.
        let events = merge_events(&[
            piece(true, 2 | (40 << 32), 7),
            piece(false, 8, 9),
            piece(false, 10, 11),
            piece(true, 0, 0),
        ]);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].topics, vec![word(&7.into()), word(&8.into())]);
        assert_eq!(events[0].data.len(), 40);
        assert_eq!(events[0].data[31], 9);
        assert_eq!(&events[0].data[32..], &[0; 8]);
        assert!(events[1].topics.is_empty() && events[1].data.is_empty());
        // An interrupted event is dropped.
        let mut other = piece(false, 1, 1);
        other.address = EVENT_WRITER;
        assert!(merge_events(&[piece(true, 3, 7), other, piece(false, 1, 1)]).is_empty());
    }

    #[test]
    fn the_summary_reads_back_the_counts() {
        let input = PubdataInput {
            user_logs: vec![],
            messages: vec![vec![1, 2, 3], vec![]],
            bytecodes: vec![vec![0; 32]],
            state_diffs: vec![
                StateDiff {
                    address: L1_MESSENGER,
                    key: 1.into(),
                    enumeration_index: 0,
                    initial: 0.into(),
                    final_value: 5.into(),
                },
                StateDiff {
                    address: EVENT_WRITER,
                    key: 1.into(),
                    enumeration_index: 3,
                    initial: 9.into(),
                    final_value: 5.into(),
                },
            ],
        };
        let bytes = input.memory_bytes();
        assert_eq!(bytes.len() % 32, 0);
        assert_eq!(summarize(&bytes), Some([0, 2, 1, 1, 2]));
        // The `bytes` of validatePubdata start at 0xa0, as the L1 messenger checks.
        assert_eq!(bytes[32 * 3 + 4 + 32 * 5 - 1], 0xa0);
    }
}
