//! Batches: our bootloader, driven by the operator through transactions to a generated world.
//!
//! The world (contracts calling each other, storage, events, L2→L1 messages) comes from the
//! calls generator; the transactions target its contracts, the default account (addresses
//! without code) or the odd account, with gas limits from starved to generous, and the run
//! stops where a batch mode says.

use arbitrary::{Result, Unstructured};
use eravm::H160;

use super::{calls, pick, Settings};
use crate::case::{Address, Batch, BatchMode, Bytes, Case, FrameSettings, Transaction, Word};

pub fn generate(u: &mut Unstructured, settings: &Settings) -> Result<Case> {
    let mut case = calls::generate(u, settings)?;
    let world = case
        .world
        .as_ref()
        .expect("the calls generator builds a world");
    let targets: Vec<H160> = world.contracts.iter().map(|c| c.address.0).collect();
    let count = match pick(u, &[6, 3, 1])? {
        0 => u.int_in_range(1..=3usize)?,
        1 => u.int_in_range(4..=12usize)?,
        _ => u.int_in_range(13..=50usize)?,
    };
    let mut transactions = Vec::with_capacity(count);
    for _ in 0..count {
        let to = match pick(u, &[8, 1])? {
            0 if !targets.is_empty() => *u.choose(&targets)?,
            // No code there: the default account runs.
            _ => H160::from_low_u64_be(u.int_in_range(0x10000..=0x10010u64)?),
        };
        let gas_limit = match pick(u, &[1, 6, 2])? {
            0 => u.int_in_range(0..=5_000u32)?,
            1 => u.int_in_range(5_000..=2_000_000u32)?,
            _ => u.arbitrary()?,
        };
        let calldata: Vec<u8> = (0..u.int_in_range(0..=96usize)?)
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
    case.batch = Some(Batch { transactions, mode });
    Ok(case)
}
