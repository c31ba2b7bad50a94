//! `eravm`: an independent implementation of EraVM 1.5, the virtual machine of zkSync Era.
//!
//! Its semantics follow the reference implementation (`zk_evm` 0.153) instruction for
//! instruction, including prices, faults and the cases where an instruction is replaced by a
//! panic; none of its code comes from there. Start with [`Vm::new`] and a [`Bootloader`].

pub mod code_hash;
pub mod decoder;
pub mod ergs;
pub mod fat_pointer;
mod instructions;
pub mod memory;
pub mod opcode;
pub mod operator;
pub mod panic;
pub mod precompiles;
mod programs;
pub mod state;
mod vm;
pub mod world;

/// Always compiled, so that a harness can pass the switch on to its threads; the checks in
/// the VM that act on it exist only with the `fault-injection` feature.
pub mod faults;

pub use decoder::Instruction;
pub use ergs::Ergs;
pub use fat_pointer::FatPointer;
pub use opcode::{Condition, DstMode, Opcode, SrcMode};
pub use panic::{Panic, PanicReason};
pub use primitive_types::{H160, U256};
pub use state::{Flags, Frame, PageId, TaggedWord};
pub use vm::{
    Bootloader, ChainSettings, ExitKind, Outcome, Status, Vm, VmError, VmSnapshot,
    BOOTLOADER_ADDRESS, BOOTLOADER_BASE_PAGE, BOOTLOADER_CALLDATA_PAGE,
    BOOTLOADER_EXCEPTION_HANDLER, FIRST_FAR_CALL_BASE_PAGE, STATIC_MEMORY_PAGE,
};
pub use world::{InMemoryStorage, LogEntry, Storage, StorageKey, VmState, WorldSnapshot};
