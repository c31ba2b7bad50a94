//! Real batches: the production bootloader (`proved_batch`) and a bundle's system contracts
//! at genesis, with signed L2 transactions (EIP-712, EIP-1559, EIP-2930, legacy) from funded
//! accounts over several L2 blocks, closed by the fictive block the bootloader asks for.
//!
//! Transactions are transfers, calls into user contracts deployed at genesis (one writes
//! storage, one reverts, one panics, one runs out of gas: execution failures a batch keeps),
//! deploys through the ContractDeployer (EIP-712 with the bytecode as a factory dependency,
//! published in full on its first deploy in a batch) and calls into the contracts deployed,
//! and transactions the bootloader rejects — a wrong nonce, a bad signature, a sender without
//! funds, a gas limit below the overhead, a fee under the base fee — which halt the
//! bootloader, so the operator marks them to be rolled back, as a state keeper drops them.
//! Some good transactions are rolled back too. An eighth of the transfers and calls come
//! from L1 instead, as priority transactions (never dropped). Every batch is meant to seal, and every transaction records what it is
//! meant to do ([`Expected`]): a batch or a transaction that does otherwise is a defect of
//! this generator or of an operator (the campaign counts it apart).

use arbitrary::{Result, Unstructured};
use eravm::{H160, U256};

use super::batches::storage_writer;
use super::{pick, Settings};
use crate::asm::{op, Program};
use crate::case::{
    Address, Batch, BatchInfo, BatchMode, Bytes, Case, Expected, FrameSettings, InitialFlags,
    L2Block, ProtocolTx, Word, CASE_FORMAT_VERSION,
};
use crate::contracts::{BootloaderKind, Bundle};
use crate::genesis::{Genesis, CONTRACT_DEPLOYER, DEFAULT_CHAIN_ID};
use crate::signing::{self, Account, EIP_1559_TX, EIP_2930_TX, EIP_712_TX, L1_TX, LEGACY_TX};
use crate::world::{bytecode_hash, Contract};

/// Funded accounts, and the one without funds.
const FUNDED: u64 = 4;
const UNFUNDED: u64 = 1_000;
/// Each funded account's balance: far more than any batch spends.
const RICH: u128 = 1_000_000_000_000_000_000_000_000_000_000;
/// User contracts: a storage writer, a reverter, a panicker, one that grows its heap past
/// any gas limit.
const CONTRACTS: u64 = 0xc0de_0000;
const WRITER: u64 = CONTRACTS;
const REVERTER: u64 = CONTRACTS + 1;
const PANICKER: u64 = CONTRACTS + 2;
const HEAP_GROWER: u64 = CONTRACTS + 3;
/// Enough cycles for the block tip (about 1.5 million) and fifty transactions.
const MAX_CYCLES: u64 = 30_000_000;
const FAIR_L2_GAS_PRICE: u64 = 250_000_000;
/// L1 addresses sending priority transactions, and the gas per pubdata byte L1 asks of them.
const L1_SENDERS: u64 = 0x1_0000_0000;
const L1_GAS_PER_PUBDATA: u64 = 800;

/// What a generated transaction is meant to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Intent {
    Transfer,
    WriteStorage,
    Revert,
    Panic,
    /// Run out of gas (a heap write at the top of the address space).
    OutOfGas,
    /// Send an L2→L1 message (L1Messenger `sendToL1`): a user log and a long message in the
    /// pubdata.
    SendMessage,
    /// Deploy the deployable contract (ContractDeployer `create`).
    Deploy,
    /// Call a contract deployed earlier in the batch (a deploy if there is none yet).
    CallDeployed,
    // Rejected by the bootloader (rolled back):
    WrongNonce,
    BadSignature,
    NoFunds,
    GasBelowOverhead,
    FeeBelowBaseFee,
}

const INTENTS: [(u32, Intent); 13] = [
    (30, Intent::Transfer),
    (20, Intent::WriteStorage),
    (6, Intent::Revert),
    (6, Intent::Panic),
    (3, Intent::OutOfGas),
    (5, Intent::SendMessage),
    (6, Intent::Deploy),
    (5, Intent::CallDeployed),
    (3, Intent::WrongNonce),
    (3, Intent::BadSignature),
    (3, Intent::NoFunds),
    (3, Intent::GasBelowOverhead),
    (3, Intent::FeeBelowBaseFee),
];

impl Intent {
    fn expected(self) -> Expected {
        match self {
            Intent::Transfer
            | Intent::WriteStorage
            | Intent::SendMessage
            | Intent::Deploy
            | Intent::CallDeployed => Expected::Success,
            Intent::Revert => Expected::Revert,
            Intent::Panic => Expected::Panic,
            Intent::OutOfGas => Expected::OutOfGas,
            Intent::WrongNonce
            | Intent::BadSignature
            | Intent::NoFunds
            | Intent::GasBelowOverhead
            | Intent::FeeBelowBaseFee => Expected::Rejection,
        }
    }
}

/// The accounts of a batch, their next nonces and deployment nonces.
struct Wallets {
    accounts: Vec<Account>,
    nonces: Vec<u64>,
    deploy_nonces: Vec<u64>,
    unfunded: Account,
}

/// One block being built: its transactions and the rolling hash of those kept.
struct OpenBlock {
    block: L2Block,
    rolling: U256,
    kept: usize,
}

impl OpenBlock {
    /// Counts `tx` as kept: its hash joins the block's rolling hash.
    fn keep(&mut self, tx: &ProtocolTx, chain_id: u64) {
        let hash = signing::tx_hash(tx, chain_id).expect("a signed or an L1 transaction");
        self.rolling = signing::rolling_hash(self.rolling, &hash);
        self.kept += 1;
    }
}

struct Builder {
    wallets: Wallets,
    base_fee: u64,
    chain_id: u64,
    /// See [`Settings::pre_eip155_legacy`].
    pre_eip155_legacy: bool,
    /// Contracts deployed by transactions kept so far.
    deployed: Vec<H160>,
    /// Priority transactions so far (the next one's serial id).
    priority_ops: u64,
}

/// A contract to deploy: its constructor (and any call) writes 1 to its slot 1 and returns
/// an empty array of immutables (`abi.encode(new ImmutableData[](0))`, what the
/// ContractDeployer decodes from a constructor). Padded to an odd number of words, as a
/// bytecode hash requires.
pub fn deployable() -> Vec<Word> {
    use eravm::{Opcode, SrcMode};
    let ops = [
        op(Opcode::Add).src_mode(SrcMode::Imm, 1).dst(2),
        op(Opcode::StorageWrite).src0(2).src1(2),
        op(Opcode::Add).src_mode(SrcMode::Imm, 32).dst(3),
        op(Opcode::HeapWrite).src0(0).src1(3),
        // r1 = the constant after the code: a pointer to heap bytes 0..64.
        op(Opcode::Add).src_mode(SrcMode::CodePage, 2).dst(1),
        op(Opcode::RetOk).src0(1),
    ];
    let program = ops.into_iter().fold(Program::new(), Program::push);
    debug_assert_eq!(program.constants_start(), 2);
    let mut code = program.constant(U256::from(64) << 96).case(0).code;
    if code.len() % 2 == 0 {
        code.push(Word::default());
    }
    code
}

/// A contract that writes a heap word ending at 2^32 − 1: the growth costs more gas than any
/// transaction has, so it panics out of gas (and no VM may allocate that heap).
fn heap_grower() -> Vec<Word> {
    use eravm::{Opcode, SrcMode};
    let program = Program::new()
        .push(op(Opcode::Add).src_mode(SrcMode::CodePage, 1).dst(1))
        .push(op(Opcode::HeapWrite).src0(1).src1(1))
        .push(op(Opcode::RetOk).src0(0));
    program.constant(U256::from(u32::MAX - 31)).case(0).code
}

/// `create(bytes32 salt, bytes32 bytecodeHash, bytes input)` with empty input.
fn create_calldata(salt: &[u8], hash: U256) -> Vec<u8> {
    let mut data = signing::keccak(b"create(bytes32,bytes32,bytes)")[..4].to_vec();
    data.extend_from_slice(salt);
    data.extend_from_slice(&eravm::code_hash::bytes(&hash));
    data.extend_from_slice(&eravm::code_hash::bytes(&U256::from(0x60)));
    data.extend_from_slice(&[0; 32]);
    data
}

/// `sendToL1(bytes message)`.
fn send_to_l1_calldata(message: &[u8]) -> Vec<u8> {
    let mut data = signing::keccak(b"sendToL1(bytes)")[..4].to_vec();
    data.extend_from_slice(&eravm::code_hash::bytes(&U256::from(0x20)));
    data.extend_from_slice(&eravm::code_hash::bytes(&U256::from(message.len())));
    data.extend_from_slice(message);
    data.resize(4 + 64 + message.len().div_ceil(32) * 32, 0);
    data
}

/// The address the ContractDeployer gives the `nonce`-th contract `sender` creates.
pub fn created_address(sender: H160, nonce: u64) -> H160 {
    let mut preimage = signing::keccak(b"zksyncCreate").to_vec();
    preimage.extend_from_slice(&[0; 12]);
    preimage.extend_from_slice(sender.as_bytes());
    preimage.extend_from_slice(&eravm::code_hash::bytes(&U256::from(nonce)));
    H160::from_slice(&signing::keccak(&preimage)[12..])
}

fn user_contracts() -> Vec<Contract> {
    let program = |code: Program| code.case(0).code;
    [
        (WRITER, storage_writer(false)),
        (
            REVERTER,
            program(Program::new().push(op(eravm::Opcode::RetRevert))),
        ),
        (
            PANICKER,
            program(Program::new().push(op(eravm::Opcode::RetPanic))),
        ),
        (HEAP_GROWER, heap_grower()),
    ]
    .into_iter()
    .map(|(address, code)| Contract {
        address: Address(H160::from_low_u64_be(address)),
        code,
        constructing: false,
    })
    .collect()
}

impl Builder {
    /// A well-formed transaction from `sender` (nonce aside) meant to do `intent`.
    fn body(&self, u: &mut Unstructured, intent: Intent, from: H160) -> Result<ProtocolTx> {
        let tx_type = match intent {
            Intent::Deploy => EIP_712_TX,
            _ => [EIP_712_TX, EIP_1559_TX, EIP_2930_TX, LEGACY_TX][pick(u, &[4, 3, 1, 2])?],
        };
        let mut factory_deps = Vec::new();
        let (to, data) = match intent {
            Intent::WriteStorage => (WRITER, u.bytes(32)?.to_vec()),
            Intent::Revert => (REVERTER, Vec::new()),
            Intent::Panic => (PANICKER, Vec::new()),
            Intent::OutOfGas => (HEAP_GROWER, Vec::new()),
            Intent::SendMessage => {
                let len = u.int_in_range(0..=200)?;
                let messenger = eravm::operator::pubdata::L1_MESSENGER.to_low_u64_be();
                (messenger, send_to_l1_calldata(u.bytes(len)?))
            }
            Intent::Deploy => {
                let hash = bytecode_hash(&deployable(), false);
                factory_deps.push(Word(hash));
                (CONTRACT_DEPLOYER, create_calldata(u.bytes(32)?, hash))
            }
            _ => (0, Vec::new()),
        };
        let to = if intent == Intent::CallDeployed {
            self.deployed[u.choose_index(self.deployed.len())?]
        } else if to == 0 {
            let i = u.int_in_range(0..=FUNDED)?;
            match self.wallets.accounts.get(i as usize) {
                Some(account) => account.address,
                None => H160::from_low_u64_be(0xf00d_0000 + u.int_in_range(0..=255)?),
            }
        } else {
            H160::from_low_u64_be(to)
        };
        let value = match intent {
            Intent::Transfer => U256::from(u.int_in_range(0..=1_000_000_000_000_000_000u64)?),
            _ => U256::zero(),
        };
        let max_fee = self.base_fee * u.int_in_range(1..=3)?;
        let priority = match tx_type {
            EIP_712_TX | EIP_1559_TX => u.int_in_range(0..=max_fee)?,
            _ => max_fee,
        };
        // A deploy publishes its bytecode and more state diffs, a message its bytes and a
        // log: up to 50,000 gas a byte.
        let gas = match intent {
            Intent::Deploy | Intent::SendMessage => 40_000_000u64..=80_000_000,
            _ => 4_000_000..=40_000_000,
        };
        let mut tx = ProtocolTx {
            tx_type,
            from: Address(from),
            to: Address(to),
            gas_limit: Word(u.int_in_range(gas)?.into()),
            gas_per_pubdata_limit: Word(
                eravm::operator::transaction::MAX_GAS_PER_PUBDATA_BYTE.into(),
            ),
            max_fee_per_gas: Word(max_fee.into()),
            max_priority_fee_per_gas: Word(priority.into()),
            value: Word(value),
            data: Bytes(data),
            factory_deps,
            expected: Some(intent.expected()),
            ..ProtocolTx::default()
        };
        if tx_type == LEGACY_TX && (u.ratio(4, 5)? || !self.pre_eip155_legacy) {
            tx.reserved[0] = Word(U256::one());
        }
        Ok(tx)
    }

    /// A signed transaction meant to do `intent`, and the index of its sender.
    fn transaction(&mut self, u: &mut Unstructured, intent: Intent) -> Result<(ProtocolTx, usize)> {
        let sender = u.int_in_range(0..=FUNDED - 1)? as usize;
        let account = match intent {
            Intent::NoFunds => self.wallets.unfunded.clone(),
            _ => self.wallets.accounts[sender].clone(),
        };
        let mut tx = self.body(u, intent, account.address)?;
        let nonce = match intent {
            Intent::NoFunds => 0,
            Intent::WrongNonce => self.wallets.nonces[sender] + u.int_in_range(1..=3)?,
            _ => self.wallets.nonces[sender],
        };
        tx.nonce = Word(nonce.into());
        match intent {
            Intent::GasBelowOverhead => tx.gas_limit = Word(u.int_in_range(0..=9_999u64)?.into()),
            Intent::FeeBelowBaseFee => {
                let fee = u.int_in_range(0..=self.base_fee - 1)?;
                tx.max_fee_per_gas = Word(fee.into());
                tx.max_priority_fee_per_gas = Word(fee.into());
            }
            _ => {}
        }
        account.sign(&mut tx, self.chain_id);
        if intent == Intent::BadSignature {
            let i = u.int_in_range(0..=63)?;
            tx.signature.0[i] ^= 1 << u.int_in_range(0..=7)?;
        }
        Ok((tx, sender))
    }

    /// The same intent as an L1 priority transaction from an L1 address: unsigned, paid for
    /// by ether the transaction mints (value, gas at the base fee, and a rest for the refund
    /// recipient), at L1's gas per pubdata, numbered by the priority queue.
    fn priority_tx(&mut self, u: &mut Unstructured, intent: Intent) -> Result<ProtocolTx> {
        let from = H160::from_low_u64_be(L1_SENDERS + u.int_in_range(0..=3)?);
        let mut tx = self.body(u, intent, from)?;
        tx.tx_type = L1_TX;
        tx.gas_per_pubdata_limit = Word(L1_GAS_PER_PUBDATA.into());
        tx.max_fee_per_gas = Word(self.base_fee.into());
        tx.max_priority_fee_per_gas = Word::default();
        tx.nonce = Word(self.priority_ops.into());
        self.priority_ops += 1;
        let fee = tx.gas_limit.0 * U256::from(self.base_fee);
        let rest = U256::from(u.int_in_range(0..=1_000_000_000_000_000u64)?);
        tx.reserved[0] = Word(tx.value.0 + fee + rest);
        tx.reserved[1] = Word(U256::from(0xf00d_1000 + u.int_in_range(0..=255u64)?));
        Ok(tx)
    }

    /// Adds a transaction to `open`, keeping it (its sender's nonce moves on, its hash joins
    /// the block's rolling hash) unless it is rolled back: if rejected, or now and then when
    /// `may_roll_back`.
    fn push(
        &mut self,
        u: &mut Unstructured,
        open: &mut OpenBlock,
        intent: Intent,
        may_roll_back: bool,
    ) -> Result<()> {
        let intent = match intent {
            Intent::CallDeployed if self.deployed.is_empty() => Intent::Deploy,
            _ => intent,
        };
        let via_l1 = matches!(
            intent,
            Intent::Transfer | Intent::WriteStorage | Intent::Revert | Intent::Panic
        );
        if via_l1 && u.ratio(1, 8)? {
            // A state keeper never drops a priority transaction.
            let tx = self.priority_tx(u, intent)?;
            open.keep(&tx, self.chain_id);
            open.block.transactions.push(tx);
            return Ok(());
        }
        let (mut tx, sender) = self.transaction(u, intent)?;
        tx.rollback =
            intent.expected() == Expected::Rejection || (may_roll_back && u.ratio(1, 12)?);
        if !tx.rollback {
            open.keep(&tx, self.chain_id);
            self.wallets.nonces[sender] += 1;
            if intent == Intent::Deploy {
                let nonce = &mut self.wallets.deploy_nonces[sender];
                self.deployed.push(created_address(tx.from.0, *nonce));
                *nonce += 1;
            }
        }
        open.block.transactions.push(tx);
        Ok(())
    }
}

/// Generator settings for real batches on `bundle`; an error names what the bundle lacks.
pub fn settings(bundle: Bundle, settings: Settings) -> std::result::Result<Settings, String> {
    bundle
        .require(crate::contracts::BATCH_CONTRACTS)
        .map_err(|e| e.to_string())?;
    if bundle.bootloader(BootloaderKind::ProvedBatch).is_none() {
        return Err(format!(
            "{} holds no proved_batch bootloader",
            bundle.source.display()
        ));
    }
    Ok(Settings {
        bundle: Some(std::sync::Arc::new(bundle)),
        ..settings
    })
}

/// Settings for the bundle `ERADIFF_CONTRACTS` names, of protocol `ERADIFF_PROTOCOL` (default
/// v26); `None` when the variable is not set.
pub fn settings_from_env() -> std::result::Result<Option<Settings>, String> {
    let version: crate::contracts::ProtocolVersion = std::env::var("ERADIFF_PROTOCOL")
        .unwrap_or_else(|_| "v26".into())
        .parse()
        .map_err(|e: crate::contracts::BundleError| e.to_string())?;
    match Bundle::from_env(version).map_err(|e| e.to_string())? {
        Some(bundle) => settings(bundle, Settings::default()).map(Some),
        None => Ok(None),
    }
}

/// A real batch of 1–4 L2 blocks and 1–48 transactions on `settings.bundle`'s contracts.
pub fn generate(u: &mut Unstructured, settings: &Settings) -> Result<Case> {
    let bundle = settings
        .bundle
        .as_deref()
        .ok_or(arbitrary::Error::IncorrectFormat)?;
    let bootloader = bundle
        .bootloader(BootloaderKind::ProvedBatch)
        .ok_or(arbitrary::Error::IncorrectFormat)?;
    let fair_pubdata_price = u.int_in_range(0..=2_000_000_000_000u64)?;
    let base_fee = eravm::operator::Fees::derived_base_fee(FAIR_L2_GAS_PRICE, fair_pubdata_price);
    let accounts: Vec<Account> = (0..FUNDED).map(Account::nth).collect();
    let genesis = Genesis {
        chain_id: DEFAULT_CHAIN_ID,
        balances: accounts
            .iter()
            .map(|a| (a.address, U256::from(RICH)))
            .collect(),
        contracts: user_contracts(),
    };
    let mut world = genesis.world(bundle);
    // Known to the decommitter, as a node's factory dependencies are, but not marked known
    // to the protocol: its first deploy publishes it.
    world.bytecodes.push(deployable());
    let mut builder = Builder {
        wallets: Wallets {
            nonces: vec![0; accounts.len()],
            deploy_nonces: vec![0; accounts.len()],
            accounts,
            unfunded: Account::nth(UNFUNDED),
        },
        base_fee,
        chain_id: DEFAULT_CHAIN_ID,
        pre_eip155_legacy: settings.pre_eip155_legacy,
        deployed: Vec::new(),
        priority_ops: 0,
    };
    let timestamp = u.int_in_range(1..=1_000_000u64)?;
    let blocks = blocks(u, &mut builder, timestamp)?;
    Ok(Case {
        version: CASE_FORMAT_VERSION,
        code: bootloader.code.clone(),
        ergs: u32::MAX,
        registers: vec![crate::dump::formal_calldata_pointer()],
        calldata: Bytes::default(),
        frame: FrameSettings::default(),
        flags: InitialFlags::default(),
        max_cycles: MAX_CYCLES,
        world: Some(world),
        start: None,
        batch: Some(Batch {
            transactions: Vec::new(),
            blocks,
            mode: BatchMode::Batch,
            info: BatchInfo {
                operator: Address(H160::from_low_u64_be(0xfee)),
                previous_batch_hash: Word::default(),
                timestamp,
                number: 1,
                fair_pubdata_price,
                fair_l2_gas_price: FAIR_L2_GAS_PRICE,
                expected_base_fee: base_fee,
            },
        }),
        note: format!(
            "realbatches on {} ({})",
            bundle.version.name(),
            bundle.source.display()
        ),
    })
}

/// The L2 blocks, each with at least one transaction kept, and the empty closing block.
fn blocks(u: &mut Unstructured, b: &mut Builder, timestamp: u64) -> Result<Vec<L2Block>> {
    let count = u.int_in_range(1..=4u32)?;
    let mut blocks = Vec::new();
    let mut prev = signing::legacy_l2_block_hash(0);
    let mut at = timestamp;
    for number in 1..=count + 1 {
        let mut open = OpenBlock {
            block: L2Block {
                number,
                timestamp: at,
                prev_block_hash: Word(prev),
                virtual_blocks: 1,
                transactions: Vec::new(),
            },
            rolling: U256::zero(),
            kept: 0,
        };
        if number <= count {
            for _ in 0..u.int_in_range(1..=12u32)? {
                let intent = INTENTS[pick(u, &INTENTS.map(|(w, _)| w))?].1;
                b.push(u, &mut open, intent, true)?;
            }
            if open.kept == 0 {
                b.push(u, &mut open, Intent::Transfer, false)?;
            }
        }
        prev = signing::l2_block_hash(number, at, prev, open.rolling);
        at += u.int_in_range(1..=3u64)?;
        blocks.push(open.block);
    }
    Ok(blocks)
}
