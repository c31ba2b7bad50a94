//! The in-process fuzz campaign: generate, run on both VMs, keep every finding.
//!
//! A disagreeing case is written to disk before anything else is done with it; only then is
//! it explained (rerun with traces), given a signature and filed under it. A signature seen
//! before only increments a count.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::backend::EraVm;
use crate::case::Case;
use crate::differential::{reference_at_fault, Declined, Finding, Judge, Verdict};
use crate::findings::write_atomic;
use crate::generator::{generate_seeded_for, Settings};
use crate::known::KnownDivergences;
use crate::observe::RunStats;
use crate::report::finding_markdown;

pub use crate::generator::Target;

/// When a campaign stops.
#[derive(Clone, Copy, Debug)]
pub enum Budget {
    Iterations(u64),
    Duration(Duration),
}

pub struct CampaignConfig {
    /// The backends every case runs on.
    pub judge: Judge<'static>,
    pub target: Target,
    pub seed: u64,
    pub budget: Budget,
    pub out: PathBuf,
    pub show_progress: bool,
    pub settings: Settings,
    /// Threads running cases (1: this thread only). Iterations are handed out in order, so a
    /// campaign of N iterations runs cases 0..N of its seed whatever the number of jobs.
    pub jobs: usize,
}

/// Reruns spent minimising each new finding.
const MINIMIZE_BUDGET: usize = 1_500;

/// One group of findings with the same signature.
#[derive(Clone, Debug, Serialize)]
pub struct FindingGroup {
    pub signature: String,
    pub count: u64,
    pub known: Option<String>,
    /// Where the first case of the group was written, relative to the summary's folder.
    pub case: String,
    /// The group's report, relative to the summary's folder.
    pub report: String,
    pub first_iteration: u64,
}

/// Generated cases kept on disk per campaign when they break the case format's rules.
const GENERATOR_DEFECTS_KEPT: u64 = 10;
/// The folder (under the findings folder) for generated cases that are input errors.
pub const GENERATOR_DEFECTS_DIR: &str = "generator-defects";

/// The outcome of a campaign.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub target: Target,
    pub seed: u64,
    pub executions: u64,
    pub seconds: f64,
    pub executions_per_second: f64,
    /// Cases whose run ended in each way (on eravm).
    pub ends: BTreeMap<String, u64>,
    /// Executed instructions per opcode variant (mnemonic with modifiers), on eravm.
    pub variant_counts: BTreeMap<String, u64>,
    /// Executed instructions per source addressing mode, on eravm.
    pub mode_counts: BTreeMap<String, u64>,
    pub groups: Vec<FindingGroup>,
    pub new_divergences: u64,
    pub crashes: u64,
    /// Generated cases that are input errors (beyond the protocol's limits, or otherwise
    /// against the case format): defects of the generator, not findings; the first few are
    /// kept in `generator-defects/`.
    pub generator_defects: u64,
    /// Totals of what agreeing runs exercised (on eravm).
    pub stats: RunStats,
    /// The backends every case ran on.
    pub backends: String,
    /// Per pair of backends (`eravm=zk_evm`): cases where both ran and agreed, and where
    /// they disagreed.
    pub agreement: BTreeMap<String, [u64; 2]>,
    /// Cases a backend declined (it cannot host them), by backend and reason: never findings.
    pub declined: BTreeMap<String, u64>,
    /// The folder the summary and the groups' paths are relative to.
    #[serde(skip)]
    pub dir: PathBuf,
    /// Where the summary was written.
    #[serde(skip)]
    pub file: PathBuf,
}

impl Summary {
    /// Findings not on the known-divergence list.
    /// Findings against eravm (eravm is the odd one out, or there is no majority, or eravm
    /// crashed) that are not on the known-divergence list: what makes the exit status 1.
    pub fn unexplained(&self) -> impl Iterator<Item = &FindingGroup> {
        self.groups
            .iter()
            .filter(|g| g.known.is_none() && reference_at_fault(&g.signature).is_none())
    }

    /// Findings in a reference: one of zk_evm and vm2 disagrees with the others, or crashed.
    pub fn in_references(&self) -> impl Iterator<Item = &FindingGroup> {
        self.groups
            .iter()
            .filter(|g| reference_at_fault(&g.signature).is_some())
    }
}

/// The campaign's findings folder.
///
/// Every file is written atomically ([`write_atomic`]). A case is first written to this
/// campaign's own working folder (`DIR/.work-<pid>-<time>/`, so that campaigns sharing `DIR`
/// never touch each other's), then moved into its group's folder, which campaigns may share:
/// the case files are named by their hash, and the reports are replaced whole.
struct Findings {
    judge: Judge<'static>,
    dir: PathBuf,
    work: PathBuf,
    groups: BTreeMap<String, FindingGroup>,
    generator_defects: u64,
}

impl Findings {
    fn new(judge: Judge<'static>, dir: &Path) -> io::Result<Findings> {
        fs::create_dir_all(dir)?;
        // Unique per campaign: the process, the time, and a count within the process.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let next = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let work = dir.join(format!(".work-{}-{nanos}-{next}", std::process::id()));
        fs::create_dir(&work)?;
        Ok(Findings {
            judge,
            dir: dir.to_path_buf(),
            work,
            groups: BTreeMap::new(),
            generator_defects: 0,
        })
    }

    /// A generated case that is an input error: counted, and the first few kept with the
    /// error in their note.
    fn generator_defect(&mut self, case: &Case, error: &crate::case::CaseError) -> io::Result<()> {
        self.generator_defects += 1;
        if self.generator_defects > GENERATOR_DEFECTS_KEPT {
            return Ok(());
        }
        let mut case = case.clone();
        case.note = format!("generator defect: {error}. {}", case.note);
        let json = case.to_json();
        let dir = self.dir.join(GENERATOR_DEFECTS_DIR);
        fs::create_dir_all(&dir)?;
        write_atomic(&dir.join(format!("{}.json", case_hash(&json))), json)
    }

    /// Writes the summary (atomically) and removes this campaign's working folder. The
    /// summary is `DIR/summary.json` unless the folder has one already (another campaign's,
    /// running at the same time or before): then it stays `DIR/summary-<id>.json` (the id of
    /// the working folder), so that no campaign replaces another's counts; `eradiff report`
    /// reads them all.
    fn finish(self, summary: &Summary) -> io::Result<PathBuf> {
        fs::remove_dir_all(&self.work)?;
        let work = self.work.file_name().unwrap_or_default().to_string_lossy();
        let own = self.dir.join(format!(
            "summary-{}.json",
            work.trim_start_matches(".work-")
        ));
        write_atomic(
            &own,
            serde_json::to_string_pretty(summary).unwrap_or_default(),
        )?;
        // A hard link claims the name only if nobody has it, atomically.
        let shared = self.dir.join("summary.json");
        if fs::hard_link(&own, &shared).is_ok() {
            fs::remove_file(&own)?;
            return Ok(shared);
        }
        Ok(own)
    }

    /// Writes the case first; only then explains and files it.
    fn record(
        &mut self,
        case: &Case,
        iteration: u64,
        finding: Finding,
        known: &KnownDivergences,
    ) -> io::Result<bool> {
        let json = case.to_json();
        let hash = case_hash(&json);
        let incoming = self.work.join(format!("{hash}.json"));
        write_atomic(&incoming, &json)?;

        let explanation = self.judge.explain(case, finding);
        if let Some(group) = self.groups.get_mut(&explanation.signature) {
            group.count += 1;
            fs::remove_file(&incoming)?;
            return Ok(false);
        }
        let slug = slug(&explanation.signature);
        let group_dir = self.dir.join(&slug);
        fs::create_dir_all(&group_dir)?;
        let case_path = group_dir.join(format!("{hash}.json"));
        fs::rename(&incoming, &case_path)?;
        let report_path = group_dir.join("report.md");
        let report = finding_markdown(case, &explanation, Some(&case_path.display().to_string()));
        write_atomic(&report_path, report)?;
        write_atomic(
            &group_dir.join("explanation.json"),
            serde_json::to_string_pretty(&explanation).unwrap_or_default(),
        )?;
        // Shrink it now, while the campaign knows its signature; the report shows the
        // smallest case.
        if let Some(m) = crate::minimize::minimize(&self.judge, case, MINIMIZE_BUDGET) {
            let min_path = group_dir.join("minimized.json");
            write_atomic(&min_path, m.case.to_json())?;
            if let Verdict::Disagree(f) = self.judge.check(&m.case) {
                let e = self.judge.explain(&m.case, f);
                let mut text = finding_markdown(&m.case, &e, Some(&min_path.display().to_string()));
                text.push_str(&format!(
                    "\nMinimised from {} to {} instructions; the case as found is `{}`.\n",
                    m.instructions_before,
                    m.instructions_after,
                    case_path.display()
                ));
                write_atomic(&report_path, text)?;
            }
        }
        self.groups.insert(
            explanation.signature.clone(),
            FindingGroup {
                known: known.reason(&explanation.signature).map(str::to_string),
                signature: explanation.signature,
                count: 1,
                case: format!("{slug}/{hash}.json"),
                report: format!("{slug}/report.md"),
                first_iteration: iteration,
            },
        );
        Ok(true)
    }
}

/// Who agreed with whom over a campaign, and what each backend declined.
struct Tally {
    names: Vec<&'static str>,
    agreement: BTreeMap<String, [u64; 2]>,
    declined: BTreeMap<String, u64>,
}

impl Tally {
    fn new(judge: Judge<'_>) -> Tally {
        Tally {
            names: judge.backends().iter().map(|b| b.name()).collect(),
            agreement: BTreeMap::new(),
            declined: BTreeMap::new(),
        }
    }

    fn count(&mut self, verdict: &Verdict, declined: &[Declined]) {
        for d in declined {
            let reason = crate::differential::normalise(&d.reason);
            *self
                .declined
                .entry(format!("{}: {reason}", d.backend))
                .or_default() += 1;
        }
        let ran: Vec<&str> = self
            .names
            .iter()
            .copied()
            .filter(|n| !declined.iter().any(|d| d.backend == *n))
            .collect();
        let same_group = |a: &str, b: &str| match verdict {
            Verdict::Agree(_) => Some(true),
            Verdict::Disagree(Finding::Divergence { groups, .. }) => Some(
                groups
                    .iter()
                    .any(|g| g.iter().any(|x| x == a) && g.iter().any(|x| x == b)),
            ),
            _ => None,
        };
        for (i, a) in ran.iter().enumerate() {
            for b in &ran[i + 1..] {
                if let Some(agree) = same_group(a, b) {
                    let entry = self.agreement.entry(format!("{a}={b}")).or_default();
                    entry[usize::from(!agree)] += 1;
                }
            }
        }
    }
}

/// The name a case file gets: the first 8 bytes of the sha256 of its JSON, in hex.
fn case_hash(json: &str) -> String {
    hex::encode(&Sha256::digest(json.as_bytes())[..8])
}

/// A file-name-safe form of a signature.
pub fn slug(signature: &str) -> String {
    let mut s: String = signature
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.truncate(80);
    s
}

/// Runs a campaign to its budget.
pub fn run(config: &CampaignConfig, known: &KnownDivergences) -> io::Result<Summary> {
    run_with(config, known, |iteration| {
        generate_seeded_for(config.target, config.seed, iteration, &config.settings)
    })
}

/// Runs a campaign on the cases `generate` gives for each iteration (the seeded generator
/// of the target, for [`run`]). A case that is an input error (see
/// [`Case::validate`]) is not run: it counts as a generator defect.
pub fn run_with(
    config: &CampaignConfig,
    known: &KnownDivergences,
    generate: impl Fn(u64) -> Case + Sync,
) -> io::Result<Summary> {
    let findings = Findings::new(config.judge, &config.out)?;
    let progress = if config.show_progress {
        // The bar counts cases, or seconds of the duration (the rate is in the message).
        let (bar, template) = match config.budget {
            Budget::Iterations(n) => (
                ProgressBar::new(n),
                "{elapsed_precise} [{bar:30}] {pos}/{len} cases {msg}",
            ),
            Budget::Duration(d) => (
                ProgressBar::new(d.as_secs().max(1)),
                "{elapsed_precise} [{bar:30}] {pos}s/{len}s {msg}",
            ),
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };

    let start = Instant::now();
    let campaign = Campaign {
        config,
        known,
        start,
        next: AtomicU64::new(0),
        totals: Mutex::new(Totals::new(config.judge)),
        findings: Mutex::new(findings),
        progress,
    };
    if config.jobs <= 1 {
        campaign.work(&generate)?;
    } else {
        // A fault injected into eravm (per thread) is injected into every job.
        let fault = eravm::faults::active();
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..config.jobs)
                .map(|_| scope.spawn(|| eravm::faults::inherit(fault, || campaign.work(&generate))))
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect::<io::Result<Vec<()>>>()
        })?;
    }
    campaign.progress.finish_and_clear();
    let totals = campaign
        .totals
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    let findings = campaign
        .findings
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    let seconds = start.elapsed().as_secs_f64();
    let (variant_counts, mode_counts) = group_counts(&totals.counts);
    let groups: Vec<FindingGroup> = findings.groups.values().cloned().collect();
    let mut summary = Summary {
        generator_defects: findings.generator_defects,
        dir: config.out.clone(),
        file: PathBuf::new(),
        target: config.target,
        seed: config.seed,
        executions: totals.executions,
        seconds,
        executions_per_second: totals.executions as f64 / seconds.max(1e-9),
        ends: totals.ends,
        variant_counts,
        mode_counts,
        new_divergences: groups
            .iter()
            .filter(|g| g.known.is_none() && reference_at_fault(&g.signature).is_none())
            .count() as u64,
        crashes: totals.crashes,
        groups,
        stats: totals.stats,
        backends: config.judge.names(),
        agreement: totals.tally.agreement,
        declined: totals.tally.declined,
    };
    summary.file = findings.finish(&summary)?;
    Ok(summary)
}

/// What every job of a campaign shares: the next iteration to run, the totals, the findings
/// folder and the progress bar.
struct Campaign<'a> {
    config: &'a CampaignConfig,
    known: &'a KnownDivergences,
    start: Instant,
    next: AtomicU64,
    totals: Mutex<Totals>,
    findings: Mutex<Findings>,
    progress: ProgressBar,
}

/// The counts a campaign adds up over its cases.
struct Totals {
    counts: Vec<u64>,
    ends: BTreeMap<String, u64>,
    executions: u64,
    stats: RunStats,
    new_findings: u64,
    crashes: u64,
    tally: Tally,
}

impl Totals {
    fn new(judge: Judge<'_>) -> Totals {
        Totals {
            counts: vec![0u64; eravm::decoder::VARIANT_TABLE_LEN],
            ends: BTreeMap::new(),
            executions: 0,
            stats: RunStats::default(),
            new_findings: 0,
            crashes: 0,
            tally: Tally::new(judge),
        }
    }

    /// Adds what an agreeing run exercised.
    fn agreed(&mut self, run: &crate::observe::Run, case: &Case) {
        for (i, &c) in run.variant_counts.iter().enumerate() {
            self.counts[i] += c as u64;
        }
        *self.ends.entry(format!("{:?}", run.state.end)).or_default() += 1;
        let stats = &mut self.stats;
        stats.deep_reverts += run.stats.deep_reverts;
        stats.deep_panics += run.stats.deep_panics;
        stats.initial_writes += run.stats.initial_writes;
        stats.repeated_writes += run.stats.repeated_writes;
        stats.rolled_back_writes += run.stats.rolled_back_writes;
        if let Some(batch) = &run.state.batch {
            stats.batches.count(batch, case.batch.as_ref());
            stats.batches.cycles += run.state.cycles;
            stats.batches.sealed +=
                (run.state.end == crate::observe::RunEnd::Ok && batch.pubdata.is_some()) as u64;
        }
        for (name, [bad, good]) in &run.stats.precompiles {
            let total = stats.precompiles.entry(name.clone()).or_default();
            total[0] += bad;
            total[1] += good;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Campaign<'_> {
    /// The next iteration to run, or `None` when the budget is spent.
    fn claim(&self) -> Option<u64> {
        if let Budget::Duration(d) = self.config.budget {
            if self.start.elapsed() >= d {
                return None;
            }
        }
        let iteration = self.next.fetch_add(1, Ordering::Relaxed);
        match self.config.budget {
            Budget::Iterations(n) if iteration >= n => None,
            _ => Some(iteration),
        }
    }

    /// One job: runs cases until the budget is spent.
    fn work(&self, generate: &(impl Fn(u64) -> Case + Sync)) -> io::Result<()> {
        while let Some(iteration) = self.claim() {
            let case = generate(iteration);
            self.run_case(&case, iteration)?;
            let executions = {
                let mut totals = lock(&self.totals);
                totals.executions += 1;
                totals.executions
            };
            if executions % 64 == 0 {
                self.show_progress(executions);
            }
        }
        Ok(())
    }

    fn run_case(&self, case: &Case, iteration: u64) -> io::Result<()> {
        if let Err(e) = case.validate() {
            return lock(&self.findings).generator_defect(case, &e);
        }
        let (verdict, declined) = self.config.judge.check_counted(case);
        let mut totals = lock(&self.totals);
        totals.tally.count(&verdict, &declined);
        match verdict {
            Verdict::Unsupported(why) => {
                *totals
                    .ends
                    .entry(format!("unsupported: {why}"))
                    .or_default() += 1;
            }
            Verdict::Agree(run) => totals.agreed(&run, case),
            Verdict::Disagree(finding) => {
                if matches!(finding, Finding::Crash { .. }) {
                    totals.crashes += 1;
                }
                *totals.ends.entry("disagreement".into()).or_default() += 1;
                drop(totals);
                self.record(case, iteration, finding)?;
            }
        }
        Ok(())
    }

    fn record(&self, case: &Case, iteration: u64, finding: Finding) -> io::Result<()> {
        let mut findings = lock(&self.findings);
        if findings.record(case, iteration, finding, self.known)? {
            let signature = findings.groups.values().last().map(|g| g.signature.clone());
            drop(findings);
            let mut totals = lock(&self.totals);
            totals.new_findings += 1;
            self.progress.println(format!(
                "new finding #{} at iteration {iteration}: {}",
                totals.new_findings,
                signature.unwrap_or_default()
            ));
        }
        Ok(())
    }

    fn show_progress(&self, executions: u64) {
        match self.config.budget {
            Budget::Iterations(_) => self.progress.set_position(executions),
            Budget::Duration(_) => self.progress.set_position(self.start.elapsed().as_secs()),
        }
        let rate = executions as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
        let signatures = lock(&self.findings).groups.len();
        self.progress
            .set_message(format!("{rate:.0} execs/s, {signatures} signatures"));
    }
}

/// Folds per-index counts into per-variant (mnemonic and modifiers) and per-mode counts.
fn group_counts(counts: &[u64]) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let mut variants = BTreeMap::new();
    let mut modes = BTreeMap::new();
    for (index, &count) in counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let ins = eravm::Instruction::decode(index as u64);
        *variants.entry(variant_name(&ins)).or_default() += count;
        *modes
            .entry(format!("src {:?} / dst {:?}", ins.src0_mode, ins.dst0_mode))
            .or_default() += count;
    }
    (variants, modes)
}

/// The mnemonic with its modifiers, without operands: `sub.s!`, `ld.1.inc`.
pub fn variant_name(ins: &eravm::Instruction) -> String {
    ins.name()
}

/// Every opcode variant the `opcodes` target covers, for checking a summary.
pub fn opcodes_target_variants() -> Vec<String> {
    let mut names: Vec<String> = (0..eravm::decoder::VARIANT_TABLE_LEN as u64)
        .map(eravm::Instruction::decode)
        .filter(|i| crate::generator::GENERATED_FAMILIES.contains(&i.opcode.family()))
        .map(|i| variant_name(&i))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Writes a line to `out`, returning the error (a closed pipe, say) to the caller.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {
        writeln!($out, $($arg)*)?
    };
}

/// What the batches target must show: long batches, failed transactions, every hook our
/// bootloader raises, published pubdata.
fn print_real_batch_stats(
    out: &mut dyn io::Write,
    b: &crate::observe::BatchStats,
) -> io::Result<()> {
    say!(
        out,
        "\nreal batches (production bootloader, eravm's operator):"
    );
    let unsealed = b.runs - b.sealed;
    let mark = if unsealed > 0 {
        "  <- generator or operator defect"
    } else {
        ""
    };
    say!(
        out,
        "  batches run / sealed                 {:>12} / {}{mark}",
        b.runs,
        b.sealed
    );
    say!(
        out,
        "  L2 blocks (batches with 2+)          {:>12} ({})",
        b.l2_blocks,
        b.multi_block_batches
    );
    say!(
        out,
        "  transactions with a result / failed  {:>12} / {}",
        b.transactions,
        b.failed
    );
    say!(
        out,
        "  transactions rolled back             {:>12}",
        b.rolled_back_transactions
    );
    say!(
        out,
        "  cycles per batch (eravm = zk_evm)    {:>12}",
        b.cycles / b.runs.max(1)
    );
    say!(out, "  transactions pushed, by type:");
    for (kind, n) in &b.by_type {
        say!(out, "    {kind:<34} {n:>12}");
    }
    say!(
        out,
        "  deploys pushed (ContractDeployer)    {:>12}",
        b.deploys
    );
    print_published(out, b)?;
    say!(
        out,
        "  rejected by the bootloader (halted, rolled back), by reason:"
    );
    for (why, n) in &b.rejected {
        say!(out, "    {why:<34} {n:>12}");
    }
    say!(out, "  meant by the generator:");
    for (meant, n) in &b.meant {
        say!(out, "    {meant:<34} {n:>12}");
    }
    for (what, n) in &b.unexpected {
        say!(out, "    {what:<34} {n:>12}  <- generator defect");
    }
    say!(out, "  hooks raised:");
    for (hook, n) in &b.hooks {
        say!(out, "    {hook:<34} {n:>12}");
    }
    Ok(())
}

/// What the batches' pubdata held.
fn print_published(out: &mut dyn io::Write, b: &crate::observe::BatchStats) -> io::Result<()> {
    let rows = [
        ("  with user L2->L1 logs", b.with_logs, b.published_logs),
        (
            "  with long messages",
            b.with_messages,
            b.published_messages,
        ),
        (
            "  with published bytecodes",
            b.with_bytecodes,
            b.published_bytecodes,
        ),
    ];
    for (label, batches, items) in rows {
        say!(out, "{label:<39}{batches:>12}   ({items} in all)");
    }
    say!(
        out,
        "  state diffs published                {:>12}   ({} initial writes)",
        b.published_diffs,
        b.published_initial_writes
    );
    Ok(())
}

fn print_batch_stats(out: &mut dyn io::Write, b: &crate::observe::BatchStats) -> io::Result<()> {
    say!(out, "\nbatches (eravm's operator):");
    say!(out, "  batch runs                           {:>12}", b.runs);
    say!(
        out,
        "  with 20+ transaction results         {:>12}",
        b.with_20_results
    );
    say!(
        out,
        "  transactions with a result           {:>12}",
        b.transactions
    );
    say!(
        out,
        "  failed, rolled back                  {:>12}",
        b.failed
    );
    say!(
        out,
        "  non-empty pubdata published          {:>12}",
        b.nonempty_pubdata
    );
    print_published(out, b)?;
    say!(
        out,
        "  fed one by one, with snapshots       {:>12}   ({} transactions rolled back)",
        b.fed_one_by_one,
        b.rolled_back_transactions
    );
    say!(out, "  hooks raised:");
    for hook in [
        "PostResult",
        "AskOperatorForRefund",
        "NotifyAboutRefund",
        "TxHasEnded",
        "FinalBatchInfo",
        "PubdataRequested",
    ] {
        let n = b.hooks.get(hook).copied().unwrap_or(0);
        let mark = if n == 0 { "  <- never" } else { "" };
        say!(out, "    {hook:<34} {n:>12}{mark}");
    }
    Ok(())
}

/// Prints the summary as a table; an error (e.g. stdout closed) is returned, not a panic.
pub fn print_summary(summary: &Summary) -> io::Result<()> {
    write_summary(&mut io::stdout().lock(), summary)
}

/// Writes the summary as a table.
pub fn write_summary(out: &mut dyn io::Write, summary: &Summary) -> io::Result<()> {
    say!(
        out,
        "{} executions in {:.1}s: {:.0} execs/s (seed {}, target {:?})",
        summary.executions,
        summary.seconds,
        summary.executions_per_second,
        summary.seed,
        summary.target
    );
    say!(
        out,
        "\nbackends: {}; agreement per pair (agree / disagree):",
        summary.backends
    );
    for (pair, [agree, disagree]) in &summary.agreement {
        say!(out, "  {pair:<16} {agree:>10} / {disagree}");
    }
    if !summary.declined.is_empty() {
        say!(out, "\ncases a backend declined (never findings):");
        for (why, n) in &summary.declined {
            say!(out, "  {n:>10}  {why}");
        }
    }

    say!(out, "\nruns ended:");
    for (end, n) in &summary.ends {
        say!(out, "  {end:<14} {n:>10}");
    }
    say!(out, "\nexecuted instructions by opcode variant (eravm):");
    match summary.target {
        Target::Opcodes => {
            for name in &opcodes_target_variants() {
                let n = summary.variant_counts.get(name).copied().unwrap_or(0);
                let mark = if n < 1000 { "  <- under 1000" } else { "" };
                say!(out, "  {name:<28} {n:>12}{mark}");
            }
        }
        Target::Precompiles => {
            for (name, n) in &summary.variant_counts {
                say!(out, "  {name:<28} {n:>12}");
            }
            say!(
                out,
                "\nprecompile calls (eravm): well formed / malformed inputs"
            );
            for (name, [bad, good]) in &summary.stats.precompiles {
                let mark = if bad + good < 1000 || *bad < 100 || *good < 100 {
                    "  <- under 1000 calls or 100 of a kind"
                } else {
                    ""
                };
                say!(out, "  {name:<12} {good:>10} / {bad:<10}{mark}");
            }
        }
        Target::Calls | Target::Batches | Target::Realbatches => {
            for (name, n) in &summary.variant_counts {
                say!(out, "  {name:<28} {n:>12}");
            }
            let kind = |prefix: &str| -> u64 {
                summary
                    .variant_counts
                    .iter()
                    .filter(|(k, _)| {
                        k.as_str() == prefix
                            || (k.starts_with(prefix)
                                && k[prefix.len()..].starts_with('.')
                                && !k[prefix.len() + 1..].starts_with("delegate")
                                && !k[prefix.len() + 1..].starts_with("mimic"))
                    })
                    .map(|(_, n)| n)
                    .sum()
            };
            let s = &summary.stats;
            say!(
                out,
                "\nwhat the calls target must exercise (each at least 500):"
            );
            for (what, n) in [
                ("far_call (all modifiers)", kind("far_call")),
                (
                    "far_call.delegate (all modifiers)",
                    kind("far_call.delegate"),
                ),
                ("far_call.mimic (all modifiers)", kind("far_call.mimic")),
                ("revert at far depth >= 3", s.deep_reverts),
                ("panic at far depth >= 3", s.deep_panics),
                ("initial storage writes", s.initial_writes),
                ("repeated storage writes", s.repeated_writes),
                ("rolled-back storage writes", s.rolled_back_writes),
            ] {
                let mark = if n < 500 { "  <- under 500" } else { "" };
                say!(out, "  {what:<36} {n:>12}{mark}");
            }
            if summary.target == Target::Batches {
                print_batch_stats(out, &s.batches)?;
            }
            if summary.target == Target::Realbatches {
                print_real_batch_stats(out, &s.batches)?;
            }
        }
    }
    say!(out, "\nexecuted instructions by addressing mode (eravm):");
    for (mode, n) in &summary.mode_counts {
        say!(out, "  {mode:<40} {n:>12}");
    }
    say!(
        out,
        "\nfindings: {} signatures, {} new against eravm (not on the known list), {} in a \
         reference (zk_evm or vm2 the odd one out, or crashed), {} crashes",
        summary.groups.len(),
        summary.new_divergences,
        summary.in_references().count(),
        summary.crashes
    );
    if summary.generator_defects > 0 {
        say!(
            out,
            "generator defects (generated cases that are input errors, not run): {}; the first \
             ones are in {}",
            summary.generator_defects,
            summary.dir.join(GENERATOR_DEFECTS_DIR).display()
        );
    }
    for g in &summary.groups {
        let known = g
            .known
            .as_deref()
            .map(|r| format!(" [known: {r}]"))
            .unwrap_or_default();
        say!(
            out,
            "  {:>6}x {}{known}\n          {}",
            g.count,
            g.signature,
            summary.dir.join(&g.report).display()
        );
    }
    Ok(())
}

/// Files loose case files (from `cargo fuzz`, or written by hand) the way a campaign files
/// its findings: each disagreeing case is explained, grouped and minimised under
/// `DIR/triaged`, with a `summary.json` there that `eradiff report` picks up.
pub fn triage(
    judge: Judge<'static>,
    dir: &Path,
    target: Target,
    known: &KnownDivergences,
) -> io::Result<Summary> {
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} is not a folder of case files", dir.display()),
        ));
    }
    let out = dir.join("triaged");
    let mut findings = Findings::new(judge, &out)?;
    let mut tally = Tally::new(judge);
    let start = Instant::now();
    let mut executions = 0u64;
    let mut crashes = 0u64;
    let mut ends: BTreeMap<String, u64> = BTreeMap::new();
    let mut invalid = 0u64;
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| crate::case::is_case_file(p))
        .collect();
    paths.sort();
    for path in paths {
        let case = match Case::load(&path) {
            Ok(case) => case,
            Err(e) => {
                eprintln!("triage: skipping {}: {e}", path.display());
                invalid += 1;
                continue;
            }
        };
        executions += 1;
        let (verdict, declined) = judge.check_counted(&case);
        tally.count(&verdict, &declined);
        match verdict {
            Verdict::Unsupported(why) => {
                *ends.entry(format!("unsupported: {why}")).or_default() += 1;
            }
            Verdict::Agree(run) => {
                *ends.entry(format!("{:?}", run.state.end)).or_default() += 1;
            }
            Verdict::Disagree(finding) => {
                if matches!(finding, Finding::Crash { .. }) {
                    crashes += 1;
                }
                *ends.entry("disagreement".into()).or_default() += 1;
                findings.record(&case, executions, finding, known)?;
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let groups: Vec<FindingGroup> = findings.groups.values().cloned().collect();
    if invalid > 0 {
        ends.insert("invalid case file".into(), invalid);
    }
    let mut summary = Summary {
        generator_defects: 0,
        dir: out.clone(),
        file: PathBuf::new(),
        target,
        seed: 0,
        executions,
        seconds,
        executions_per_second: executions as f64 / seconds.max(1e-9),
        ends,
        variant_counts: BTreeMap::new(),
        mode_counts: BTreeMap::new(),
        new_divergences: groups
            .iter()
            .filter(|g| g.known.is_none() && reference_at_fault(&g.signature).is_none())
            .count() as u64,
        crashes,
        groups,
        stats: RunStats::default(),
        backends: judge.names(),
        agreement: tally.agreement,
        declined: tally.declined,
    };
    summary.file = findings.finish(&summary)?;
    Ok(summary)
}

/// Which opcode variants the cases under `dirs` execute on eravm, and which of a target's
/// variants none reaches.
pub fn variant_coverage(
    dirs: &[PathBuf],
    target: Target,
) -> (BTreeMap<String, u64>, Vec<String>, usize) {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if crate::case::is_case_file(&p) {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    for d in dirs {
        walk(d, &mut files);
    }
    let mut counts = vec![0u64; eravm::decoder::VARIANT_TABLE_LEN];
    let mut cases = 0;
    for f in files {
        let Ok(case) = Case::load(&f) else { continue };
        cases += 1;
        if let Ok(run) = crate::backend::run_isolated(&EraVm, &case, false) {
            for (i, c) in run.variant_counts.iter().enumerate() {
                counts[i] += *c as u64;
            }
        }
    }
    let (variants, _) = group_counts(&counts);
    let families: &[eravm::opcode::Family] = match target {
        Target::Opcodes => &crate::generator::GENERATED_FAMILIES,
        Target::Precompiles => &[eravm::opcode::Family::Log],
        Target::Calls | Target::Batches | Target::Realbatches => &[
            eravm::opcode::Family::FarCall,
            eravm::opcode::Family::Log,
            eravm::opcode::Family::Ret,
            eravm::opcode::Family::NearCall,
        ],
    };
    let mut missing: Vec<String> = (0..eravm::decoder::VARIANT_TABLE_LEN as u64)
        .map(eravm::Instruction::decode)
        .filter(|i| families.contains(&i.opcode.family()))
        .map(|i| variant_name(&i))
        .filter(|n| !variants.contains_key(n))
        .collect();
    missing.sort();
    missing.dedup();
    (variants, missing, cases)
}

/// Grows a corpus folder: runs a seeded campaign's cases and keeps each one that executes an
/// opcode variant (mnemonic with modifiers) or a pair of addressing modes that no kept case
/// executed before, so that a small corpus reaches everything the generator reaches. Cases
/// already in `out` count as kept. Returns how many cases were added.
pub fn distill(target: Target, seed: u64, iterations: u64, out: &Path) -> io::Result<usize> {
    fs::create_dir_all(out)?;
    let features = |counts: &[u32]| -> Vec<String> {
        let wide: Vec<u64> = counts.iter().map(|&c| c as u64).collect();
        let (variants, modes) = group_counts(&wide);
        variants.into_keys().chain(modes.into_keys()).collect()
    };
    let mut covered = std::collections::BTreeSet::new();
    for entry in fs::read_dir(out)?.flatten() {
        let Ok(case) = Case::load(&entry.path()) else {
            continue;
        };
        if let Ok(run) = crate::backend::run_isolated(&EraVm, &case, false) {
            covered.extend(features(&run.variant_counts));
        }
    }
    let mut added = 0;
    for i in 0..iterations {
        let case = generate_seeded_for(target, seed, i, &Settings::default());
        let Verdict::Agree(run) = Judge::default().check(&case) else {
            continue;
        };
        let new: Vec<String> = features(&run.variant_counts)
            .into_iter()
            .filter(|f| !covered.contains(f))
            .collect();
        if new.is_empty() {
            continue;
        }
        let mut case = case;
        case.note = format!(
            "distilled from seed {seed} iteration {i}: first to reach {}",
            new.join(", ")
        );
        covered.extend(new);
        write_atomic(&out.join(format!("seed-{seed}-{i}.json")), case.to_json())?;
        added += 1;
    }
    Ok(added)
}
