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

/// Writes a file so that it is never seen half written, even after a crash, a kill or a
/// full disk: the bytes go to a temporary name in the same folder, are synced, and the file
/// is renamed into place (a rename within a folder is atomic); on any error the temporary
/// file is removed and `path` keeps what it held before.
pub fn write_atomic(path: &Path, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temp = dir.join(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = std::fs::File::create_new(&temp)?;
        file.write_all(bytes.as_ref())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written?;
    // The rename itself survives a power loss once the folder is synced (not possible on
    // every platform: best effort).
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

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
    #[error("no summary.json and no finding under {0}: not a findings folder")]
    Empty(String),
}

/// The part of a campaign's `summary.json` the report needs.
#[derive(Debug, Deserialize)]
struct SummaryFile {
    target: String,
    executions: u64,
    #[serde(default)]
    groups: Vec<GroupFile>,
    /// Absent in summaries written before behaviour coverage.
    #[serde(default)]
    corners: Option<CornersFile>,
}

#[derive(Debug, Deserialize)]
struct CornersFile {
    counts: BTreeMap<String, u64>,
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
    /// The behaviour corners no campaign of the folder reached (absent if no summary
    /// counted corners).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corners_at_zero: Option<Vec<crate::coverage::NeverReached>>,
    /// Groups whose case file could not be read (`eradiff report` then exits 2).
    #[serde(skip)]
    pub unreadable_cases: usize,
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

/// Whether a file name is a campaign's summary: `summary.json`, or `summary-<pid>.json` when
/// campaigns shared the folder.
fn is_summary(name: &str) -> bool {
    name == "summary.json" || (name.starts_with("summary-") && name.ends_with(".json"))
}

/// The summaries and the group folders (those holding an `explanation.json`) under `dir`;
/// hidden folders (a campaign's working folder) are skipped.
fn walk(dir: &Path, summaries: &mut Vec<PathBuf>, groups: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if path.is_dir() {
            if !name.starts_with('.') {
                walk(&path, summaries, groups);
            }
        } else if is_summary(&name) {
            summaries.push(path);
        } else if name == "explanation.json" {
            groups.push(dir.to_path_buf());
        }
    }
}

/// A case path from a summary: relative to the summary's folder (or, in summaries written
/// before that rule, to where the campaign ran).
fn resolve(summary_dir: &Path, case: &str) -> PathBuf {
    let relative = summary_dir.join(case);
    if Path::new(case).is_relative() && relative.exists() {
        relative
    } else {
        PathBuf::from(case)
    }
}

/// A group folder no summary lists (a campaign killed before writing its summary): its
/// signature from `explanation.json`, its first case file (by name), and one hit per case.
fn orphan_group(dir: &Path) -> Option<(String, u64, String)> {
    #[derive(Deserialize)]
    struct Signature {
        signature: String,
    }
    let text = std::fs::read_to_string(dir.join("explanation.json")).ok()?;
    let signature = serde_json::from_str::<Signature>(&text).ok()?.signature;
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    !n.starts_with('.') && n != "explanation.json" && n != "minimized.json"
                })
        })
        .collect();
    cases.sort();
    let first = cases.first()?.display().to_string();
    Some((signature, cases.len() as u64, first))
}

/// The target named for groups found in folders that no summary lists.
pub const NO_SUMMARY: &str = "(no summary)";

/// Builds the report of a findings folder: every summary under it, and every group folder
/// none of them lists.
pub fn collect(dir: &Path) -> Result<Report, ReportError> {
    if !dir.is_dir() {
        return Err(ReportError::Read {
            path: dir.display().to_string(),
            message: "not a folder".into(),
        });
    }
    let mut files = Vec::new();
    let mut group_dirs = Vec::new();
    walk(dir, &mut files, &mut group_dirs);
    files.sort();
    group_dirs.sort();
    if files.is_empty() && group_dirs.is_empty() {
        return Err(ReportError::Empty(dir.display().to_string()));
    }
    let known = KnownDivergences::shipped();
    let mut executions = 0;
    let mut targets: Vec<String> = Vec::new();
    // signature -> (count, targets, first case)
    let mut merged: BTreeMap<String, (u64, Vec<String>, String)> = BTreeMap::new();
    // The group folders the summaries list.
    let mut listed: Vec<Option<PathBuf>> = Vec::new();
    let mut corners: Option<BTreeMap<String, u64>> = None;
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
        if let Some(c) = &summary.corners {
            let total = corners.get_or_insert_with(BTreeMap::new);
            for (name, n) in &c.counts {
                *total.entry(name.clone()).or_default() += n;
            }
        }
        let target = summary.target.to_lowercase();
        if !targets.contains(&target) {
            targets.push(target.clone());
        }
        let summary_dir = file.parent().unwrap_or(Path::new("."));
        for g in summary.groups {
            let case = resolve(summary_dir, &g.case).display().to_string();
            listed.push(Path::new(&case).parent().map(Path::to_path_buf));
            let entry = merged
                .entry(g.signature)
                .or_insert_with(|| (0, Vec::new(), case));
            entry.0 += g.count;
            if !entry.1.contains(&target) {
                entry.1.push(target.clone());
            }
        }
    }
    // Findings no summary lists: the report works from the findings alone.
    let listed: Vec<PathBuf> = listed
        .into_iter()
        .flatten()
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    for group_dir in &group_dirs {
        if group_dir.canonicalize().is_ok_and(|d| listed.contains(&d)) {
            continue;
        }
        let Some((signature, count, case)) = orphan_group(group_dir) else {
            continue;
        };
        let target = NO_SUMMARY.to_string();
        if !targets.contains(&target) {
            targets.push(target.clone());
        }
        let entry = merged
            .entry(signature)
            .or_insert_with(|| (0, Vec::new(), case));
        entry.0 += count;
        if !entry.1.contains(&target) {
            entry.1.push(target);
        }
    }
    let mut groups = Vec::new();
    let mut unreadable_cases = 0;
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
            Err(e) => {
                unreadable_cases += 1;
                (None, None, format!("# {signature}\n\n{e}\n"), 0)
            }
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
        new_groups: groups
            .iter()
            .filter(|g| {
                g.known.is_none() && crate::differential::reference_at_fault(&g.signature).is_none()
            })
            .count(),
        corners_at_zero: corners.map(|c| crate::coverage::at_zero(&c)),
        groups,
        unreadable_cases,
    })
}

/// The report as text in the given format, and how many groups' cases could not be read.
pub fn report(dir: &Path, format: ReportFormat) -> Result<(String, usize), ReportError> {
    let report = collect(dir)?;
    let text = match format {
        ReportFormat::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        ReportFormat::Md => markdown(&report),
    };
    Ok((text, report.unreadable_cases))
}

/// The Markdown report: a table of groups, then one section each.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# eradiff divergence report\n");
    let _ = writeln!(
        out,
        "{} executions on {}; {} signatures, {} new against eravm.\n",
        report.executions,
        report.targets.join(", "),
        report.groups.len(),
        report.new_groups
    );
    if let Some(zero) = &report.corners_at_zero {
        let _ = writeln!(
            out,
            "Behaviour corners no campaign reached: {}.\n",
            zero.len()
        );
        for n in zero {
            let why = n
                .unreachable
                .map(|w| format!(" (out of the protocol's reach: {w})"))
                .unwrap_or_default();
            let _ = writeln!(out, "- `{}`{why}", n.corner);
        }
        let _ = writeln!(out);
    }
    if report.groups.is_empty() {
        let _ = writeln!(out, "No divergences: the backends agreed on every case.");
        return out;
    }
    let _ = writeln!(
        out,
        "| signature | count | targets | instructions | status |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for g in &report.groups {
        let status = match (
            &g.known,
            crate::differential::reference_at_fault(&g.signature),
        ) {
            (Some(_), _) => "known".to_string(),
            (None, Some(reference)) => format!("in {reference}"),
            (None, None) => "**new**".to_string(),
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
