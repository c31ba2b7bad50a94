//! Batches: our bootloader, driven by the operator through transactions to a generated world.
//!
//! The world (contracts calling each other, storage, events, L2→L1 messages) comes from the
//! calls generator, plus storage writers that always succeed and a stand-in L1 messenger at
//! 0x8008 that emits the events the operator publishes (user L2→L1 logs, long messages,
//! bytecode publication requests, and unrelated ones); the transactions target these, the
//! default account (addresses without code) or the odd account, with gas limits from starved
//! to generous, and the run stops where a batch mode says. In a quarter of the batches the
//! operator rolls some transactions back (it then feeds them one at a time with snapshots).

use arbitrary::{Result, Unstructured};
use eravm::{Opcode, SrcMode, H160, U256};

use super::{calls, pick, Settings};
use crate::asm::{op, Program};
use crate::case::{
    Address, Batch, BatchInfo, BatchMode, Bytes, Case, FrameSettings, Transaction, Word,
};
use crate::world::{Contract, Slot};

/// Where the storage writers live (kernel addresses, so that they may send messages).
const WRITERS: u64 = 0xa000;

/// A contract that always succeeds: it writes two of its slots from its calldata's first
/// word (slot `b31 & 3` gets `b30 & 3`, slot `4 | b29 & 3` gets `b28 & 3`, counting bytes
/// from the start) and, if `message`, sends the first pair as an L2→L1 message. Small
/// values make transactions rewrite each other's slots and put slots back to where they
/// started, so batches publish state diffs of final values only.
pub(crate) fn storage_writer(message: bool) -> Vec<Word> {
    let mut p = Program::new()
        .push(op(Opcode::FatPointerRead).src0(1).dst(2))
        .push(op(Opcode::And).src_mode(SrcMode::Imm, 3).src1(2).dst(3))
        .push(
            op(Opcode::Shr)
                .src_mode(SrcMode::Imm, 8)
                .src1(2)
                .dst(4)
                .m1(),
        )
        .push(op(Opcode::And).src_mode(SrcMode::Imm, 3).src1(4).dst(4))
        .push(op(Opcode::StorageWrite).src0(3).src1(4))
        .push(
            op(Opcode::Shr)
                .src_mode(SrcMode::Imm, 16)
                .src1(2)
                .dst(5)
                .m1(),
        )
        .push(op(Opcode::And).src_mode(SrcMode::Imm, 3).src1(5).dst(5))
        .push(op(Opcode::Or).src_mode(SrcMode::Imm, 4).src1(5).dst(5))
        .push(
            op(Opcode::Shr)
                .src_mode(SrcMode::Imm, 24)
                .src1(2)
                .dst(6)
                .m1(),
        )
        .push(op(Opcode::And).src_mode(SrcMode::Imm, 3).src1(6).dst(6))
        .push(op(Opcode::StorageWrite).src0(5).src1(6));
    if message {
        p = p.push(op(Opcode::ToL1Message).src0(3).src1(4));
    }
    p.push(op(Opcode::RetOk).src0(0)).case(0).code
}

/// The pieces `log.event` emits for an event: the first carries the number of topics and the
/// data length (in its key) and the first topic (or data word); the rest two words each,
/// topics then data (zero-padded).
fn event_pieces(topics: &[U256], data: &[u8]) -> Vec<(U256, U256)> {
    let mut words: Vec<U256> = topics.to_vec();
    words.extend(data.chunks(32).map(|chunk| {
        let mut w = [0u8; 32];
        w[..chunk.len()].copy_from_slice(chunk);
        U256::from_big_endian(&w)
    }));
    let head = U256::from(topics.len() as u64 | (data.len() as u64) << 32);
    let mut pieces = vec![(head, words.first().copied().unwrap_or_default())];
    for pair in words.get(1..).unwrap_or_default().chunks(2) {
        pieces.push((pair[0], pair.get(1).copied().unwrap_or_default()));
    }
    pieces
}

fn abi_word(bytes: &[u8]) -> U256 {
    U256::from_big_endian(bytes)
}

/// One event of the L1 messenger's, as (key, value) pieces; `None` for a value word that the
/// contract takes from its calldata (word 0) instead.
type Pieces = Vec<(U256, Option<U256>)>;

/// A random event of the L1 messenger: a user L2→L1 log, a long message, a bytecode
/// publication request (`known` holds hashes the VMs know), or an unrelated event.
fn messenger_event(u: &mut Unstructured, known: &[U256]) -> Result<Pieces> {
    use eravm::operator::pubdata;
    let sig = |s: [u8; 32]| abi_word(&s);
    let pieces = match pick(u, &[4, 3, 2, 1])? {
        0 => {
            let words = [
                U256::from(u.int_in_range(0..=1u8)?),
                U256::from(u.ratio(1, 2)? as u8),
                U256::from(u.arbitrary::<u16>()?),
                U256::from(u.int_in_range(0x8000..=0x10010u64)?),
                U256::from(u.arbitrary::<u128>()?),
                U256::from(u.arbitrary::<u64>()?) << u.int_in_range(0..=192usize)?,
            ];
            let data: Vec<u8> = words
                .iter()
                .flat_map(|w| {
                    let mut b = [0u8; 32];
                    w.to_big_endian(&mut b);
                    b
                })
                .collect();
            let mut pieces: Pieces =
                event_pieces(&[sig(pubdata::l2_to_l1_log_sent_signature())], &data)
                    .into_iter()
                    .map(|(k, v)| (k, Some(v)))
                    .collect();
            // Sometimes the log's value comes from the transaction's calldata.
            if u.ratio(1, 2)? {
                if let Some(last) = pieces.last_mut() {
                    last.1 = None;
                }
            }
            pieces
        }
        1 => {
            let len = u.int_in_range(0..=100usize)?;
            let message: Vec<u8> = (0..len).map(|_| u.arbitrary()).collect::<Result<_>>()?;
            let mut data = [0u8; 64].to_vec();
            data[31] = 0x20;
            data[32..64].copy_from_slice(&{
                let mut b = [0u8; 32];
                U256::from(len).to_big_endian(&mut b);
                b
            });
            data.extend(&message);
            data.resize(data.len().div_ceil(32) * 32, 0);
            let hash = {
                use sha3::{Digest, Keccak256};
                abi_word(&Keccak256::digest(&message))
            };
            let topics = [
                sig(pubdata::l1_message_sent_signature()),
                U256::from(u.int_in_range(0x8000..=0x10010u64)?),
                hash,
            ];
            event_pieces(&topics, &data)
                .into_iter()
                .map(|(k, v)| (k, Some(v)))
                .collect()
        }
        2 => {
            let hash = if !known.is_empty() && u.ratio(5, 6)? {
                *u.choose(known)?
            } else {
                U256::from(u.arbitrary::<u128>()?)
            };
            let mut data = [0u8; 32];
            hash.to_big_endian(&mut data);
            event_pieces(&[sig(pubdata::bytecode_publication_signature())], &data)
                .into_iter()
                .map(|(k, v)| (k, Some(v)))
                .collect()
        }
        _ => {
            let topics: Vec<U256> = (0..u.int_in_range(0..=3usize)?)
                .map(|_| u.arbitrary::<u128>().map(U256::from))
                .collect::<Result<_>>()?;
            let len = u.int_in_range(0..=64usize)?;
            let data: Vec<u8> = (0..len).map(|_| u.arbitrary()).collect::<Result<_>>()?;
            event_pieces(&topics, &data)
                .into_iter()
                .map(|(k, v)| (k, Some(v)))
                .collect()
        }
    };
    Ok(pieces)
}

/// A stand-in for the L1 messenger (deployed at 0x8008): it writes its calldata's first word
/// to its slot 0 (the operator leaves the L1 messenger's slots out of the state diffs), emits
/// `events` piece by piece with `log.event`, and returns.
fn l1_messenger(events: &[Pieces]) -> Vec<Word> {
    let pieces: Vec<&(U256, Option<U256>)> = events.iter().flatten().collect();
    // Instructions: read calldata, write slot 0, three per piece (two loads, the event; a
    // value from calldata needs no load), ret.
    let instructions = 3 + pieces
        .iter()
        .map(|(_, v)| 2 + v.is_some() as usize)
        .sum::<usize>();
    let first_constant = instructions.div_ceil(4) as u16;
    let mut p = Program::new()
        .push(op(Opcode::FatPointerRead).src0(1).dst(2))
        .push(op(Opcode::StorageWrite).src0(0).src1(2));
    let mut next = first_constant;
    let mut values = Vec::new();
    for events in events {
        let mut first = true;
        for (key, value) in events {
            p = p.push(op(Opcode::Add).src_mode(SrcMode::CodePage, next).dst(3));
            values.push(*key);
            next += 1;
            let value_register = match value {
                Some(v) => {
                    p = p.push(op(Opcode::Add).src_mode(SrcMode::CodePage, next).dst(4));
                    values.push(*v);
                    next += 1;
                    4
                }
                None => 2,
            };
            let mut event = op(Opcode::Event).src0(3).src1(value_register);
            if first {
                event = event.m0();
            }
            p = p.push(event);
            first = false;
        }
    }
    p = p.push(op(Opcode::RetOk).src0(0));
    for v in values {
        p = p.constant(v);
    }
    p.case(0).code
}

/// A case of the batches target, drawn from `u`.
pub fn generate(u: &mut Unstructured, settings: &Settings) -> Result<Case> {
    let mut case = calls::generate(u, settings)?;
    let world = case
        .world
        .as_mut()
        .expect("the calls generator builds a world");
    let targets: Vec<H160> = world.contracts.iter().map(|c| c.address.0).collect();
    let writers: Vec<H160> = (0..u.int_in_range(1..=3u64)?)
        .map(|i| H160::from_low_u64_be(WRITERS + i))
        .collect();
    for (i, &address) in writers.iter().enumerate() {
        world.contracts.push(Contract {
            address: Address(address),
            code: storage_writer(i % 2 == 1),
            constructing: false,
        });
        for key in 0..8u64 {
            if u.ratio(1, 3)? {
                world.storage.push(Slot {
                    address: Address(address),
                    key: Word(U256::from(key)),
                    value: Word(U256::from(u.int_in_range(1..=3u64)?)),
                });
            }
        }
    }
    // The L1 messenger, publishing logs, messages and bytecodes (some of which the world
    // knows: the writers', the default account's).
    let known: Vec<U256> = world
        .contracts
        .iter()
        .map(|c| crate::world::bytecode_hash(&c.code, false))
        .chain([crate::world::bytecode_hash(&world.default_account, false)])
        .collect();
    let events: Vec<Pieces> = (0..u.int_in_range(1..=4usize)?)
        .map(|_| messenger_event(u, &known))
        .collect::<Result<_>>()?;
    let messenger = eravm::operator::pubdata::L1_MESSENGER;
    if !targets.contains(&messenger) {
        world.contracts.push(Contract {
            address: Address(messenger),
            code: l1_messenger(&events),
            constructing: false,
        });
    }
    let count = match pick(u, &[6, 3, 1])? {
        0 => u.int_in_range(1..=3usize)?,
        1 => u.int_in_range(4..=12usize)?,
        _ => u.int_in_range(13..=50usize)?,
    };
    let mut transactions = Vec::with_capacity(count);
    for _ in 0..count {
        let to = match pick(u, &[4, 5, 2, 1])? {
            0 if !targets.is_empty() => *u.choose(&targets)?,
            1 => *u.choose(&writers)?,
            2 => messenger,
            // No code there: the default account runs.
            _ => H160::from_low_u64_be(u.int_in_range(0x10000..=0x10010u64)?),
        };
        let gas_limit = match pick(u, &[1, 6, 2])? {
            0 => u.int_in_range(0..=5_000u32)?,
            1 => u.int_in_range(5_000..=2_000_000u32)?,
            _ => u.arbitrary()?,
        };
        let length = if writers.contains(&to) || to == messenger {
            u.int_in_range(32..=64usize)?
        } else {
            u.int_in_range(0..=96usize)?
        };
        let calldata: Vec<u8> = (0..length)
            .map(|_| u.arbitrary::<u8>())
            .collect::<Result<_>>()?;
        transactions.push(Transaction {
            to: Address(to),
            gas_limit,
            calldata: Bytes(calldata),
            rollback: false,
        });
    }
    // Sometimes the operator rolls some transactions back, as a state keeper rejecting them.
    if u.ratio(1, 4)? {
        for tx in &mut transactions {
            tx.rollback = u.ratio(1, 3)?;
        }
    }
    let mode = match pick(u, &[8, 1, 1])? {
        0 => BatchMode::Batch,
        1 => BatchMode::OneTx,
        _ => BatchMode::BootloaderOnly,
    };
    case.code = eravm::operator::bootloader::program()
        .into_iter()
        .map(Word)
        .collect();
    case.ergs = u32::MAX;
    case.registers = Vec::new();
    case.calldata = Bytes(Vec::new());
    case.frame = FrameSettings::default();
    case.max_cycles = settings.max_cycles * 10 * count as u64;
    let first = u.ratio(1, 4)?;
    let info = BatchInfo {
        operator: Address(H160::from_low_u64_be(u.arbitrary()?)),
        previous_batch_hash: Word(if first {
            U256::zero()
        } else {
            U256::from(u.arbitrary::<u128>()?)
        }),
        timestamp: u.int_in_range(1_700_000_000..=1_800_000_000)?,
        number: if first {
            1
        } else {
            u.int_in_range(2..=1_000_000)?
        },
        fair_pubdata_price: u.int_in_range(0..=1_000_000_000)?,
        fair_l2_gas_price: u.int_in_range(0..=1_000_000_000)?,
        expected_base_fee: u.int_in_range(0..=1_000_000_000)?,
    };
    case.batch = Some(Batch {
        blocks: Vec::new(),
        transactions,
        mode,
        info,
    });
    Ok(case)
}
