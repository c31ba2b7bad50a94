//! Tools for case folders rather than campaigns: triage of loose cases, the opcode
//! variants a corpus reaches, and distilling a seeded campaign into a corpus.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{group_counts, variant_name, FindingGroup, Findings, Summary, Tally, Target};
use crate::backend::EraVm;
use crate::case::Case;
use crate::differential::{reference_at_fault, Finding, Judge, Verdict};
use crate::findings::write_atomic;
use crate::generator::{generate_seeded_for, Settings};
use crate::known::KnownDivergences;
use crate::observe::RunStats;

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
    let mut corners = crate::coverage::CornerCounts::default();
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
        let checked = judge.check_counted(&case);
        tally.count(&checked);
        match checked.verdict {
            Verdict::Unsupported(why) => {
                *ends.entry(format!("unsupported: {why}")).or_default() += 1;
            }
            Verdict::Agree(run) => {
                corners.add(&run.corners);
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
        state_coverage: Vec::new(),
        corners: corners.report(),
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
        transactions: tally.transactions,
        declined: tally.declined,
    };
    summary.file = findings.finish(&summary)?;
    Ok(summary)
}

/// What the cases under `dirs` reach on eravm.
pub struct Coverage {
    /// Cases run.
    pub cases: usize,
    /// Executions per opcode variant.
    pub variants: BTreeMap<String, u64>,
    /// The target's variants no case executes.
    pub missing: Vec<String>,
    /// The behaviour corners the cases reach.
    pub corners: crate::coverage::CornerReport,
}

/// Which opcode variants and behaviour corners the cases under `dirs` reach on eravm, and
/// which of a target's variants none executes.
pub fn coverage(dirs: &[PathBuf], target: Target) -> Coverage {
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
    let mut corners = crate::coverage::CornerCounts::default();
    let mut cases = 0;
    for f in files {
        let Ok(case) = Case::load(&f) else { continue };
        cases += 1;
        if let Ok(run) = crate::backend::run_isolated(&EraVm, &case, false) {
            for (i, c) in run.variant_counts.iter().enumerate() {
                counts[i] += *c as u64;
            }
            corners.add(&run.corners);
        }
    }
    let (variants, _) = group_counts(&counts);
    // The instructions target draws from every variant of the table.
    let every_family: Vec<eravm::opcode::Family> = crate::generator::instructions::VARIANTS
        .iter()
        .map(|v| v.opcode.family())
        .collect();
    let families: &[eravm::opcode::Family] = match target {
        Target::Opcodes => &crate::generator::GENERATED_FAMILIES,
        Target::Instructions => &every_family,
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
    Coverage {
        cases,
        variants,
        missing,
        corners: corners.report(),
    }
}

/// Grows a corpus folder: runs a seeded campaign's cases and keeps each one that executes an
/// opcode variant (mnemonic with modifiers), a pair of addressing modes or a behaviour corner
/// that no kept case reached before, so that a small corpus reaches everything the generator reaches. Cases
/// already in `out` count as kept. Returns how many cases were added.
pub fn distill(target: Target, seed: u64, iterations: u64, out: &Path) -> io::Result<usize> {
    fs::create_dir_all(out)?;
    // Variants, pairs of addressing modes and behaviour corners, by name.
    let features = |run: &crate::observe::Run| -> Vec<String> {
        let wide: Vec<u64> = run.variant_counts.iter().map(|&c| c as u64).collect();
        let (variants, modes) = group_counts(&wide);
        let corners = run.corners.by_name().into_iter().filter(|(_, n)| *n > 0);
        (variants.into_keys().chain(modes.into_keys()))
            .chain(corners.map(|(name, _)| name))
            .collect()
    };
    let mut covered = std::collections::BTreeSet::new();
    for entry in fs::read_dir(out)?.flatten() {
        let Ok(case) = Case::load(&entry.path()) else {
            continue;
        };
        if let Ok(run) = crate::backend::run_isolated(&EraVm, &case, false) {
            covered.extend(features(&run));
        }
    }
    let mut added = 0;
    for i in 0..iterations {
        let case = generate_seeded_for(target, seed, i, &Settings::default());
        let Verdict::Agree(run) = Judge::default().check(&case) else {
            continue;
        };
        let new: Vec<String> = features(&run)
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
