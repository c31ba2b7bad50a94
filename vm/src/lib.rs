//! `eravm`: an independent implementation of EraVM 1.5, the virtual machine of zkSync Era.
//!
//! Its semantics follow the reference implementation (`zk_evm` 0.153) instruction for
//! instruction, including prices, faults and the cases where an instruction is replaced by a
//! panic; none of its code comes from there. Start with [`Vm::new`] and a [`Bootloader`].

pub mod code_hash;
// These modules' public fields, variants and accessors predate the missing_docs lint and
// mostly name what they are; each loses its allow once documented.
#[allow(missing_docs)]
pub mod decoder;
#[allow(missing_docs)]
pub mod ergs;
pub mod fat_pointer;
mod instructions;
pub mod memory;
#[allow(missing_docs)]
pub mod opcode;
#[allow(missing_docs)]
pub mod operator;
pub mod panic;
#[allow(missing_docs)]
pub mod precompiles;
mod programs;
pub mod start;
#[allow(missing_docs)]
pub mod state;
#[allow(missing_docs)]
mod vm;
#[allow(missing_docs)]
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
pub use start::{
    FarStart, FramePage, NearStart, StartError, StartFrame, StartState, StartWord, WorldChange,
};
pub use state::{CallStack, Flags, Frame, NearCaller, PageId, Saved, TaggedWord};
pub use vm::{
    Bootloader, ChainSettings, ExitKind, Outcome, Peek, Status, Vm, VmError, VmSnapshot,
    BOOTLOADER_ADDRESS, BOOTLOADER_BASE_PAGE, BOOTLOADER_CALLDATA_PAGE,
    BOOTLOADER_EXCEPTION_HANDLER, FIRST_FAR_CALL_BASE_PAGE, STATIC_MEMORY_PAGE,
};
pub use world::{InMemoryStorage, LogEntry, Storage, StorageKey, VmState, WorldSnapshot};
