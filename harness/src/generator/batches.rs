//! Batches: our bootloader, driven by the operator through transactions to a generated world.
//!
//! The world (contracts calling each other, storage, events, L2→L1 messages) comes from the
//! calls generator, plus storage writers that always succeed; the transactions target these,
//! the default account (addresses without code) or the odd account, with gas limits from
//! starved to generous, and the run stops where a batch mode says.

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
    let count = match pick(u, &[6, 3, 1])? {
        0 => u.int_in_range(1..=3usize)?,
        1 => u.int_in_range(4..=12usize)?,
        _ => u.int_in_range(13..=50usize)?,
    };
    let mut transactions = Vec::with_capacity(count);
    for _ in 0..count {
        let to = match pick(u, &[4, 5, 1])? {
            0 if !targets.is_empty() => *u.choose(&targets)?,
            1 => *u.choose(&writers)?,
            // No code there: the default account runs.
            _ => H160::from_low_u64_be(u.int_in_range(0x10000..=0x10010u64)?),
        };
        let gas_limit = match pick(u, &[1, 6, 2])? {
            0 => u.int_in_range(0..=5_000u32)?,
            1 => u.int_in_range(5_000..=2_000_000u32)?,
            _ => u.arbitrary()?,
        };
        let length = if writers.contains(&to) {
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
        });
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
        transactions,
        mode,
        info,
    });
    Ok(case)
}
