//! `eradiff`: runs EraVM programs on two independent implementations — our `eravm` and
//! matter-labs' reference `zk_evm` — and reports every place where they disagree.

pub mod backend;
pub mod case;
pub mod observe;
pub mod compare;
pub mod differential;
pub mod disasm;
pub mod report;
pub mod generator;
pub mod campaign;
pub mod known;
pub mod asm;
