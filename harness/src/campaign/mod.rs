//! The in-process fuzz campaign: generate, run on both VMs, keep every finding.
//!
//! A disagreeing case is written to disk before anything else is done with it; only then is
//! it explained (rerun with traces), given a signature and filed under it. A signature seen
//! before only increments a count.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::case::Case;
use crate::differential::{reference_at_fault, Checked, Finding, Judge, Verdict};
use crate::generator::{generate_seeded_for, Settings};
use crate::known::KnownDivergences;
use crate::observe::RunStats;

mod corpus;
mod folder;
mod summary;

use folder::Findings;

pub use crate::generator::Target;
pub use corpus::{coverage, distill, triage, Coverage};
pub use folder::{slug, GENERATOR_DEFECTS_DIR};
pub use summary::{print_summary, write_summary, FindingGroup, StateCoverage, Summary};

/// When a campaign stops.
#[derive(Clone, Copy, Debug)]
pub enum Budget {
    /// After this many cases.
    Iterations(u64),
    /// After this long.
    Duration(Duration),
}

/// What a campaign runs, and where it files what it finds.
pub struct CampaignConfig {
    /// The backends every case runs on.
    pub judge: Judge<'static>,
    /// The generator.
    pub target: Target,
    /// The generator's seed: the same seed runs the same cases.
    pub seed: u64,
    /// When to stop.
    pub budget: Budget,
    /// The findings folder.
    pub out: PathBuf,
    /// Whether to draw a progress bar.
    pub show_progress: bool,
    /// The generator's knobs.
    pub settings: Settings,
    /// Threads running cases (1: this thread only). Iterations are handed out in order, so a
    /// campaign of N iterations runs cases 0..N of its seed whatever the number of jobs.
    pub jobs: usize,
}

/// Who agreed with whom over a campaign, and what each backend declined.
struct Tally {
    names: Vec<&'static str>,
    agreement: BTreeMap<String, [u64; 2]>,
    /// Per pair: transactions of batches agreed on, and not.
    transactions: BTreeMap<String, [u64; 2]>,
    declined: BTreeMap<String, u64>,
}

impl Tally {
    fn new(judge: Judge<'_>) -> Tally {
        Tally {
            names: judge.backends().iter().map(|b| b.name()).collect(),
            agreement: BTreeMap::new(),
            transactions: BTreeMap::new(),
            declined: BTreeMap::new(),
        }
    }

    fn count(&mut self, checked: &Checked) {
        let (verdict, declined) = (&checked.verdict, &checked.declined);
        for (pair, [agree, disagree]) in &checked.transactions {
            let entry = self.transactions.entry(pair.clone()).or_default();
            entry[0] += agree;
            entry[1] += disagree;
        }
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
        reached: Mutex::new(Reached::new()),
        work_dir: findings.work_dir(),
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
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let findings = campaign
        .findings
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let seconds = start.elapsed().as_secs_f64();
    let reached = campaign
        .reached
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (variant_counts, mode_counts) = group_counts(&reached.counts);
    let groups: Vec<FindingGroup> = findings.groups.values().cloned().collect();
    let state_coverage = if config.target == Target::Instructions {
        reached.state_coverage()
    } else {
        Vec::new()
    };
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
        state_coverage,
        corners: reached.corners.report(),
        agreement: totals.tally.agreement,
        transactions: totals.tally.transactions,
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
    /// What the jobs that have finished reached (each job adds up its own while it runs).
    reached: Mutex<Reached>,
    findings: Mutex<Findings>,
    /// The findings folder's working folder, where cases are written before they are filed.
    work_dir: PathBuf,
    progress: ProgressBar,
}

/// What agreeing runs reached, added up by each job on its own and merged when it ends, so
/// that counting every executed variant holds no lock the jobs share.
struct Reached {
    counts: Vec<u64>,
    corners: crate::coverage::CornerCounts,
    /// Per start-state feature: which variants ran from a state with it.
    feature_variants: Vec<Vec<bool>>,
}

/// The counts a campaign adds up over its cases.
struct Totals {
    ends: BTreeMap<String, u64>,
    executions: u64,
    stats: RunStats,
    new_findings: u64,
    crashes: u64,
    tally: Tally,
}

impl Reached {
    fn new() -> Reached {
        Reached {
            counts: vec![0u64; eravm::decoder::VARIANT_TABLE_LEN],
            corners: Default::default(),
            feature_variants: vec![
                vec![false; eravm::decoder::VARIANT_TABLE_LEN];
                crate::start::STATE_FEATURES.len()
            ],
        }
    }

    fn add(&mut self, run: &crate::observe::Run, case: &Case) {
        for (total, &c) in self.counts.iter_mut().zip(&run.variant_counts) {
            *total += c as u64;
        }
        self.corners.add(&run.corners);
        self.count_state_features(run, case);
    }

    fn merge(&mut self, other: &Reached) {
        for (total, c) in self.counts.iter_mut().zip(&other.counts) {
            *total += c;
        }
        self.corners.add(&other.corners);
        for (seen, other) in self
            .feature_variants
            .iter_mut()
            .zip(&other.feature_variants)
        {
            for (s, o) in seen.iter_mut().zip(other) {
                *s |= o;
            }
        }
    }
}

impl Totals {
    fn new(judge: Judge<'_>) -> Totals {
        Totals {
            ends: BTreeMap::new(),
            executions: 0,
            stats: RunStats::default(),
            new_findings: 0,
            crashes: 0,
            tally: Tally::new(judge),
        }
    }

    /// Adds how an agreeing run ended and what it exercised.
    fn agreed(&mut self, run: &crate::observe::Run, case: &Case) {
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

impl Reached {
    /// Marks the variants the run executed under each feature of the case's start state.
    fn count_state_features(&mut self, run: &crate::observe::Run, case: &Case) {
        let features = crate::start::state_features(case);
        if features == 0 {
            return;
        }
        for (i, _) in (run.variant_counts.iter().enumerate()).filter(|(_, &c)| c > 0) {
            for (f, seen) in self.feature_variants.iter_mut().enumerate() {
                if features >> f & 1 != 0 {
                    seen[i] = true;
                }
            }
        }
    }

    /// Per feature: its name, the variants that ran from it, and those that never did.
    fn state_coverage(&self) -> Vec<StateCoverage> {
        let all = &crate::generator::instructions::VARIANTS;
        crate::start::STATE_FEATURES
            .iter()
            .zip(&self.feature_variants)
            .map(|(name, seen)| {
                let missing: Vec<String> = all
                    .iter()
                    .filter(|v| !eravm::decoder::variant_index(v).is_some_and(|i| seen[i as usize]))
                    .map(|v| variant_name(&eravm::Instruction::of_variant(*v)))
                    .collect();
                StateCoverage {
                    feature: (*name).to_string(),
                    variants: (all.len() - missing.len()) as u64,
                    of: all.len() as u64,
                    missing,
                }
            })
            .collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
        let mut reached = Reached::new();
        let worked = self.run_cases(generate, &mut reached);
        lock(&self.reached).merge(&reached);
        worked
    }

    fn run_cases(
        &self,
        generate: &(impl Fn(u64) -> Case + Sync),
        reached: &mut Reached,
    ) -> io::Result<()> {
        while let Some(iteration) = self.claim() {
            let case = generate(iteration);
            self.run_case(&case, iteration, reached)?;
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

    fn run_case(&self, case: &Case, iteration: u64, reached: &mut Reached) -> io::Result<()> {
        if let Err(e) = case.validate() {
            return lock(&self.findings).generator_defect(case, &e);
        }
        let checked = self.config.judge.check_counted(case);
        let mut totals = lock(&self.totals);
        totals.tally.count(&checked);
        match checked.verdict {
            Verdict::Unsupported(why) => {
                *totals
                    .ends
                    .entry(format!("unsupported: {why}"))
                    .or_default() += 1;
            }
            Verdict::Agree(run) => {
                totals.agreed(&run, case);
                drop(totals);
                reached.add(&run, case);
            }
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

    /// The case on disk first, then explained with no lock held (a rerun of every backend
    /// with traces: other jobs go on meanwhile), then filed under the folder's lock.
    fn record(&self, case: &Case, iteration: u64, finding: Finding) -> io::Result<()> {
        let incoming = folder::write_incoming(&self.work_dir, case)?;
        let explanation = self.config.judge.explain(case, finding);
        let filed =
            lock(&self.findings).file(case, iteration, &explanation, incoming, self.known)?;
        let Some(group) = filed else {
            return Ok(());
        };
        let new_findings = {
            let mut totals = lock(&self.totals);
            totals.new_findings += 1;
            totals.new_findings
        };
        self.progress.println(format!(
            "new finding #{new_findings} at iteration {iteration}: {}",
            explanation.signature
        ));
        // Shrinking reruns the case many times: the other jobs go on meanwhile.
        group.shrink(&self.config.judge, case)
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
