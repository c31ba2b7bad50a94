//! The `0x`-hex newtypes every case field holding a word, an address or bytes is made of,
//! with the serde impls that read and write them. Kept apart from `case` so that `world`
//! (which `case` holds) can use them without the two modules importing each other.

use std::fmt;

use eravm::{H160, U256};
use serde::{Deserialize, Serialize};

/// A 256-bit word, written as `0x`-prefixed hex.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Word(pub U256);

impl Word {
    /// Whether the word is zero (serde skips such optional fields).
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

/// A 20-byte address, written as `0x`-prefixed hex.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Address(pub H160);

/// A byte string, written as `0x`-prefixed hex.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// Whether there are no bytes (serde skips such fields).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The digits of a hex string, which must start with `0x` (the one rule for every hex field:
/// a string without the prefix, such as `"1234"`, is neither read as hex nor as decimal, and a
/// JSON number in a hex field is an error too).
struct HexVisitor(&'static str);

impl serde::de::Visitor<'_> for HexVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, as a 0x-prefixed hex string", self.0)
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<String, E> {
        match s.strip_prefix("0x") {
            Some(digits) => Ok(digits.to_string()),
            None => Err(E::custom(format!(
                "expected {}, as a hex string starting with 0x, got {s:?} (hex fields take no \
                 unprefixed or decimal numbers)",
                self.0
            ))),
        }
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<String, E> {
        Err(E::custom(format!(
            "expected {}, as a hex string starting with 0x, got the JSON number {n} (write \
             \"{n:#x}\")",
            self.0
        )))
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<String, E> {
        Err(E::custom(format!(
            "expected {}, as a hex string starting with 0x, got the JSON number {n}",
            self.0
        )))
    }
}

fn hex_digits<'de, D: serde::Deserializer<'de>>(
    d: D,
    what: &'static str,
) -> Result<String, D::Error> {
    d.deserialize_any(HexVisitor(what))
}

impl Serialize for Word {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:#x}", self.0))
    }
}

impl<'de> Deserialize<'de> for Word {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let digits = hex_digits(d, "a 256-bit word")?;
        if digits.is_empty() || digits.len() > 64 {
            return Err(serde::de::Error::custom(format!(
                "expected 0x and 1 to 64 hex digits, got \"0x{digits}\""
            )));
        }
        U256::from_str_radix(&digits, 16)
            .map(Word)
            .map_err(|_| serde::de::Error::custom(format!("not a hex number: \"0x{digits}\"")))
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:#x}", self.0))
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let digits = hex_digits(d, "an address")?;
        if digits.is_empty() || digits.len() > 40 {
            return Err(serde::de::Error::custom(format!(
                "an address is 0x and 1 to 40 hex digits, got \"0x{digits}\""
            )));
        }
        let value = U256::from_str_radix(&digits, 16)
            .map_err(|_| serde::de::Error::custom(format!("not a hex address: \"0x{digits}\"")))?;
        let mut bytes = [0u8; 32];
        value.to_big_endian(&mut bytes);
        Ok(Address(H160::from_slice(&bytes[12..])))
    }
}

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", ::hex::encode(&self.0)))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let digits = hex_digits(d, "bytes")?;
        ::hex::decode(&digits)
            .map(Bytes)
            .map_err(|e| serde::de::Error::custom(format!("not hex bytes ({e})")))
    }
}
