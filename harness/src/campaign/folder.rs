//! The campaign's findings folder: each disagreeing case written first, then explained,
//! minimised and filed under its signature (the layout `crate::findings` reads back).
//! It stays here rather than in `crate::findings` because it files this module's
//! [`FindingGroup`]s and [`Summary`], and `findings` (which `campaign` uses) must not use
//! `campaign`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{FindingGroup, Summary};
use crate::case::Case;
use crate::differential::{Explanation, Finding, Judge, Verdict};
use crate::findings::write_atomic;
use crate::known::KnownDivergences;
use crate::report::finding_markdown;

/// Reruns spent minimising each new finding.
const MINIMIZE_BUDGET: usize = 1_500;

/// Generated cases kept on disk per campaign when they break the case format's rules.
const GENERATOR_DEFECTS_KEPT: u64 = 10;
/// The folder (under the findings folder) for generated cases that are input errors.
pub const GENERATOR_DEFECTS_DIR: &str = "generator-defects";

/// The campaign's findings folder.
///
/// Every file is written atomically ([`write_atomic`]). A case is first written to this
/// campaign's own working folder (`DIR/.work-<pid>-<time>/`, so that campaigns sharing `DIR`
/// never touch each other's), then moved into its group's folder, which campaigns may share:
/// the case files are named by their hash, and the reports are replaced whole.
pub(super) struct Findings {
    judge: Judge<'static>,
    dir: PathBuf,
    work: PathBuf,
    pub(super) groups: BTreeMap<String, FindingGroup>,
    pub(super) generator_defects: u64,
}

impl Findings {
    pub(super) fn new(judge: Judge<'static>, dir: &Path) -> io::Result<Findings> {
        // Unique per campaign: the process, the time, and a count within the process.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        fs::create_dir_all(dir)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
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
    pub(super) fn generator_defect(
        &mut self,
        case: &Case,
        error: &crate::case::CaseError,
    ) -> io::Result<()> {
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
    pub(super) fn finish(self, summary: &Summary) -> io::Result<PathBuf> {
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
    pub(super) fn record(
        &mut self,
        case: &Case,
        iteration: u64,
        finding: Finding,
        known: &KnownDivergences,
    ) -> io::Result<bool> {
        let incoming = write_incoming(&self.work, case)?;
        let explanation = self.judge.explain(case, finding);
        match self.file(case, iteration, &explanation, incoming, known)? {
            Some(group) => {
                group.shrink(&self.judge, case)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The folder where cases wait, written whole, until they are filed.
    pub(super) fn work_dir(&self) -> PathBuf {
        self.work.clone()
    }

    /// Files an explained case written to the working folder: counted in its group, or the
    /// first of a new one (its case, report and explanation written). A new group is
    /// returned to be shrunk ([`NewGroup::shrink`]), which needs no lock on the folder.
    pub(super) fn file(
        &mut self,
        case: &Case,
        iteration: u64,
        explanation: &Explanation,
        incoming: Incoming,
        known: &KnownDivergences,
    ) -> io::Result<Option<NewGroup>> {
        let Incoming {
            path: incoming,
            hash,
        } = incoming;
        if let Some(group) = self.groups.get_mut(&explanation.signature) {
            group.count += 1;
            fs::remove_file(&incoming)?;
            return Ok(None);
        }
        let slug = slug(&explanation.signature);
        let group_dir = self.dir.join(&slug);
        fs::create_dir_all(&group_dir)?;
        let case_path = group_dir.join(format!("{hash}.json"));
        fs::rename(&incoming, &case_path)?;
        let report_path = group_dir.join("report.md");
        let report = finding_markdown(case, explanation, Some(&case_path.display().to_string()));
        write_atomic(&report_path, report)?;
        write_atomic(
            &group_dir.join("explanation.json"),
            serde_json::to_string_pretty(explanation).unwrap_or_default(),
        )?;
        self.groups.insert(
            explanation.signature.clone(),
            FindingGroup {
                known: known.reason(&explanation.signature).map(str::to_string),
                signature: explanation.signature.clone(),
                count: 1,
                case: format!("{slug}/{hash}.json"),
                report: format!("{slug}/report.md"),
                first_iteration: iteration,
            },
        );
        Ok(Some(NewGroup {
            group_dir,
            case_path,
            report_path,
        }))
    }
}

/// The first case of a new group, filed and reported, still to be shrunk.
pub(super) struct NewGroup {
    group_dir: PathBuf,
    case_path: PathBuf,
    report_path: PathBuf,
}

impl NewGroup {
    /// Shrinks the case while its signature stays the same, and reports the smallest.
    pub(super) fn shrink(self, judge: &Judge, case: &Case) -> io::Result<()> {
        let Some(m) = crate::minimize::minimize(judge, case, MINIMIZE_BUDGET) else {
            return Ok(());
        };
        let min_path = self.group_dir.join("minimized.json");
        write_atomic(&min_path, m.case.to_json())?;
        if let Verdict::Disagree(f) = judge.check(&m.case) {
            let e = judge.explain(&m.case, f);
            let mut text = finding_markdown(&m.case, &e, Some(&min_path.display().to_string()));
            let _ = writeln!(
                text,
                "\nMinimised {}; {}. The case as found is `{}`.",
                m.sizes(),
                m.first_difference_line(),
                self.case_path.display()
            );
            write_atomic(&self.report_path, text)?;
        }
        Ok(())
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

/// A case written whole to a campaign's working folder, before anything else is done with it.
pub(super) struct Incoming {
    path: PathBuf,
    hash: String,
}

/// Writes `case` into the working folder `work` (atomically: a kill leaves it whole or
/// absent).
pub(super) fn write_incoming(work: &Path, case: &Case) -> io::Result<Incoming> {
    let json = case.to_json();
    let hash = case_hash(&json);
    let path = work.join(format!("{hash}.json"));
    write_atomic(&path, &json)?;
    Ok(Incoming { path, hash })
}
