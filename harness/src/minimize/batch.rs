//! The edits the minimiser makes to a batch: removing transactions, counted in the order the
//! operator pushes them (our bootloader's, or the protocol transactions of every L2 block in
//! turn), and removing L2 blocks left empty.

use std::ops::Range;

use crate::case::{Batch, Case};

/// How many transactions the case's operator pushes (none without a batch).
pub fn transaction_count(case: &Case) -> usize {
    case.batch.as_ref().map_or(0, pushed_count)
}

fn pushed_count(batch: &Batch) -> usize {
    let protocol: usize = batch.blocks.iter().map(|b| b.transactions.len()).sum();
    batch.transactions.len() + protocol
}

/// `batch` without the pushed transactions at positions `range` (clamped to those there
/// are). The blocks stay, empty or not.
pub fn without_transactions(batch: &Batch, range: Range<usize>) -> Batch {
    let mut smaller = batch.clone();
    let ours = batch.transactions.len();
    smaller.transactions = keep_outside(&batch.transactions, 0, &range);
    let mut first = ours;
    for (block, original) in smaller.blocks.iter_mut().zip(&batch.blocks) {
        block.transactions = keep_outside(&original.transactions, first, &range);
        first += original.transactions.len();
    }
    smaller
}

/// The items of `items`, numbered from `first`, whose number is outside `range`.
fn keep_outside<T: Clone>(items: &[T], first: usize, range: &Range<usize>) -> Vec<T> {
    items
        .iter()
        .enumerate()
        .filter(|(i, _)| !range.contains(&(first + i)))
        .map(|(_, item)| item.clone())
        .collect()
}

/// The L2 blocks that hold no transaction, but the last (the fictive block that closes the
/// batch, which must stay), last first, so that removing one keeps the others' indices.
pub fn empty_blocks(batch: &Batch) -> Vec<usize> {
    let before_last = batch.blocks.len().saturating_sub(1);
    (0..before_last)
        .rev()
        .filter(|&i| batch.blocks[i].transactions.is_empty())
        .collect()
}

/// The chunk sizes to remove transactions in: halves, quarters, ... down to one (`count`
/// rounded up at each halving, so that no transaction is left out of the last chunk).
pub fn chunk_sizes(count: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut chunk = count.div_ceil(2);
    while chunk > 1 {
        sizes.push(chunk);
        chunk = chunk.div_ceil(2);
    }
    if count > 0 {
        sizes.push(1);
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Address, L2Block, ProtocolTx, Transaction, Word};
    use eravm::U256;

    fn ours(n: usize) -> Batch {
        let tx = |i: usize| Transaction {
            to: Address(eravm::H160::from_low_u64_be(i as u64)),
            gas_limit: i as u32,
            calldata: Default::default(),
            rollback: false,
        };
        Batch {
            transactions: (0..n).map(tx).collect(),
            blocks: Vec::new(),
            mode: Default::default(),
            info: Default::default(),
        }
    }

    fn gas_limits(batch: &Batch) -> Vec<u32> {
        batch.transactions.iter().map(|t| t.gas_limit).collect()
    }

    #[test]
    fn removes_the_range_of_our_transactions() {
        let smaller = without_transactions(&ours(6), 1..3);
        assert_eq!(gas_limits(&smaller), [0, 3, 4, 5]);
        let clamped = without_transactions(&ours(6), 4..10);
        assert_eq!(gas_limits(&clamped), [0, 1, 2, 3]);
    }

    /// Three blocks of protocol transactions (two, one, none), their nonces numbering them
    /// in push order.
    fn in_blocks() -> Batch {
        let tx = |nonce: u64| ProtocolTx {
            nonce: Word(U256::from(nonce)),
            ..ProtocolTx::default()
        };
        let block = |number: u32, transactions: Vec<ProtocolTx>| L2Block {
            number,
            timestamp: number.into(),
            prev_block_hash: Word(U256::zero()),
            virtual_blocks: 1,
            transactions,
        };
        Batch {
            blocks: vec![
                block(1, vec![tx(0), tx(1)]),
                block(2, vec![tx(2)]),
                block(3, vec![]),
            ],
            ..ours(0)
        }
    }

    fn nonces(block: &L2Block) -> Vec<u64> {
        block
            .transactions
            .iter()
            .map(|t| t.nonce.0.as_u64())
            .collect()
    }

    #[test]
    fn removes_protocol_transactions_across_blocks_and_keeps_the_blocks() {
        let batch = in_blocks();
        assert_eq!(pushed_count(&batch), 3);
        let smaller = without_transactions(&batch, 1..3);
        assert_eq!(smaller.blocks.len(), 3);
        assert_eq!(nonces(&smaller.blocks[0]), [0]);
        assert!(smaller.blocks[1].transactions.is_empty());
        assert_eq!(empty_blocks(&smaller), [1]);
        assert!(
            empty_blocks(&batch).is_empty(),
            "the closing block is never offered"
        );
    }

    #[test]
    fn chunks_halve_down_to_one() {
        assert_eq!(chunk_sizes(50), [25, 13, 7, 4, 2, 1]);
        assert_eq!(chunk_sizes(1), [1]);
        assert!(chunk_sizes(0).is_empty());
    }
}
