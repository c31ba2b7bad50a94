//! `eradiff`: runs EraVM programs on two independent implementations — our `eravm` and
//! matter-labs' reference `zk_evm` — and reports every place where they disagree.

pub mod asm;
pub mod backend;
pub mod bench;
pub mod campaign;
pub mod case;
pub mod compare;
pub mod contracts;
pub mod differential;
pub mod disasm;
pub mod dump;
pub mod findings;
pub mod fuzzing;
pub mod generator;
pub mod genesis;
pub mod hex;
pub mod known;
pub mod minimize;
pub mod observe;
pub mod report;
pub mod signing;
pub mod world;
pub mod zasm;
