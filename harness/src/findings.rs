//! Findings folders: what campaigns write, and the report that sums them up.
//!
//! A campaign writes `summary.json` and one folder per signature holding the first case
//! (`<hash>.json`), its `report.md` and `explanation.json`, and once minimised,
//! `minimized.json`. `eradiff report DIR` reads every `summary.json` under `DIR` (a nightly
//! run has one per target and worker), merges the groups by signature, reruns each group's
//! smallest case to explain it afresh, and prints Markdown for people or JSON for tools.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::compare::StepDiff;
use crate::differential::{Finding, Judge, Verdict};
use crate::known::KnownDivergences;
use crate::minimize::instruction_count;
use crate::report::finding_markdown;

/// Output formats of `eradiff report`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Md,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("no summary.json under {0}: not a findings folder")]
    Empty(String),
}

/// The part of a campaign's `summary.json` the report needs.
#[derive(Debug, Deserialize)]
struct SummaryFile {
    target: String,
    executions: u64,
    #[serde(default)]
    groups: Vec<GroupFile>,
}

#[derive(Debug, Deserialize)]
struct GroupFile {
    signature: String,
    count: u64,
    case: String,
}

/// The JSON report (format `eradiff-report/1`): stable for tools.
#[derive(Debug, Serialize)]
pub struct Report {
    pub format: &'static str,
    pub executions: u64,
    pub targets: Vec<String>,
    pub groups: Vec<ReportGroup>,
    /// Groups not on the known-divergence list.
    pub new_groups: usize,
}

#[derive(Debug, Serialize)]
pub struct ReportGroup {
    pub signature: String,
    /// The reason, if the signature is on the known-divergence list.
    pub known: Option<String>,
    pub count: u64,
    pub targets: Vec<String>,
    /// The first case found, and the minimised one if there is one.
    pub case: String,
    pub minimized_case: Option<String>,
    /// The command that reruns the case shown.
    pub replay: String,
    pub instructions: usize,
    pub finding: Option<Finding>,
    pub first_step: Option<StepDiff>,
    #[serde(skip)]
    markdown: String,
}

fn summaries(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            summaries(&path, out);
        } else if path.file_name().is_some_and(|n| n == "summary.json") {
            out.push(path);
        }
    }
}

/// Builds the report of a findings folder.
pub fn collect(dir: &Path) -> Result<Report, ReportError> {
    let mut files = Vec::new();
    summaries(dir, &mut files);
    files.sort();
    if files.is_empty() {
        return Err(ReportError::Empty(dir.display().to_string()));
    }
    let known = KnownDivergences::shipped();
    let mut executions = 0;
    let mut targets: Vec<String> = Vec::new();
    // signature -> (count, targets, first case)
    let mut merged: BTreeMap<String, (u64, Vec<String>, String)> = BTreeMap::new();
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|e| ReportError::Read {
            path: file.display().to_string(),
            message: e.to_string(),
        })?;
        let summary: SummaryFile = serde_json::from_str(&text).map_err(|e| ReportError::Read {
            path: file.display().to_string(),
            message: e.to_string(),
        })?;
        executions += summary.executions;
        let target = summary.target.to_lowercase();
        if !targets.contains(&target) {
            targets.push(target.clone());
        }
        for g in summary.groups {
            let entry = merged
                .entry(g.signature)
                .or_insert_with(|| (0, Vec::new(), g.case.clone()));
            entry.0 += g.count;
            if !entry.1.contains(&target) {
                entry.1.push(target.clone());
            }
        }
    }
    let mut groups = Vec::new();
    for (signature, (count, group_targets, case_path)) in merged {
        let minimized = Path::new(&case_path)
            .parent()
            .map(|d| d.join("minimized.json"))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string());
        let shown = minimized.clone().unwrap_or_else(|| case_path.clone());
        let (finding, first_step, markdown, instructions) = match Case::load(Path::new(&shown)) {
            Ok(case) => match Judge::default().check(&case) {
                Verdict::Disagree(f) => {
                    let e = Judge::default().explain(&case, f);
                    let md = finding_markdown(&case, &e, Some(&shown));
                    (Some(e.finding), e.step, md, instruction_count(&case))
                }
                Verdict::Agree(_) | Verdict::Unsupported(_) => (
                    None,
                    None,
                    format!("# {signature}\n\nThe case now runs the same on both VMs: fixed? Move it to corpus/.\n"),
                    instruction_count(&case),
                ),
            },
            Err(e) => (None, None, format!("# {signature}\n\n{e}\n"), 0),
        };
        groups.push(ReportGroup {
            known: known.reason(&signature).map(str::to_string),
            signature,
            count,
            targets: group_targets,
            case: case_path,
            replay: format!("eradiff replay {shown}"),
            minimized_case: minimized,
            instructions,
            finding,
            first_step,
            markdown,
        });
    }
    // New findings first, then by how often they were hit.
    groups.sort_by(|a, b| {
        a.known
            .is_some()
            .cmp(&b.known.is_some())
            .then(b.count.cmp(&a.count))
            .then(a.signature.cmp(&b.signature))
    });
    Ok(Report {
        format: "eradiff-report/1",
        executions,
        targets,
        new_groups: groups.iter().filter(|g| g.known.is_none()).count(),
        groups,
    })
}

/// The report as text in the given format.
pub fn report(dir: &Path, format: ReportFormat) -> Result<String, ReportError> {
    let report = collect(dir)?;
    Ok(match format {
        ReportFormat::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        ReportFormat::Md => markdown(&report),
    })
}

/// The Markdown report: a table of groups, then one section each.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# eradiff divergence report\n");
    let _ = writeln!(
        out,
        "{} executions on {}; {} signatures, {} new.\n",
        report.executions,
        report.targets.join(", "),
        report.groups.len(),
        report.new_groups
    );
    if report.groups.is_empty() {
        let _ = writeln!(
            out,
            "No divergences: eravm and zk_evm agreed on every case."
        );
        return out;
    }
    let _ = writeln!(
        out,
        "| signature | count | targets | instructions | status |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for g in &report.groups {
        let status = if g.known.is_some() {
            "known"
        } else {
            "**new**"
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            g.signature,
            g.count,
            g.targets.join(", "),
            g.instructions,
            status
        );
    }
    for g in &report.groups {
        let _ = writeln!(out, "\n---\n");
        let _ = writeln!(out, "{} × in {}.", g.count, g.targets.join(", "));
        if let Some(reason) = &g.known {
            let _ = writeln!(out, "On the known-divergence list: {reason}\n");
        }
        if g.minimized_case.is_some() {
            let _ = writeln!(
                out,
                "Minimised case shown; the first case found is `{}`.\n",
                g.case
            );
        }
        // Demote the per-finding headings by one level.
        for line in g.markdown.lines() {
            if line.starts_with('#') {
                let _ = writeln!(out, "#{line}");
            } else {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    out
}
