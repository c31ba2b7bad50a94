//! The VMs a case can run on, behind one trait ([`Backend`]), each a thin adapter over one
//! driver (`drive`), and the isolation that turns a crash of any into a finding.

mod drive;
mod eravm;
pub mod node;
mod reference;
mod reference_host;
mod reference_memory;
mod reference_operator;
mod reference_start;
mod vm2;
mod vm2_operator;

use std::panic::{catch_unwind, AssertUnwindSafe};

pub use self::eravm::{run_bare as run_eravm_bare, EraVm};
pub use self::reference::{history_of_every_register, run_bare as run_zk_evm_bare, ZkEvm};
pub use self::vm2::{run_bare as run_vm2_bare, unsupported as vm2_unsupported, Vm2};

use crate::case::Case;
use crate::compare::Unobserved;
use crate::observe::Run;

/// The backends by name, as the command line gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendName {
    /// Our implementation.
    #[value(name = "eravm")]
    Eravm,
    /// matter-labs' reference, zk_evm.
    #[value(name = "zk_evm")]
    ZkEvm,
    /// matter-labs' vm2 (vm_fast in a node).
    #[value(name = "vm2")]
    Vm2,
    /// zksync-era's own vm1 operator (`vm_latest`), real batches only (`node/`).
    #[value(name = "node-vm1")]
    NodeVm1,
    /// zksync-era's own vm_fast operator, real batches only (`node/`).
    #[value(name = "node-fast")]
    NodeFast,
}

impl BackendName {
    /// The backend of that name.
    pub fn backend(self) -> &'static dyn Backend {
        match self {
            BackendName::Eravm => &EraVm,
            BackendName::ZkEvm => &ZkEvm,
            BackendName::Vm2 => &Vm2,
            BackendName::NodeVm1 => &node::NODE_VM1,
            BackendName::NodeFast => &node::NODE_FAST,
        }
    }
}

/// A VM implementation the harness can run a case on.
///
/// Backends are stateless: every run builds a fresh VM from the case, so any two (or more)
/// can be compared on the same case.
pub trait Backend: Sync {
    /// Short name used in reports and signatures.
    fn name(&self) -> &'static str;

    /// Runs the case; with `trace`, also records the state after every cycle.
    fn run(&self, case: &Case, trace: bool) -> Result<Run, BackendError>;

    /// Whether the backend may decline a case it cannot host (counted apart, never a
    /// finding). Backends that must host every case (eravm, zk_evm) may not.
    fn may_decline(&self) -> bool {
        false
    }

    /// What the backend cannot observe comparably with the others.
    fn unobserved(&self) -> Unobserved {
        Unobserved::default()
    }

    /// Whether a batch runs on it through our operator protocol (`eravm::operator`), whose
    /// code every such backend shares; the node's operators share none of it.
    fn runs_our_operator(&self) -> bool {
        true
    }
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

/// A bug to inject into one backend's projection of its state (vm2: r3 reads one more, and
/// its operator adapter offers one more refund; node-fast: the first transaction's refund
/// reads one more), so that tests show a
/// disagreement of that backend alone is classified as its own.
pub mod projection_fault {
    use std::cell::Cell;

    thread_local! {
        static ON: Cell<Option<&'static str>> = const { Cell::new(None) };
    }

    /// Whether the fault is on for the backend of that name.
    pub(crate) fn is_on(backend: &str) -> bool {
        ON.with(|on| on.get() == Some(backend))
    }

    /// Runs `f` with the fault on for `backend` (on this thread only).
    pub fn with<R>(backend: &'static str, f: impl FnOnce() -> R) -> R {
        ON.with(|on| on.set(Some(backend)));
        let result = f();
        ON.with(|on| on.set(None));
        result
    }
}

/// The operator's state at the start of `batch`, and the batch information it writes into
/// the bootloader's heap before the first cycle (both hosted operators start so).
pub(crate) fn start_batch(
    batch: &crate::case::Batch,
) -> (
    ::eravm::operator::BootloaderState,
    [(u32, ::eravm::U256); 8],
) {
    let env = batch.info.to_operator();
    let mut state = ::eravm::operator::BootloaderState::new();
    state.start_batch(&env, batch.closing_block());
    (state, env.words())
}

/// What pushing a transaction into a case without a batch is.
pub(crate) fn no_batch() -> BackendError {
    BackendError::Unsupported("a transaction without a batch".into())
}

/// Runs a backend with panics caught, so that a crash of either VM becomes a finding
/// instead of ending the process.
pub fn run_isolated(backend: &dyn Backend, case: &Case, trace: bool) -> Result<Run, BackendError> {
    // The panic message goes into the finding; keep it off stderr while the backend runs.
    catch_quietly(|| backend.run(case, trace)).unwrap_or_else(|m| Err(BackendError::Crashed(m)))
}

/// Runs `f` with a panic caught and kept off stderr: its message is the error.
pub(crate) fn catch_quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let was_quiet = quiet_panics(true);
    let result = catch_unwind(AssertUnwindSafe(f));
    quiet_panics(was_quiet);
    result.map_err(|payload| panic_message(payload.as_ref()))
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
        // `ERADIFF_LOUD_PANICS=1` prints every panic (with its backtrace, under
        // RUST_BACKTRACE), to see where a backend crashed.
        let loud = std::env::var_os("ERADIFF_LOUD_PANICS").is_some();
        std::panic::set_hook(Box::new(move |info| {
            if loud || !QUIET.with(Cell::get) {
                default(info);
            }
        }));
    });
    QUIET.with(|q| q.replace(on))
}

/// What an operator does for [`Feeder`]: the external snapshots of the protocol, and
/// pushing a transaction into the bootloader's heap.
pub(crate) trait FedOperator {
    fn make_snapshot(&mut self);
    fn rollback_to_the_latest_snapshot(&mut self);
    fn pop_snapshot_no_rollback(&mut self);
    fn push_transaction(&mut self, tx: &::eravm::operator::Transaction)
        -> Result<(), BackendError>;
}

/// How both operators feed a batch's transactions, so that they do it identically.
///
/// Normally every transaction is pushed before the bootloader starts and the run goes as the
/// batch mode says. When a transaction is to be rolled back ([`Batch::fed_one_by_one`]), the
/// operator works like a state keeper instead: before each transaction it takes a snapshot,
/// pushes the transaction and runs until it has ended (TxHasEnded); then it rolls back to the
/// snapshot if the transaction is marked `rollback`, or drops the snapshot, and goes on with
/// the next. A transaction marked `rollback` may also end the bootloader's run (a rejected
/// transaction halts it); it is rolled back the same way. In one-transaction mode the run
/// stops at the first transaction kept; after the last transaction the run goes on as the
/// mode says.
///
/// [`Batch::fed_one_by_one`]: crate::case::Batch::fed_one_by_one
pub(crate) struct Feeder {
    /// What the operator pushes, each with whether it is rolled back after.
    transactions: Vec<(::eravm::operator::Transaction, bool)>,
    /// The transaction running now, while feeding one at a time.
    current: Option<usize>,
    mode: ::eravm::operator::ExecutionMode,
}

impl Feeder {
    /// Pushes what goes in before the start.
    pub fn start(
        batch: &crate::case::Batch,
        op: &mut impl FedOperator,
    ) -> Result<Feeder, BackendError> {
        let mut feeder = Feeder {
            transactions: batch.pushes(),
            current: None,
            mode: batch.mode.execution_mode(),
        };
        if batch.fed_one_by_one() {
            feeder.feed(0, op)?;
        } else {
            for (tx, _) in &feeder.transactions {
                op.push_transaction(tx)?;
            }
        }
        Ok(feeder)
    }

    fn feed(&mut self, index: usize, op: &mut impl FedOperator) -> Result<(), BackendError> {
        self.current = None;
        if let Some((tx, _)) = self.transactions.get(index) {
            op.make_snapshot();
            op.push_transaction(tx)?;
            self.current = Some(index);
        }
        Ok(())
    }

    /// The mode to step in now.
    pub fn mode(&self) -> ::eravm::operator::ExecutionMode {
        match self.current {
            Some(_) => ::eravm::operator::ExecutionMode::OneTx,
            None => self.mode,
        }
    }

    /// The transaction being fed, if the operator feeds one at a time.
    pub fn current(&self) -> Option<usize> {
        self.current
    }

    /// The run stopped at `stop`; true if the feeder took it and the run goes on.
    pub fn on_stop(
        &mut self,
        stop: ::eravm::operator::Stop,
        op: &mut impl FedOperator,
    ) -> Result<bool, BackendError> {
        let Some(index) = self.current else {
            return Ok(false);
        };
        let rollback = self.transactions[index].1;
        // A transaction the bootloader rejects ends the run (it halts, as on a failed
        // validation); a state keeper rolls such a transaction back and goes on.
        let halted = stop == ::eravm::operator::Stop::Finished && rollback;
        if stop != ::eravm::operator::Stop::TxEnded && !halted {
            return Ok(false);
        }
        if rollback {
            op.rollback_to_the_latest_snapshot();
        } else if self.mode == ::eravm::operator::ExecutionMode::OneTx {
            self.current = None;
            return Ok(false);
        } else {
            op.pop_snapshot_no_rollback();
        }
        self.feed(index + 1, op)?;
        Ok(true)
    }
}
