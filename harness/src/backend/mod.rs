//! The VMs a case can run on, behind one trait, and the isolation that turns a crash of
//! either into a finding.

mod eravm;
mod reference;
mod reference_host;
mod reference_memory;
mod reference_operator;

use std::panic::{catch_unwind, AssertUnwindSafe};

pub use self::eravm::EraVm;
pub use self::reference::{run_bare as run_zk_evm_bare, ZkEvm};
/// The pubdata size of a slot's change, for other hosts that price writes the same way.
#[cfg(feature = "vm2")]
pub(crate) use self::reference_host::state_diff_bytes;

use crate::case::Case;
use crate::observe::Run;

/// A VM implementation the harness can run a case on.
///
/// Backends are stateless: every run builds a fresh VM from the case, so any two (or more)
/// can be compared on the same case.
pub trait Backend: Sync {
    /// Short name used in reports and signatures.
    fn name(&self) -> &'static str;

    /// Runs the case; with `trace`, also records the state after every cycle.
    fn run(&self, case: &Case, trace: bool) -> Result<Run, BackendError>;
}

/// Why a backend produced no comparable run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The backend does not support something the case uses.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The backend panicked; the payload message is kept.
    #[error("crashed: {0}")]
    Crashed(String),
}

/// Runs a backend with panics caught, so that a crash of either VM becomes a finding
/// instead of ending the process.
pub fn run_isolated(backend: &dyn Backend, case: &Case, trace: bool) -> Result<Run, BackendError> {
    // The panic message goes into the finding; keep it off stderr while the backend runs.
    let was_quiet = quiet_panics(true);
    let result = catch_unwind(AssertUnwindSafe(|| backend.run(case, trace)));
    quiet_panics(was_quiet);
    match result {
        Ok(result) => result,
        Err(payload) => Err(BackendError::Crashed(panic_message(payload.as_ref()))),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// While on, panics print nothing: every panic inside a backend is caught and kept in the
/// finding instead. Panics elsewhere still print once switched off. Returns the previous
/// setting.
pub fn quiet_panics(on: bool) -> bool {
    use std::cell::Cell;
    use std::sync::Once;
    thread_local! {
        static QUIET: Cell<bool> = const { Cell::new(false) };
    }
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                default(info);
            }
        }));
    });
    QUIET.with(|q| q.replace(on))
}
