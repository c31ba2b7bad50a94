//! Real L2 transactions as a wallet makes them: keys and addresses, the two hashes the
//! bootloader computes for each transaction type (the signed hash an account checks and the
//! transaction hash that goes into the L2 block's rolling hash), a signature DefaultAccount
//! accepts, and the L2 block hashes SystemContext checks.
//!
//! This builds input for both VMs (it executes nothing). Nothing on either side shares it:
//! the real contracts recompute all of it in the batch (BootloaderUtilities both hashes,
//! DefaultAccount the signer by ecrecover, SystemContext the block hashes), so a mistake here
//! makes the bootloader halt and the batch fail to seal on every VM.

use eravm::{H160, U256};
use k256::ecdsa::{RecoveryId, Signature, SigningKey};
use sha3::{Digest, Keccak256};

use crate::case::{Bytes, ProtocolTx};

/// Transaction types.
pub const LEGACY_TX: u8 = 0;
pub const EIP_2930_TX: u8 = 1;
pub const EIP_1559_TX: u8 = 2;
pub const EIP_712_TX: u8 = 113;
pub const L1_TX: u8 = 255;

pub fn keccak(bytes: &[u8]) -> [u8; 32] {
    Keccak256::digest(bytes).into()
}

fn word(value: &U256) -> [u8; 32] {
    let mut out = [0u8; 32];
    value.to_big_endian(&mut out);
    out
}

fn address_word(address: &H160) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[12..].copy_from_slice(address.as_bytes());
    out
}

/// An externally owned account: a secp256k1 key and the address it controls.
#[derive(Clone, Debug)]
pub struct Account {
    key: SigningKey,
    pub address: H160,
}

impl Account {
    /// The account of a 32-byte secret; `None` if it is not a valid key (zero or too large).
    pub fn from_secret(secret: [u8; 32]) -> Option<Account> {
        let key = SigningKey::from_bytes(&secret.into()).ok()?;
        let point = key.verifying_key().to_encoded_point(false);
        let hash = keccak(&point.as_bytes()[1..]);
        Some(Account {
            key,
            address: H160::from_slice(&hash[12..]),
        })
    }

    /// The `n`th account of a deterministic family (secret = keccak("eradiff account" ‖ n)).
    pub fn nth(n: u64) -> Account {
        let mut preimage = b"eradiff account".to_vec();
        preimage.extend(n.to_be_bytes());
        let mut secret = keccak(&preimage);
        loop {
            if let Some(account) = Account::from_secret(secret) {
                return account;
            }
            secret = keccak(&secret);
        }
    }

    /// `r ‖ s ‖ v` over a 32-byte hash, with the low `s` and `v` = 27 or 28, as DefaultAccount
    /// requires.
    pub fn sign_hash(&self, hash: &[u8; 32]) -> Vec<u8> {
        let (signature, recovery) = self
            .key
            .sign_prehash_recoverable(hash)
            .expect("signing a 32-byte hash cannot fail");
        let (signature, recovery) = low_s(signature, recovery);
        let mut out = signature.to_bytes().to_vec();
        out.push(27 + recovery.to_byte());
        out
    }

    /// Signs `tx` (whose `from` must be this account) for `chain_id`.
    pub fn sign(&self, tx: &mut ProtocolTx, chain_id: u64) {
        tx.signature = Bytes(self.sign_hash(&signed_hash(tx, chain_id)));
    }
}

fn low_s(signature: Signature, recovery: RecoveryId) -> (Signature, RecoveryId) {
    match signature.normalize_s() {
        Some(normalized) => (
            normalized,
            RecoveryId::new(!recovery.is_y_odd(), recovery.is_x_reduced()),
        ),
        None => (signature, recovery),
    }
}

// ---- RLP, as the bootloader's RLPEncoder writes it ----

fn rlp_length(prefix: u8, length: usize) -> Vec<u8> {
    if length < 56 {
        vec![prefix + length as u8]
    } else {
        let bytes = length.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let mut out = vec![prefix + 55 + (bytes.len() - skip) as u8];
        out.extend(&bytes[skip..]);
        out
    }
}

fn rlp_bytes(bytes: &[u8]) -> Vec<u8> {
    if bytes.len() == 1 && bytes[0] < 0x80 {
        return bytes.to_vec();
    }
    let mut out = rlp_length(0x80, bytes.len());
    out.extend(bytes);
    out
}

fn rlp_uint(value: &U256) -> Vec<u8> {
    let bytes = word(value);
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    rlp_bytes(&bytes[skip..])
}

fn rlp_list(items: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = items.concat();
    let mut out = rlp_length(0xc0, body.len());
    out.extend(body);
    out
}

fn low_address(value: &H160) -> Vec<u8> {
    rlp_bytes(value.as_bytes())
}

/// Whether a legacy transaction signs its chain id (EIP-155): `reserved[0]` set.
fn eip155(tx: &ProtocolTx) -> bool {
    !tx.reserved[0].0.is_zero()
}

fn signature_parts(tx: &ProtocolTx) -> Option<(U256, U256, u8)> {
    let s = &tx.signature.0;
    if s.len() != 65 {
        return None;
    }
    Some((
        U256::from_big_endian(&s[..32]),
        U256::from_big_endian(&s[32..64]),
        s[64],
    ))
}

/// The fields of a typed Ethereum transaction before its signature: chain id, nonce, the
/// fees (EIP-1559: priority fee and max fee; EIP-2930: the gas price, our max fee), gas
/// limit, to, value, data and an empty access list. `None` for other types.
fn typed_fields(tx: &ProtocolTx, chain_id: u64) -> Option<Vec<Vec<u8>>> {
    let fees = match tx.tx_type {
        EIP_2930_TX => vec![rlp_uint(&tx.max_fee_per_gas.0)],
        EIP_1559_TX => vec![
            rlp_uint(&tx.max_priority_fee_per_gas.0),
            rlp_uint(&tx.max_fee_per_gas.0),
        ],
        _ => return None,
    };
    let mut fields = vec![rlp_uint(&chain_id.into()), rlp_uint(&tx.nonce.0)];
    fields.extend(fees);
    fields.extend([
        rlp_uint(&tx.gas_limit.0),
        low_address(&tx.to.0),
        rlp_uint(&tx.value.0),
        rlp_bytes(&tx.data.0),
        rlp_list(&[]),
    ]);
    Some(fields)
}

fn legacy_fields(tx: &ProtocolTx) -> Vec<Vec<u8>> {
    vec![
        rlp_uint(&tx.nonce.0),
        rlp_uint(&tx.max_fee_per_gas.0),
        rlp_uint(&tx.gas_limit.0),
        low_address(&tx.to.0),
        rlp_uint(&tx.value.0),
        rlp_bytes(&tx.data.0),
    ]
}

fn typed(kind: u8, body: Vec<u8>) -> [u8; 32] {
    let mut bytes = vec![kind];
    bytes.extend(body);
    keccak(&bytes)
}

/// The hash an account's signature covers.
pub fn signed_hash(tx: &ProtocolTx, chain_id: u64) -> [u8; 32] {
    match tx.tx_type {
        LEGACY_TX => {
            let mut fields = legacy_fields(tx);
            if eip155(tx) {
                fields.extend([
                    rlp_uint(&chain_id.into()),
                    rlp_uint(&0.into()),
                    rlp_uint(&0.into()),
                ]);
            }
            keccak(&rlp_list(&fields))
        }
        _ => match typed_fields(tx, chain_id) {
            Some(fields) => typed(tx.tx_type, rlp_list(&fields)),
            None => eip712_hash(tx, chain_id),
        },
    }
}

fn eip712_hash(tx: &ProtocolTx, chain_id: u64) -> [u8; 32] {
    let type_hash = keccak(
        b"Transaction(uint256 txType,uint256 from,uint256 to,uint256 gasLimit,\
uint256 gasPerPubdataByteLimit,uint256 maxFeePerGas,uint256 maxPriorityFeePerGas,\
uint256 paymaster,uint256 nonce,uint256 value,bytes data,bytes32[] factoryDeps,\
bytes paymasterInput)",
    );
    let deps: Vec<u8> = tx.factory_deps.iter().flat_map(|h| word(&h.0)).collect();
    let fields: Vec<[u8; 32]> = vec![
        type_hash,
        word(&tx.tx_type.into()),
        address_word(&tx.from.0),
        address_word(&tx.to.0),
        word(&tx.gas_limit.0),
        word(&tx.gas_per_pubdata_limit.0),
        word(&tx.max_fee_per_gas.0),
        word(&tx.max_priority_fee_per_gas.0),
        address_word(&tx.paymaster.0),
        word(&tx.nonce.0),
        word(&tx.value.0),
        keccak(&tx.data.0),
        keccak(&deps),
        keccak(&tx.paymaster_input.0),
    ];
    let struct_hash = keccak(&fields.concat());
    let domain = keccak(
        &[
            keccak(b"EIP712Domain(string name,string version,uint256 chainId)"),
            keccak(b"zkSync"),
            keccak(b"2"),
            word(&chain_id.into()),
        ]
        .concat(),
    );
    keccak(&[b"\x19\x01".as_slice(), &domain, &struct_hash].concat())
}

/// The transaction hash the bootloader appends to its L2 block's rolling hash. For an L1
/// transaction it is its canonical hash, keccak of `abi.encode(transaction)` (the bootloader
/// hashes what the operator placed, so this checks the encoding too).
pub fn tx_hash(tx: &ProtocolTx, chain_id: u64) -> Option<[u8; 32]> {
    if tx.tx_type == L1_TX {
        let words = tx.to_operator().abi_encode();
        return Some(keccak(&words.iter().flat_map(word).collect::<Vec<u8>>()));
    }
    let (r, s, v) = signature_parts(tx)?;
    Some(match tx.tx_type {
        LEGACY_TX => {
            let v = if eip155(tx) {
                U256::from(v) + U256::from(8) + U256::from(chain_id) * 2
            } else {
                v.into()
            };
            let mut fields = legacy_fields(tx);
            fields.extend([rlp_uint(&v), rlp_uint(&r), rlp_uint(&s)]);
            keccak(&rlp_list(&fields))
        }
        _ => match typed_fields(tx, chain_id) {
            Some(mut fields) => {
                fields.extend([
                    rlp_uint(&U256::from(v.wrapping_sub(27))),
                    rlp_uint(&r),
                    rlp_uint(&s),
                ]);
                typed(tx.tx_type, rlp_list(&fields))
            }
            None => keccak(&[signed_hash(tx, chain_id), keccak(&tx.signature.0)].concat()),
        },
    })
}

/// The hash of L2 block 0 as SystemContext derives it for the first block ever (the legacy
/// rule: keccak of the number as four bytes).
pub fn legacy_l2_block_hash(number: u32) -> U256 {
    U256::from_big_endian(&keccak(&number.to_be_bytes()))
}

/// An L2 block's hash: keccak of its number, timestamp, previous hash and transactions'
/// rolling hash, each as a word.
pub fn l2_block_hash(number: u32, timestamp: u64, prev: U256, rolling: U256) -> U256 {
    let bytes = [
        word(&number.into()),
        word(&timestamp.into()),
        word(&prev),
        word(&rolling),
    ]
    .concat();
    U256::from_big_endian(&keccak(&bytes))
}

/// The rolling hash after one more transaction.
pub fn rolling_hash(rolling: U256, tx_hash: &[u8; 32]) -> U256 {
    U256::from_big_endian(&keccak(&[word(&rolling), *tx_hash].concat()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::ecdsa::VerifyingKey;

    // Vectors from the Ethereum yellow paper's RLP examples.
    #[test]
    fn rlp_matches_the_specification_examples() {
        assert_eq!(rlp_bytes(b"dog"), [0x83, b'd', b'o', b'g']);
        assert_eq!(rlp_uint(&0.into()), [0x80]);
        assert_eq!(rlp_uint(&15.into()), [0x0f]);
        assert_eq!(rlp_uint(&1024.into()), [0x82, 0x04, 0x00]);
        assert_eq!(
            rlp_list(&[rlp_bytes(b"cat"), rlp_bytes(b"dog")]),
            [0xc8, 0x83, b'c', b'a', b't', 0x83, b'd', b'o', b'g']
        );
        assert_eq!(rlp_list(&[]), [0xc0]);
        let long = [b'a'; 56];
        assert_eq!(&rlp_bytes(&long)[..2], [0xb8, 56]);
    }

    // The well-known account of secret 1 (the generator point's address).
    #[test]
    fn secret_one_controls_the_known_address() {
        let mut secret = [0u8; 32];
        secret[31] = 1;
        let account = Account::from_secret(secret).unwrap();
        assert_eq!(
            hex::encode(account.address.as_bytes()),
            "7e5f4552091a69125d5dfcb7b8c2659029395bdf"
        );
    }

    #[test]
    fn a_signature_recovers_its_signer_with_low_s() {
        let account = Account::nth(3);
        let hash = keccak(b"a message");
        let sig = account.sign_hash(&hash);
        assert_eq!(sig.len(), 65);
        assert!(sig[64] == 27 || sig[64] == 28);
        let signature = Signature::from_slice(&sig[..64]).unwrap();
        assert!(signature.normalize_s().is_none(), "s is in the lower half");
        let recovered = VerifyingKey::recover_from_prehash(
            &hash,
            &signature,
            RecoveryId::from_byte(sig[64] - 27).unwrap(),
        )
        .unwrap();
        assert_eq!(&recovered, account.key.verifying_key());
    }

    // keccak("") and the legacy hash of block 0 are fixed points any implementation shares.
    #[test]
    fn keccak_of_nothing_is_the_known_constant() {
        assert_eq!(
            hex::encode(keccak(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        assert_eq!(
            legacy_l2_block_hash(0),
            U256::from_big_endian(&keccak(&[0, 0, 0, 0]))
        );
    }
}
