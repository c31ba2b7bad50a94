//! `eradiff`: runs EraVM programs on two independent implementations — our `eravm` and
//! matter-labs' reference `zk_evm` — and reports every place where they disagree.

// These modules' public fields, variants and accessors predate the missing_docs lint and
// mostly name what they are; each loses its allow once documented.
#[allow(missing_docs)]
pub mod asm;
pub mod backend;
#[allow(missing_docs)]
pub mod bench;
pub mod campaign;
#[allow(missing_docs)]
pub mod case;
#[allow(missing_docs)]
pub mod compare;
#[allow(missing_docs)]
pub mod contracts;
#[allow(missing_docs)]
pub mod coverage;
#[allow(missing_docs)]
pub mod differential;
pub mod disasm;
#[allow(missing_docs)]
pub mod dump;
#[allow(missing_docs)]
pub mod findings;
pub mod frames;
pub mod fuzzing;
pub mod generator;
pub mod genesis;
pub mod hex;
pub mod known;
pub mod minimize;
#[allow(missing_docs)]
pub mod observe;
pub mod report;
#[allow(missing_docs)]
pub mod signing;
#[allow(missing_docs)]
pub mod start;
#[allow(missing_docs)]
pub mod world;
pub mod zasm;
