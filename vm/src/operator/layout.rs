//! The bootloader heap layout of protocol versions 26 to 28 (1,993,750 words of 32 bytes),
//! as both our operator and the reference operator use it. Slot numbers are word indices;
//! byte offsets are 32 times them.

/// Batch information: operator address, previous batch hash, timestamp, number, fair pubdata
/// price, fair L2 gas price, expected base fee, new-batch flag.
pub const BATCH_INFO: u32 = 0;
/// One refund per transaction, written by the operator on AskOperatorForRefund.
pub const OPERATOR_REFUNDS: u32 = 143;
/// One overhead per transaction.
pub const TX_OVERHEADS: u32 = 10_143;
/// One trusted gas limit per transaction.
pub const TRUSTED_GAS_LIMITS: u32 = 20_143;
/// Four words of L2 block information per transaction, and one more block.
pub const L2_BLOCK_INFO: u32 = 30_143;
/// The compressed bytecodes the operator publishes.
pub const COMPRESSED_BYTECODES: u32 = 70_147;
/// Where the operator writes the L1 messenger's pubdata on PubdataRequested.
pub const L1_MESSENGER_PUBDATA: u32 = 266_757;
/// Words of room for that pubdata.
pub const L1_MESSENGER_PUBDATA_WORDS: u32 = 1_360_000;
/// Two words per transaction: the execute flag (and mode), and the byte offset of its data.
pub const TX_DESCRIPTIONS: u32 = 1_626_757;
/// The transactions themselves, one after another.
pub const TX_DATA: u32 = 1_646_797;
/// The three hook parameters, just below the hook slot.
pub const HOOK_PARAMS: u32 = 1_983_746;
/// The bootloader raises a hook by writing its number here.
pub const HOOK: u32 = 1_983_749;
/// One result word per transaction.
pub const TX_RESULTS: u32 = 1_983_750;
/// Words of bootloader memory.
pub const WORDS: u32 = 1_993_750;
/// Transactions a batch holds at most.
pub const MAX_TRANSACTIONS: u32 = 10_000;
