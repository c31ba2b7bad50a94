//! The operator side of the bootloader protocol: where things live in the bootloader's heap,
//! the hooks the bootloader raises, and snapshots of the whole VM.
//!
//! This is the groundwork of the operator (the seed's `OperatorVm`): the VM notices hook
//! writes (see [`crate::Vm::take_hook`]) and can be snapshotted and rolled back as a whole;
//! the transaction loop, the answers to the hooks and our bootloader program build on it.

pub mod layout;

use primitive_types::U256;

/// The hooks of the protocol, by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hook {
    AccountValidationEntered,
    PaymasterValidationEntered,
    ValidationExited,
    ValidationStepEnded,
    TxHasEnded,
    DebugLog,
    DebugReturnData,
    NearCallCatch,
    AskOperatorForRefund,
    NotifyAboutRefund,
    PostResult,
    FinalBatchInfo,
    PubdataRequested,
}

impl Hook {
    /// The hook a number names; vm1 refuses any other number (and any value of 2^32 or more).
    pub fn from_value(value: &U256) -> Option<Hook> {
        if value.bits() > 32 {
            return None;
        }
        use Hook::*;
        Some(match value.low_u32() {
            0 => AccountValidationEntered,
            1 => PaymasterValidationEntered,
            2 => ValidationExited,
            3 => ValidationStepEnded,
            4 => TxHasEnded,
            5 => DebugLog,
            6 => DebugReturnData,
            7 => NearCallCatch,
            8 => AskOperatorForRefund,
            9 => NotifyAboutRefund,
            10 => PostResult,
            11 => FinalBatchInfo,
            12 => PubdataRequested,
            _ => return None,
        })
    }
}

/// A hook the bootloader raised: the value it wrote to the hook slot and the three parameter
/// words below it, as they were just before the write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookCall {
    pub value: U256,
    pub params: [U256; 3],
}

impl HookCall {
    pub fn hook(&self) -> Option<Hook> {
        Hook::from_value(&self.value)
    }
}
