//! The `eradiff` command line.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use eradiff::backend::{run_isolated, Backend, BackendName};
use eradiff::campaign::{self, Budget, CampaignConfig, Target};
use eradiff::case::Case;
use eradiff::differential::{reference_at_fault, Judge, Verdict};
use eradiff::generator::{generate_seeded_for, Settings};
use eradiff::known::KnownDivergences;
use eradiff::{disasm, report};

#[derive(Parser)]
#[command(
    name = "eradiff",
    version,
    about = "Differential testing of EraVM implementations against zk_evm"
)]
struct Cli {
    /// The backends to run every case on (a backend that cannot host a case declines it,
    /// counted apart).
    #[arg(
        long,
        global = true,
        value_enum,
        value_delimiter = ',',
        default_value = "eravm,zk_evm,vm2"
    )]
    backends: Vec<BackendName>,
    /// Also run zksync-era's own operators, node-vm1 and node-fast (real batches only;
    /// needs the node binary: `cargo build --release --manifest-path node/Cargo.toml`).
    #[arg(long, global = true)]
    node: bool,
    #[command(subcommand)]
    command: Command,
}

/// Where the realbatches target finds its contracts.
#[derive(clap::Args)]
struct BundleArgs {
    /// The contract bundle of real batches (default: `ERADIFF_CONTRACTS`): a folder or an
    /// anvil-zksync tarball, with zksync-era's bootloaders (see docs/contracts.md).
    #[arg(long)]
    contracts: Option<PathBuf>,
    /// Its protocol version.
    #[arg(long, value_enum, default_value = "v26")]
    protocol: eradiff::contracts::ProtocolVersion,
}

impl BundleArgs {
    /// Generator settings for `target`: the realbatches target gets the bundle, which must
    /// hold what a batch needs (else an input error).
    fn settings(&self, target: Target, settings: Settings) -> Result<Settings, CliError> {
        if target != Target::Realbatches {
            return Ok(settings);
        }
        let fail = |e: String| {
            CliError::Input(format!(
                "the realbatches target needs a contract bundle: {e}"
            ))
        };
        let bundle = load_bundle(self.contracts.clone(), self.protocol).map_err(fail)?;
        eradiff::generator::realbatches::settings(bundle, settings).map_err(fail)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Generate cases, run them on eravm and zk_evm, and keep every disagreement.
    Fuzz {
        #[arg(long, value_enum, default_value = "opcodes")]
        target: Target,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Stop after this many cases.
        #[arg(long, conflicts_with = "duration")]
        iterations: Option<u64>,
        /// Stop after this long, e.g. `60s`, `10m`, `2h`.
        #[arg(long, value_parser = parse_duration)]
        duration: Option<Duration>,
        /// Where findings and the summary go.
        #[arg(long, default_value = "findings")]
        out: PathBuf,
        /// Longest generated program, in instructions.
        #[arg(long, default_value_t = 48)]
        max_instructions: usize,
        #[arg(long)]
        no_progress: bool,
        /// Threads running cases (default: every core). The same seed and iterations run
        /// the same cases whatever the number; findings go to one folder, one summary.
        #[arg(long)]
        jobs: Option<usize>,
        #[command(flatten)]
        bundle: BundleArgs,
    },
    /// Rerun a case on both VMs and print the difference (exit status 1 if they disagree).
    /// Given several files or a folder (every `*.json` under it), one line per case and a
    /// summary: exit status 1 if any diverged, 2 if any is not a valid case file.
    Replay {
        #[arg(required = true, value_name = "CASE")]
        cases: Vec<PathBuf>,
        /// Also print the report when they agree.
        #[arg(long)]
        verbose: bool,
    },
    /// Turn a zksync-era `VmDump` (what a node's shadow VM writes when vm_latest and
    /// vm_fast disagree) into a case and replay it like `replay`.
    ReplayDump {
        dump: PathBuf,
        /// Also write the case there (it holds the dump's bytecode: keep it out of
        /// repositories).
        #[arg(long)]
        save: Option<PathBuf>,
        /// Stop once the transaction's validation has ended, as a node validating it for
        /// its mempool does (dumps from mempool validation hold only the storage
        /// validation read).
        #[arg(long)]
        validation: bool,
        /// Also print the final state when they agree.
        #[arg(long)]
        verbose: bool,
    },
    /// Print the cycles of a case on one VM: pc, instruction, the registers it changed,
    /// flags, ergs, depth and the memory it wrote, one line each (also for cases the VMs
    /// agree on).
    Trace {
        case: PathBuf,
        #[arg(long, value_enum, default_value = "eravm")]
        backend: BackendName,
        /// First cycle to print.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Last cycle to print.
        #[arg(long, default_value_t = u64::MAX)]
        to: u64,
    },
    /// Load a contract bundle (a folder, an anvil-zksync `builtin-contracts-vNN.tar.gz`, or a
    /// `VmDump` JSON file) and list each contract's hash against the official manifest.
    Contracts {
        /// The bundle (default: `ERADIFF_CONTRACTS`).
        dir: Option<PathBuf>,
        /// The protocol version whose manifest applies (a dump names its own).
        #[arg(long, value_enum, default_value = "v26")]
        protocol: eradiff::contracts::ProtocolVersion,
        /// Exit with status 1 unless every contract a batch needs is there.
        #[arg(long)]
        require: bool,
    },
    /// Print the program of a case.
    Disasm {
        case: PathBuf,
        /// Print the case as `.zasm` (header lines and assembly) that reads back to the same
        /// case; refused, with the reason, where the assembler has no spelling for the code.
        #[arg(long)]
        zasm: bool,
    },
    /// Shrink a disagreeing case while its signature stays the same.
    Minimize {
        case: PathBuf,
        /// Where to write the smaller case (default: next to it, `.min.json`).
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Most reruns to spend.
        #[arg(long, default_value_t = 5_000)]
        budget: usize,
    },
    /// Explain, group and minimise loose case files (e.g. from `cargo fuzz`) into DIR/triaged.
    Triage {
        dir: PathBuf,
        #[arg(long, value_enum, default_value = "opcodes")]
        target: Target,
    },
    /// Which opcode variants the cases under the folders execute, and which none reaches.
    Coverage {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "opcodes")]
        target: Target,
    },
    /// Add to a corpus folder the cases of a seeded campaign that reach opcode variants no
    /// case there reaches yet.
    Distill {
        #[arg(long, value_enum, default_value = "opcodes")]
        target: Target,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 20_000)]
        iterations: u64,
        out: PathBuf,
    },
    /// Time the benchmark workloads on eravm, zk_evm and vm2 (checked to agree first).
    Bench {
        /// Multiplies the workloads' iterations (fractions allowed).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Runs per workload and VM; the best counts.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Also compare each fuzz target's execs/s with zk_evm alone on the same cases.
        #[arg(long)]
        fuzz: bool,
        /// Run only this workload, once, unchecked, on `--vm` (for valgrind's counts);
        /// `empty` is the start-up to subtract. Prints the cycles run.
        #[arg(long, value_name = "WORKLOAD")]
        one: Option<String>,
        /// The VM for `--one`.
        #[arg(long, value_enum, default_value = "eravm", requires = "one")]
        vm: eradiff::bench::BenchVm,
        /// Time workloads of growing size instead (program length, call depth, storage
        /// slots, transactions per batch).
        #[arg(long, conflicts_with = "one")]
        scaling: bool,
        /// Time one case file instead (a real batch from `replay-dump --save`, say) on
        /// every VM: best of `--runs`, cycles per second.
        #[arg(long, value_name = "CASE", conflicts_with_all = ["one", "scaling", "fuzz"])]
        case: Option<PathBuf>,
        /// With a contract bundle (or `ERADIFF_CONTRACTS`), also time a real batch: the
        /// first the realbatches target generates (seed 1) on the production bootloader.
        #[command(flatten)]
        bundle: BundleArgs,
    },
    /// Summarise a findings folder: one section per signature.
    Report {
        dir: PathBuf,
        #[arg(long, value_enum, default_value = "md")]
        format: eradiff::findings::ReportFormat,
    },
    /// Write the case a seeded campaign generates at one iteration.
    Generate {
        #[arg(long, value_enum, default_value = "opcodes")]
        target: Target,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 0)]
        iteration: u64,
        #[command(flatten)]
        bundle: BundleArgs,
    },
    /// Run a case on one VM and print its final state as JSON.
    Run {
        case: PathBuf,
        #[arg(long, value_enum, default_value = "eravm")]
        backend: BackendName,
    },
}

/// Why a command ends other than by its own exit status. Every command returns it, and
/// [`finish`] alone turns it into the stderr message and exit status.
#[derive(Debug)]
enum CliError {
    /// Unusable input (a case file, a bundle, a flag): `error: …`, exit status 2.
    Input(String),
    /// The command ran and failed: `error: …`, exit status 1.
    Failed(String),
    /// A message printed as it is (no `error: ` prefix), with its exit status: what
    /// `contracts`, `run` and `bench --one` have always printed on failure.
    Bare { message: String, status: u8 },
    /// stdout cannot be written (see [`finish`]).
    Stdout(std::io::Error),
}

/// The exit status of a command, its error (if any) printed to stderr. stdout that cannot
/// be written gives 0 when its reader has gone (nothing is lost that anyone reads, as in
/// `eradiff run CASE | head -1`), 2 for any other error (a full disk behind a redirection).
fn finish(result: Result<ExitCode, CliError>) -> ExitCode {
    let (message, status) = match result {
        Ok(code) => return code,
        Err(CliError::Stdout(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            return ExitCode::SUCCESS
        }
        Err(CliError::Stdout(e)) => (format!("error: cannot write to stdout: {e}"), 2),
        Err(CliError::Input(message)) => (format!("error: {message}"), 2),
        Err(CliError::Failed(message)) => (format!("error: {message}"), 1),
        Err(CliError::Bare { message, status }) => (message, status),
    };
    eprintln!("{message}");
    ExitCode::from(status)
}

/// Prints a line to stdout; if stdout has gone, the command ends (see [`finish`]) instead
/// of panicking.
macro_rules! say {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout(), $($arg)*).map_err(CliError::Stdout)?
    };
}

/// [`say!`] without the newline.
macro_rules! say_raw {
    ($($arg:tt)*) => {
        write!(std::io::stdout(), $($arg)*).map_err(CliError::Stdout)?
    };
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("not a duration: {s:?}"))?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("unknown unit {unit:?} (use s, m or h)")),
    };
    Ok(Duration::from_secs(seconds))
}

fn load(path: &std::path::Path) -> Result<Case, CliError> {
    Case::load(path).map_err(|e| CliError::Input(e.to_string()))
}

fn main() -> ExitCode {
    fixed_mmap_threshold();
    let cli = Cli::parse();
    #[cfg(feature = "fault-injection")]
    if let Some(fault) = std::env::var("ERADIFF_FAULT")
        .ok()
        .and_then(|f| parse_fault(&f))
    {
        eprintln!("eradiff: fault {fault:?} injected into eravm (ERADIFF_FAULT)");
        return eravm::faults::with_fault(fault, || run(cli));
    }
    run(cli)
}

/// Every case builds its VMs afresh. With glibc's default, blocks past 128 KB are mmapped and
/// unmapped per case, and with two jobs each unmap stops the other core to flush its TLB:
/// `--jobs 2` made 1.15x the execs/s of one job (instructions target). Blocks up to 1 MB are
/// kept in the heap instead, trimmed only past 64 MB: 1.9x. Larger ones (vm2's zeroed 2 MB
/// stack) stay mmapped, fresh zero pages rather than heap memory to clear; kept in the heap,
/// they made the calls target a third slower and its resident set ten times larger
/// (docs/speed.md, measured 2026-12-03).
fn fixed_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters, before any thread is started.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

/// Faults that `ERADIFF_FAULT` can switch on, in builds with the `fault-injection` feature.
#[cfg(feature = "fault-injection")]
fn parse_fault(name: &str) -> Option<eravm::faults::Fault> {
    use eravm::faults::Fault;
    Some(match name {
        "add-off-by-one" => Fault::AddOffByOne,
        "free-heap-growth" => Fault::FreeHeapGrowth,
        "events-survive-revert" => Fault::EventsSurviveRevert,
        "writes-cost-no-pubdata" => Fault::WritesCostNoPubdata,
        "free-precompiles" => Fault::FreePrecompiles,
        "refund-off-by-one" => Fault::RefundOffByOne,
        "tx-encoding-nonce-off-by-one" => Fault::TxEncodingNonceOffByOne,
        "shared-pubdata-drops-last-diff" => Fault::SharedPubdataDropsLastDiff,
        "shared-refund-off-by-one" => Fault::SharedRefundOffByOne,
        "fictive-block-late" => Fault::FictiveBlockTimestampOffByOne,
        "far-return-loses-caller-sp" => Fault::FarReturnLosesCallerSp,
        "far-return-clears-static" => Fault::FarReturnClearsStatic,
        "far-return-forgets-near-level" => Fault::FarReturnForgetsNearLevel,
        "revert-keeps-frame-pubdata" => Fault::RevertKeepsFramePubdata,
        "far-return-takes-callee-context" => Fault::FarReturnTakesCalleeContext,
        "far-return-takes-callee-kernel-mode" => Fault::FarReturnTakesCalleeKernelMode,
        "far-return-takes-callee-sender" => Fault::FarReturnTakesCalleeSender,
        "far-return-takes-callee-heap-bound" => Fault::FarReturnTakesCalleeHeapBound,
        "meta-reports-frame-pubdata" => Fault::MetaReportsFramePubdata,
        "near-return-keeps-callee-pubdata" => Fault::NearReturnKeepsCalleePubdata,
        "far-return-returns-stipend" => Fault::FarReturnReturnsStipend,
        "deep-return-drops-ergs" => Fault::DeepReturnDropsErgs,
        "revert-undoes-caller-changes" => Fault::RevertUndoesCallerChanges,
        "far-return-takes-callee-aux-heap-bound" => Fault::FarReturnTakesCalleeAuxHeapBound,
        "far-return-replaces-caller-pubdata" => Fault::FarReturnReplacesCallerPubdata,
        "near-return-forgets-caller-pubdata" => Fault::NearReturnForgetsCallerPubdata,
        "far-return-untags-caller-stack" => Fault::FarReturnUntagsCallerStack,
        "near-call-saves-caller-ergs-off-by-one" => Fault::NearCallSavesCallerErgsOffByOne,
        "set-context-u128-off-by-one" => Fault::SetContextU128OffByOne,
        "rollback-keeps-decommits" => Fault::RollbackKeepsDecommits,
        "pubdata-drops-last-diff" => Fault::PubdataDropsLastDiff,
        "rollback-keeps-events" => Fault::RollbackKeepsEvents,
        _ => return None,
    })
}

fn run(cli: Cli) -> ExitCode {
    finish(dispatch(cli))
}

/// Runs the command line's command on the backends it names.
fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    let mut names = cli.backends.clone();
    if cli.node {
        names.extend([BackendName::NodeVm1, BackendName::NodeFast]);
    }
    let judge = judge_of(&names).map_err(CliError::Input)?;
    match cli.command {
        Command::Fuzz {
            target,
            seed,
            iterations,
            duration,
            out,
            max_instructions,
            no_progress,
            jobs,
            bundle,
        } => {
            let settings = Settings {
                max_instructions,
                pre_eip155_legacy: !cli.node,
                ..Settings::default()
            };
            if cli.node && target == Target::Realbatches {
                say!(
                    "realbatches: no legacy transactions without a chain id under --node \
                     (the node's known finding: corpus/trophies/node/)"
                );
            }
            let budget = match (iterations, duration) {
                (_, Some(d)) => Budget::Duration(d),
                (Some(n), None) => Budget::Iterations(n),
                (None, None) => Budget::Iterations(10_000),
            };
            let config = CampaignConfig {
                judge,
                target,
                seed,
                budget,
                out,
                show_progress: !no_progress,
                settings: bundle.settings(target, settings)?,
                jobs: jobs.unwrap_or_else(|| {
                    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
                }),
            };
            fuzz(&config)
        }
        Command::Replay { cases, verbose } => replay(&judge, &cases, verbose),
        Command::Trace {
            case,
            backend,
            from,
            to,
        } => trace(&load(&case)?, backend, from, to),
        Command::ReplayDump {
            dump,
            save,
            validation,
            verbose,
        } => replay_dump(&judge, &dump, save.as_deref(), validation, verbose),
        Command::Minimize { case, out, budget } => minimize(&judge, &case, out, budget),
        Command::Triage { dir, target } => triage(judge, &dir, target),
        Command::Coverage { dirs, target } => coverage(&dirs, target),
        Command::Distill {
            target,
            seed,
            iterations,
            out,
        } => {
            let n = campaign::distill(target, seed, iterations, &out)
                .map_err(|e| CliError::Input(e.to_string()))?;
            say!("{n} cases added to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            scale,
            runs,
            fuzz,
            one,
            vm,
            scaling,
            case,
            bundle,
        } => {
            if let Some(path) = case {
                bench_case(&load(&path)?, runs)
            } else {
                let real = real_batch_workload(&bundle)?;
                bench(scale, runs, fuzz, one, vm, scaling, real)
            }
        }
        Command::Report { dir, format } => report(&dir, format),
        Command::Contracts {
            dir,
            protocol,
            require,
        } => contracts(dir, protocol, require),
        Command::Disasm { case: path, zasm } => {
            let case = load(&path)?;
            if !zasm {
                say_raw!("{}", disasm::disassemble(&case));
                return Ok(ExitCode::SUCCESS);
            }
            let text = eradiff::zasm::write(&case).map_err(|e| {
                CliError::Failed(format!("cannot print {} as .zasm: {e}", path.display()))
            })?;
            say_raw!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate {
            target,
            seed,
            iteration,
            bundle,
        } => {
            let settings = bundle.settings(target, Settings::default())?;
            let case = generate_seeded_for(target, seed, iteration, &settings);
            say!("{}", case.to_json());
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { case, backend } => run_case(&load(&case)?, backend),
    }
}

/// `eradiff fuzz`: the campaign, then its summary (status 1 if anything is unexplained).
fn fuzz(config: &CampaignConfig) -> Result<ExitCode, CliError> {
    let summary = campaign::run(config, &KnownDivergences::shipped()).map_err(|e| {
        CliError::Input(format!(
            "cannot write findings to {}: {e}",
            config.out.display()
        ))
    })?;
    campaign::print_summary(&summary).map_err(CliError::Stdout)?;
    say!("\nsummary written to {}", summary.file.display());
    if summary.unexplained().next().is_some() || summary.generator_defects > 0 {
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// `eradiff replay`: one case in full, or many (or a folder) a line each.
fn replay(judge: &Judge, cases: &[PathBuf], verbose: bool) -> Result<ExitCode, CliError> {
    match cases {
        [path] if !path.is_dir() => {
            replay_one(judge, &load(path)?, &path.display().to_string(), verbose)
        }
        _ => replay_many(judge, cases),
    }
}

/// `eradiff replay-dump`: the dump as a case (saved if asked), replayed like `replay`.
fn replay_dump(
    judge: &Judge,
    dump: &std::path::Path,
    save: Option<&std::path::Path>,
    validation: bool,
    verbose: bool,
) -> Result<ExitCode, CliError> {
    let mut case = eradiff::dump::VmDump::load(dump)
        .and_then(|d| d.to_case())
        .map_err(|e| CliError::Input(format!("{}: {e}", dump.display())))?;
    if let (true, Some(batch)) = (validation, case.batch.as_mut()) {
        batch.mode = eradiff::case::BatchMode::Validation;
    }
    let mut label = dump.display().to_string();
    if let Some(save) = save {
        eradiff::findings::write_atomic(save, case.to_json().as_bytes())
            .map_err(|e| CliError::Input(format!("cannot write {}: {e}", save.display())))?;
        label = save.display().to_string();
    }
    replay_one(judge, &case, &label, verbose)
}

/// `eradiff minimize`: the smaller case, written next to the case unless `out` is named.
fn minimize(
    judge: &Judge,
    path: &std::path::Path,
    out: Option<PathBuf>,
    budget: usize,
) -> Result<ExitCode, CliError> {
    let case = load(path)?;
    let Some(m) = eradiff::minimize::minimize(judge, &case, budget) else {
        say!("{} agree on this case: nothing to minimise", judge.names());
        return Ok(ExitCode::from(1));
    };
    let out = out.unwrap_or_else(|| path.with_extension("min.json"));
    eradiff::findings::write_atomic(&out, m.case.to_json())
        .map_err(|e| CliError::Input(format!("cannot write {}: {e}", out.display())))?;
    say!(
        "{}: {}; written to {}",
        m.signature,
        m.summary(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `eradiff triage`: the summary of the folder's cases (status 1 if any is unexplained).
fn triage(
    judge: Judge<'static>,
    dir: &std::path::Path,
    target: Target,
) -> Result<ExitCode, CliError> {
    let summary = campaign::triage(judge, dir, target, &KnownDivergences::shipped())
        .map_err(|e| CliError::Input(e.to_string()))?;
    campaign::print_summary(&summary).map_err(CliError::Stdout)?;
    if summary.unexplained().next().is_some() {
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// `eradiff coverage`: the opcode variants and behaviour corners the folders' cases reach,
/// and those they miss.
fn coverage(dirs: &[PathBuf], target: Target) -> Result<ExitCode, CliError> {
    let c = campaign::coverage(dirs, target);
    say!("{} cases; executed opcode variants (eravm):", c.cases);
    for (name, n) in &c.variants {
        say!("  {name:<32} {n:>12}");
    }
    say!(
        "\n{} variants of the {target:?} target no case reaches:",
        c.missing.len()
    );
    for name in &c.missing {
        say!("  {name}");
    }
    say!("\nbehaviour corners (eravm):");
    for (name, n) in &c.corners.counts {
        say!("  {name:<56} {n:>12}");
    }
    let mut text = Vec::new();
    c.corners.write(&mut text).map_err(CliError::Stdout)?;
    say_raw!("\n{}", String::from_utf8_lossy(&text));
    Ok(ExitCode::SUCCESS)
}

/// `eradiff report`: the folder's report; groups without a readable case are an input
/// error, after the report.
fn report(
    dir: &std::path::Path,
    format: eradiff::findings::ReportFormat,
) -> Result<ExitCode, CliError> {
    let (text, unreadable) =
        eradiff::findings::report(dir, format).map_err(|e| CliError::Input(e.to_string()))?;
    say_raw!("{text}");
    if unreadable > 0 {
        return Err(CliError::Input(format!(
            "{unreadable} group(s) without a readable case file"
        )));
    }
    Ok(ExitCode::SUCCESS)
}

/// `eradiff contracts`: the bundle's hashes against the manifest; with `require`, status 1
/// unless it holds what a batch needs.
fn contracts(
    dir: Option<PathBuf>,
    protocol: eradiff::contracts::ProtocolVersion,
    require: bool,
) -> Result<ExitCode, CliError> {
    let bundle =
        load_bundle(dir, protocol).map_err(|message| CliError::Bare { message, status: 2 })?;
    say_raw!("{}", bundle.report());
    match bundle.require(eradiff::contracts::BATCH_CONTRACTS) {
        Err(e) if require => Err(CliError::Bare {
            message: e.to_string(),
            status: 1,
        }),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// `eradiff run`: the final state on one backend, as JSON.
fn run_case(case: &Case, backend: BackendName) -> Result<ExitCode, CliError> {
    let b: &dyn Backend = backend.backend();
    let run = run_isolated(b, case, false).map_err(|e| CliError::Bare {
        message: format!("{}: {e}", b.name()),
        status: 1,
    })?;
    say!(
        "{}",
        serde_json::to_string_pretty(&run.state).unwrap_or_default()
    );
    print_panics(b.name(), &run.panics);
    Ok(ExitCode::SUCCESS)
}

/// The bundle a `contracts` command names: a `VmDump` JSON file, or a folder or tarball.
fn load_bundle(
    dir: Option<PathBuf>,
    protocol: eradiff::contracts::ProtocolVersion,
) -> Result<eradiff::contracts::Bundle, String> {
    use eradiff::contracts::{Bundle, CONTRACTS_ENV};
    let Some(path) = dir.or_else(|| std::env::var_os(CONTRACTS_ENV).map(PathBuf::from)) else {
        return Err(format!(
            "name a contracts folder or tarball, or set {CONTRACTS_ENV}"
        ));
    };
    if path.is_file() && path.extension().is_some_and(|e| e == "json") {
        let dump =
            eradiff::dump::VmDump::load(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        return Bundle::from_dump(&dump).map_err(|e| e.to_string());
    }
    Bundle::load(&path, protocol).map_err(|e| e.to_string())
}

/// The judge of the backends named on the command line (each once, in the order given).
fn judge_of(names: &[BackendName]) -> Result<Judge<'static>, String> {
    let mut chosen: Vec<BackendName> = Vec::new();
    for n in names {
        if !chosen.contains(n) {
            chosen.push(*n);
        }
    }
    if chosen.len() < 2 {
        return Err("--backends needs at least two backends to compare".into());
    }
    if chosen.iter().any(|n| !n.backend().runs_our_operator()) {
        eradiff::backend::node::binary()?;
    }
    let backends: Vec<&'static dyn Backend> = chosen.iter().map(|n| n.backend()).collect();
    Ok(Judge::new(Box::leak(backends.into_boxed_slice())))
}

/// Every case file named, or under the folders named (`*.json` and `*.zasm`, recursively,
/// sorted).
fn case_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out)?;
            } else if eradiff::case::is_case_file(&p) {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut files)?;
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

/// Why frames panicked, on stderr (stdout holds the final state as JSON).
fn print_panics(backend: &str, panics: &eradiff::observe::PanicLog) {
    if panics.total == 0 {
        return;
    }
    eprintln!("{backend}: {} frame(s) panicked:", panics.total);
    let mut shown = 0u64;
    for panic in panics.iter() {
        if shown == eradiff::observe::PANICS_KEPT as u64 && panics.total > 2 * shown {
            eprintln!("  ... {} more ...", panics.total - 2 * shown);
        }
        eprintln!("  {}", eradiff::observe::PanicView::from(*panic));
        shown += 1;
    }
}

/// Prints a step trace of `case` on `backend`, cycles `from` to `to`.
fn trace(case: &Case, backend: BackendName, from: u64, to: u64) -> Result<ExitCode, CliError> {
    let run = match eradiff::backend::run_isolated(backend.backend(), case, true) {
        Ok(run) => run,
        Err(e) => {
            // On stdout, with the trace it stands for.
            say!("{}: {e}", backend.backend().name());
            return Ok(ExitCode::from(1));
        }
    };
    let steps = run.trace.unwrap_or_default();
    say!(
        "{}",
        eradiff::report::trace_text(&steps, &run.panics, Some(case), from, to).trim_end()
    );
    let kept = steps.last().map_or(0, |s| s.cycle);
    if steps.len() >= eradiff::observe::max_trace_steps() && to > kept {
        say!(
            "(the trace is kept to its first {} steps, cycle {kept}; set \
             ERADIFF_MAX_TRACE_STEPS to see further)",
            steps.len()
        );
    }
    say!(
        "{}: {:?} after {} cycles",
        backend.backend().name(),
        run.state.end,
        run.state.cycles
    );
    Ok(ExitCode::SUCCESS)
}

/// Replays one case on the judge's backends and prints the verdict (and, for a batch, what
/// became of each transaction); `path` names the case in the report.
fn replay_one(judge: &Judge, case: &Case, path: &str, verbose: bool) -> Result<ExitCode, CliError> {
    let eradiff::differential::Checked {
        verdict, declined, ..
    } = judge.check_counted(case);
    for d in &declined {
        say!("{} declined the case: {}", d.backend, d.reason);
    }
    match verdict {
        Verdict::Unsupported(why) => {
            say!("fewer than two backends can host this case: {why}");
            Ok(ExitCode::from(2))
        }
        Verdict::Agree(run) => {
            // Name only the backends that ran: a decline was said above.
            let ran: Vec<&str> = judge
                .backends()
                .iter()
                .map(|b| b.name())
                .filter(|n| !declined.iter().any(|d| d.backend == *n))
                .collect();
            say!(
                "{} agree: {:?} after {} cycles, {} ergs left",
                ran.join(","),
                run.state.end,
                run.state.cycles,
                run.state.ergs
            );
            if let Some(batch) = &run.state.batch {
                for (i, (success, returned, refund)) in batch.results.iter().enumerate() {
                    let outcome = if *success { "succeeded" } else { "failed" };
                    say!("transaction {i}: {outcome}, returned 0x{returned}, refund {refund}");
                }
                let stops = batch.hooks.last().map_or("none", |h| h.hook.as_str());
                say!("{} hooks raised, the last {stops}", batch.hooks.len());
            }
            if verbose {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&run.state).unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Verdict::Disagree(finding) => {
            let explanation = judge.explain(case, finding);
            say!(
                "{}",
                report::finding_markdown(case, &explanation, Some(path))
            );
            if let Some(reason) = KnownDivergences::shipped().reason(&explanation.signature) {
                say!("(on the known-divergence list: {reason})");
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// `eradiff replay` of many cases: one line each, then the counts.
fn replay_many(judge: &Judge, paths: &[PathBuf]) -> Result<ExitCode, CliError> {
    let files = case_files(paths).map_err(|e| CliError::Input(e.to_string()))?;
    let known = KnownDivergences::shipped();
    let (mut agree, mut diverge, mut known_diverge, mut reference, mut invalid) = (0, 0, 0, 0, 0);
    for path in &files {
        let case = match Case::load(path) {
            Ok(c) => c,
            Err(e) => {
                invalid += 1;
                say!("{}: input error: {e}", path.display());
                continue;
            }
        };
        match judge.check(&case) {
            Verdict::Unsupported(why) => {
                invalid += 1;
                say!(
                    "{}: fewer than two backends can host it: {why}",
                    path.display()
                );
            }
            Verdict::Agree(run) => {
                agree += 1;
                say!(
                    "{}: agree, {:?} after {} cycles",
                    path.display(),
                    run.state.end,
                    run.state.cycles
                );
            }
            Verdict::Disagree(finding) => {
                let explanation = judge.explain(&case, finding);
                let in_reference = reference_at_fault(&explanation.signature);
                diverge += 1;
                reference += usize::from(in_reference.is_some());
                let note = match known.reason(&explanation.signature) {
                    Some(_) => {
                        known_diverge += 1;
                        " (known)"
                    }
                    None if in_reference.is_some() => " (in a reference)",
                    None => "",
                };
                let detail = if explanation.detail == explanation.signature {
                    String::new()
                } else {
                    format!(" ({})", explanation.detail)
                };
                say!(
                    "{}: DIVERGES {}{detail}{note}",
                    path.display(),
                    explanation.signature
                );
            }
        }
    }
    say!(
        "\n{} cases: {agree} agree, {diverge} diverge ({known_diverge} on the known list, \
         {reference} in a reference), {invalid} not valid case files or not hosted",
        files.len()
    );
    if invalid > 0 {
        Ok(ExitCode::from(2))
    } else if diverge > 0 {
        // As for one case: any disagreement, wherever it is, makes the status 1.
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// Times one case on every VM (best of `runs`, unobserved, as the benchmark runs).
fn bench_case(case: &Case, runs: usize) -> Result<ExitCode, CliError> {
    use clap::ValueEnum;
    use eradiff::bench::{run_on, BenchVm};
    for &vm in BenchVm::value_variants() {
        let mut best: Option<(u64, Duration)> = None;
        for _ in 0..runs.max(1) {
            let start = std::time::Instant::now();
            match run_on(vm, case) {
                Ok(cycles) => {
                    let took = start.elapsed();
                    // Not `is_none_or`: that needs Rust 1.82, past the workspace's rust-version.
                    if best.map_or(true, |(_, t)| took < t) {
                        best = Some((cycles, took));
                    }
                }
                Err(e) => {
                    say!("{vm:?}: not timed: {e}");
                    break;
                }
            }
        }
        if let Some((cycles, took)) = best {
            let rate = cycles as f64 / took.as_secs_f64().max(1e-9) / 1e6;
            say!("{vm:?}: {cycles} cycles in {took:.2?}: {rate:.1} Mcycles/s");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The real-batch workload, if a bundle is named (on the command line or in the
/// environment); one that cannot hold a batch is an input error.
fn real_batch_workload(bundle: &BundleArgs) -> Result<Option<eradiff::bench::Workload>, CliError> {
    let named =
        bundle.contracts.is_some() || std::env::var_os(eradiff::contracts::CONTRACTS_ENV).is_some();
    if !named {
        return Ok(None);
    }
    let settings = bundle.settings(Target::Realbatches, Settings::default())?;
    Ok(Some(eradiff::bench::real_batch(&settings)))
}

#[allow(clippy::too_many_arguments)]
fn bench(
    scale: f64,
    runs: usize,
    fuzz: bool,
    one: Option<String>,
    vm: eradiff::bench::BenchVm,
    scaling: bool,
    real_batch: Option<eradiff::bench::Workload>,
) -> Result<ExitCode, CliError> {
    use eradiff::bench;
    if let Some(id) = one {
        let found = match real_batch {
            Some(w) if w.id == id => Some(w),
            _ => bench::workload(&id, scale),
        };
        let Some(w) = found else {
            let ids: Vec<&str> = bench::workloads(1.0).iter().map(|w| w.id).collect();
            return Err(CliError::Input(format!(
                "no workload {id:?}; there are empty, {} (and real-batch with a bundle)",
                ids.join(", ")
            )));
        };
        // Status 3: what ci/bench-counts.sh reads as a VM that cannot run the workload.
        let cycles = bench::run_on(vm, &w.case).map_err(|e| CliError::Bare {
            message: format!("n/a: {e}"),
            status: 3,
        })?;
        say!("{cycles}");
        return Ok(ExitCode::SUCCESS);
    }
    if scaling {
        let results = bench::scaling::run(runs).map_err(CliError::Failed)?;
        say_raw!("{}", bench::scaling::table(&results));
        return Ok(ExitCode::SUCCESS);
    }
    let mut workloads = bench::workloads(scale);
    workloads.extend(real_batch.clone());
    let timings = bench::run(workloads, runs).map_err(CliError::Failed)?;
    say_raw!("{}", bench::table(&timings));
    // The real batch on the node's own operators too, where the node binary is built.
    let real_timing = |real: &bench::Workload| timings.iter().find(|t| t.name == real.name);
    if let Some((real, timing)) = real_batch.as_ref().and_then(|r| Some((r, real_timing(r)?))) {
        match eradiff::backend::node::binary() {
            Ok(_) => say_raw!("\n{}", bench::node_table(timing, real, runs)),
            Err(e) => say!("\nnode operators not timed: {e}"),
        }
    }
    if fuzz {
        say!();
        say_raw!("{}", bench::fuzz_overhead(2_000));
    }
    Ok(ExitCode::SUCCESS)
}
