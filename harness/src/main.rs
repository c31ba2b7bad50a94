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
    fn settings(&self, target: Target, settings: Settings) -> Result<Settings, ExitCode> {
        if target != Target::Realbatches {
            return Ok(settings);
        }
        let fail = |e: String| {
            eprintln!("error: the realbatches target needs a contract bundle: {e}");
            ExitCode::from(2)
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

/// Prints a line to stdout; if stdout has gone (a closed pipe, as in `eradiff run CASE |
/// head -1`), the command ends quietly instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            return stdout_failed(e);
        }
    };
}

/// [`say!`] without the newline.
macro_rules! say_raw {
    ($($arg:tt)*) => {
        if let Err(e) = write!(std::io::stdout(), $($arg)*) {
            return stdout_failed(e);
        }
    };
}

/// The exit status when stdout cannot be written: 0 when its reader has gone (nothing is
/// lost that anyone reads), 2 for any other error (a full disk behind a redirection).
fn stdout_failed(e: std::io::Error) -> ExitCode {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: cannot write to stdout: {e}");
        ExitCode::from(2)
    }
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

fn load(path: &std::path::Path) -> Result<Case, ExitCode> {
    Case::load(path).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
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

/// vm2 allocates a zeroed 2 MB stack for every VM it builds, and we build one per case.
/// glibc raises its mmap threshold after large blocks are freed, so those stacks come from
/// the heap and are cleared by memset, half of a campaign's time; with a fixed threshold they
/// are fresh pages from the kernel, zero already.
fn fixed_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter, before any thread is started.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
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
        "fictive-block-late" => Fault::FictiveBlockTimestampOffByOne,
        _ => return None,
    })
}

fn run(cli: Cli) -> ExitCode {
    let judge = match judge_of(&cli.backends) {
        Ok(judge) => judge,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
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
            let settings = match bundle.settings(
                target,
                Settings {
                    max_instructions,
                    ..Settings::default()
                },
            ) {
                Ok(settings) => settings,
                Err(code) => return code,
            };
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
                out: out.clone(),
                show_progress: !no_progress,
                settings,
                jobs: jobs
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            };
            let known = KnownDivergences::shipped();
            match campaign::run(&config, &known) {
                Ok(summary) => {
                    if let Err(e) = campaign::print_summary(&summary) {
                        return stdout_failed(e);
                    }
                    say!("\nsummary written to {}", summary.file.display());
                    if summary.unexplained().next().is_some() || summary.generator_defects > 0 {
                        ExitCode::from(1)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => {
                    eprintln!("error: cannot write findings to {}: {e}", out.display());
                    ExitCode::from(2)
                }
            }
        }
        Command::Replay { cases, verbose } => {
            let [path] = cases.as_slice() else {
                return replay_many(&judge, &cases);
            };
            if path.is_dir() {
                return replay_many(&judge, &cases);
            }
            let case = match load(path) {
                Ok(c) => c,
                Err(code) => return code,
            };
            replay_one(&judge, &case, &path.display().to_string(), verbose)
        }
        Command::Trace {
            case: path,
            backend,
            from,
            to,
        } => {
            let case = match load(&path) {
                Ok(c) => c,
                Err(code) => return code,
            };
            trace(&case, backend, from, to)
        }
        Command::ReplayDump {
            dump,
            save,
            validation,
            verbose,
        } => {
            let case = match eradiff::dump::VmDump::load(&dump).and_then(|d| d.to_case()) {
                Ok(mut case) => {
                    if let (true, Some(batch)) = (validation, case.batch.as_mut()) {
                        batch.mode = eradiff::case::BatchMode::Validation;
                    }
                    case
                }
                Err(e) => {
                    eprintln!("error: {}: {e}", dump.display());
                    return ExitCode::from(2);
                }
            };
            let mut label = dump.display().to_string();
            if let Some(save) = &save {
                if let Err(e) = eradiff::findings::write_atomic(save, case.to_json().as_bytes()) {
                    eprintln!("error: cannot write {}: {e}", save.display());
                    return ExitCode::from(2);
                }
                label = save.display().to_string();
            }
            replay_one(&judge, &case, &label, verbose)
        }
        Command::Minimize {
            case: path,
            out,
            budget,
        } => {
            let case = match load(&path) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match eradiff::minimize::minimize(&judge, &case, budget) {
                None => {
                    say!("{} agree on this case: nothing to minimise", judge.names());
                    ExitCode::from(1)
                }
                Some(m) => {
                    let out = out.unwrap_or_else(|| path.with_extension("min.json"));
                    if let Err(e) = eradiff::findings::write_atomic(&out, m.case.to_json()) {
                        eprintln!("error: cannot write {}: {e}", out.display());
                        return ExitCode::from(2);
                    }
                    say!(
                        "{}: {} -> {} instructions in {} reruns, written to {}",
                        m.signature,
                        m.instructions_before,
                        m.instructions_after,
                        m.reruns,
                        out.display()
                    );
                    ExitCode::SUCCESS
                }
            }
        }
        Command::Triage { dir, target } => {
            match campaign::triage(judge, &dir, target, &KnownDivergences::shipped()) {
                Ok(summary) => {
                    if let Err(e) = campaign::print_summary(&summary) {
                        return stdout_failed(e);
                    }
                    if summary.unexplained().next().is_some() {
                        ExitCode::from(1)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Coverage { dirs, target } => {
            let (reached, missing, cases) = campaign::variant_coverage(&dirs, target);
            say!("{cases} cases; executed opcode variants (eravm):");
            for (name, n) in &reached {
                say!("  {name:<32} {n:>12}");
            }
            say!(
                "\n{} variants of the {target:?} target no case reaches:",
                missing.len()
            );
            for name in &missing {
                say!("  {name}");
            }
            ExitCode::SUCCESS
        }
        Command::Distill {
            target,
            seed,
            iterations,
            out,
        } => match campaign::distill(target, seed, iterations, &out) {
            Ok(n) => {
                say!("{n} cases added to {}", out.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Bench {
            scale,
            runs,
            fuzz,
            one,
            vm,
            scaling,
            case,
            bundle,
        } => match case {
            Some(path) => match load(&path) {
                Ok(case) => bench_case(&case, runs),
                Err(code) => code,
            },
            None => match real_batch_workload(&bundle) {
                Ok(real) => bench(scale, runs, fuzz, one, vm, scaling, real),
                Err(code) => code,
            },
        },
        Command::Report { dir, format } => match eradiff::findings::report(&dir, format) {
            Ok((text, unreadable)) => {
                say_raw!("{text}");
                if unreadable > 0 {
                    eprintln!("error: {unreadable} group(s) without a readable case file");
                    return ExitCode::from(2);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Contracts {
            dir,
            protocol,
            require,
        } => match load_bundle(dir, protocol) {
            Ok(bundle) => {
                say_raw!("{}", bundle.report());
                match bundle.require(eradiff::contracts::BATCH_CONTRACTS) {
                    Err(e) if require => {
                        eprintln!("{e}");
                        ExitCode::from(1)
                    }
                    _ => ExitCode::SUCCESS,
                }
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Command::Disasm { case: path, zasm } => match load(&path) {
            Ok(case) if zasm => match eradiff::zasm::write(&case) {
                Ok(text) => {
                    say_raw!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: cannot print {} as .zasm: {e}", path.display());
                    ExitCode::from(1)
                }
            },
            Ok(case) => {
                say_raw!("{}", disasm::disassemble(&case));
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Generate {
            target,
            seed,
            iteration,
            bundle,
        } => {
            let settings = match bundle.settings(target, Settings::default()) {
                Ok(settings) => settings,
                Err(code) => return code,
            };
            let case = generate_seeded_for(target, seed, iteration, &settings);
            say!("{}", case.to_json());
            ExitCode::SUCCESS
        }
        Command::Run {
            case: path,
            backend,
        } => {
            let case = match load(&path) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let b: &dyn Backend = backend.backend();
            match run_isolated(b, &case, false) {
                Ok(run) => {
                    say!(
                        "{}",
                        serde_json::to_string_pretty(&run.state).unwrap_or_default()
                    );
                    print_panics(b.name(), &run.panics);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{}: {e}", b.name());
                    ExitCode::from(1)
                }
            }
        }
    }
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
fn trace(case: &Case, backend: BackendName, from: u64, to: u64) -> ExitCode {
    let run = match eradiff::backend::run_isolated(backend.backend(), case, true) {
        Ok(run) => run,
        Err(e) => {
            say!("{}: {e}", backend.backend().name());
            return ExitCode::from(1);
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
    ExitCode::SUCCESS
}

/// Replays one case on the judge's backends and prints the verdict (and, for a batch, what
/// became of each transaction); `path` names the case in the report.
fn replay_one(judge: &Judge, case: &Case, path: &str, verbose: bool) -> ExitCode {
    let (verdict, declined) = judge.check_counted(case);
    for d in &declined {
        say!("{} declined the case: {}", d.backend, d.reason);
    }
    match verdict {
        Verdict::Unsupported(why) => {
            say!("fewer than two backends can host this case: {why}");
            ExitCode::from(2)
        }
        Verdict::Agree(run) => {
            say!(
                "{} agree: {:?} after {} cycles, {} ergs left",
                judge.names(),
                run.state.end,
                run.state.cycles,
                run.state.ergs
            );
            if let Some(batch) = &run.state.batch {
                for (i, (success, returned, refund)) in batch.results.iter().enumerate() {
                    let outcome = if *success { "succeeded" } else { "failed" };
                    say!("transaction {i}: {outcome}, returned 0x{returned}, refund {refund}");
                }
                let stops = batch
                    .hooks
                    .last()
                    .map(|h| h.hook.as_str())
                    .unwrap_or("none");
                say!("{} hooks raised, the last {stops}", batch.hooks.len());
            }
            if verbose {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&run.state).unwrap_or_default()
                );
            }
            ExitCode::SUCCESS
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
            ExitCode::from(1)
        }
    }
}

/// `eradiff replay` of many cases: one line each, then the counts.
fn replay_many(judge: &Judge, paths: &[PathBuf]) -> ExitCode {
    let files = match case_files(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
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
        ExitCode::from(2)
    } else if diverge > 0 {
        // As for one case: any disagreement, wherever it is, makes the status 1.
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Times one case on every VM (best of `runs`, unobserved, as the benchmark runs).
fn bench_case(case: &Case, runs: usize) -> ExitCode {
    use clap::ValueEnum;
    use eradiff::bench::{run_on, BenchVm};
    for &vm in BenchVm::value_variants() {
        let mut best: Option<(u64, Duration)> = None;
        for _ in 0..runs.max(1) {
            let start = std::time::Instant::now();
            match run_on(vm, case) {
                Ok(cycles) => {
                    let took = start.elapsed();
                    if best.is_none_or(|(_, t)| took < t) {
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
    ExitCode::SUCCESS
}

/// The real-batch workload, if a bundle is named (on the command line or in the
/// environment); one that cannot hold a batch is an input error.
fn real_batch_workload(bundle: &BundleArgs) -> Result<Option<eradiff::bench::Workload>, ExitCode> {
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
) -> ExitCode {
    use eradiff::bench;
    if let Some(id) = one {
        let found = match real_batch {
            Some(w) if w.id == id => Some(w),
            _ => bench::workload(&id, scale),
        };
        let Some(w) = found else {
            let ids: Vec<&str> = bench::workloads(1.0).iter().map(|w| w.id).collect();
            eprintln!(
                "error: no workload {id:?}; there are empty, {} (and real-batch with a bundle)",
                ids.join(", ")
            );
            return ExitCode::from(2);
        };
        return match bench::run_on(vm, &w.case) {
            Ok(cycles) => {
                say!("{cycles}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("n/a: {e}");
                ExitCode::from(3)
            }
        };
    }
    if scaling {
        return match bench::scaling::run(runs) {
            Ok(results) => {
                say_raw!("{}", bench::scaling::table(&results));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        };
    }
    let mut workloads = bench::workloads(scale);
    workloads.extend(real_batch);
    match bench::run(workloads, runs) {
        Ok(timings) => {
            say_raw!("{}", bench::table(&timings));
            if fuzz {
                say!();
                say_raw!("{}", bench::fuzz_overhead(2_000));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
