//! What a campaign (or a triage) found and ran, and the table it is printed as.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use serde::Serialize;

use super::{opcodes_target_variants, Target, GENERATOR_DEFECTS_DIR};
use crate::differential::reference_at_fault;
use crate::observe::RunStats;

/// How many opcode variants ran from start states with one feature.
#[derive(Clone, Debug, Serialize)]
pub struct StateCoverage {
    /// The feature (one of [`crate::start::STATE_FEATURES`]).
    pub feature: String,
    /// Variants that ran from a state with it.
    pub variants: u64,
    /// All variants.
    pub of: u64,
    /// Those that never did.
    pub missing: Vec<String>,
}

/// One group of findings with the same signature.
#[derive(Clone, Debug, Serialize)]
pub struct FindingGroup {
    /// The signature the group's findings share.
    pub signature: String,
    /// How many cases had it.
    pub count: u64,
    /// Why it is on the known-divergence list, if it is.
    pub known: Option<String>,
    /// Where the first case of the group was written, relative to the summary's folder.
    pub case: String,
    /// The group's report, relative to the summary's folder.
    pub report: String,
    /// The iteration (or, in a triage, the case's number) it was first seen at.
    pub first_iteration: u64,
}

/// The outcome of a campaign.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The generator.
    pub target: Target,
    /// The generator's seed (0 in a triage).
    pub seed: u64,
    /// Cases run.
    pub executions: u64,
    /// How long the campaign ran.
    pub seconds: f64,
    /// Cases run per second.
    pub executions_per_second: f64,
    /// Cases whose run ended in each way (on eravm).
    pub ends: BTreeMap<String, u64>,
    /// Executed instructions per opcode variant (mnemonic with modifiers), on eravm.
    pub variant_counts: BTreeMap<String, u64>,
    /// Executed instructions per source addressing mode, on eravm.
    pub mode_counts: BTreeMap<String, u64>,
    /// The findings, one group per signature.
    pub groups: Vec<FindingGroup>,
    /// Groups neither on the known-divergence list nor in a reference.
    pub new_divergences: u64,
    /// Cases on which some backend crashed.
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
    /// Per pair, over the batches both ran: transactions they agree on and not (success,
    /// output when it succeeded, refund, rejection).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub transactions: BTreeMap<String, [u64; 2]>,
    /// Cases a backend declined (it cannot host them), by backend and reason: never findings.
    pub declined: BTreeMap<String, u64>,
    /// The instructions target: per feature of start states, the variants that ran from one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub state_coverage: Vec<StateCoverage>,
    /// The behaviour corners agreeing runs reached (on eravm).
    pub corners: crate::coverage::CornerReport,
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
        say!(out, "  {pair:<20} {agree:>10} / {disagree}");
    }
    if !summary.transactions.is_empty() {
        say!(
            out,
            "\ntransactions of batches, per pair (agree / disagree):"
        );
        for (pair, [agree, disagree]) in &summary.transactions {
            say!(out, "  {pair:<20} {agree:>10} / {disagree}");
        }
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
        Target::Instructions => {
            for (name, n) in &summary.variant_counts {
                say!(out, "  {name:<28} {n:>12}");
            }
            say!(
                out,
                "\nvariants run from start states with (each should reach all):"
            );
            for c in &summary.state_coverage {
                let mark = if c.variants < c.of {
                    "  <- not all"
                } else {
                    ""
                };
                say!(
                    out,
                    "  {:<36} {:>5} / {}{mark}",
                    c.feature,
                    c.variants,
                    c.of
                );
                if !c.missing.is_empty() && c.missing.len() <= 12 {
                    say!(out, "      never: {}", c.missing.join(", "));
                }
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
    say!(out, "");
    summary.corners.write(out)?;
    say!(
        out,
        "\nfindings: {} signatures, {} new against eravm (not on the known list), {} in a \
         reference (zk_evm, vm2 or a node operator the odd one out, or crashed), {} crashes",
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
