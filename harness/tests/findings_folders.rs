//! Findings folders under faults: atomic files, reports without a summary, campaigns sharing
//! a folder, paths that work from elsewhere, generator defects counted apart.

use std::path::{Path, PathBuf};

use eradiff::asm::{op, Program};
use eradiff::campaign::{self, Budget, CampaignConfig, Summary, Target};
use eradiff::case::Case;
use eradiff::findings::{self, write_atomic, ReportFormat};
use eradiff::generator::Settings;
use eradiff::known::KnownDivergences;
use eravm::faults::{with_fault, Fault};
use eravm::{Opcode, TaggedWord, U256};

fn fresh(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A case `add` decides: diverges under [`Fault::AddOffByOne`].
fn adding(iteration: u64) -> Case {
    Program::new()
        .register(2, TaggedWord::integer(U256::from(40 + iteration)))
        .push(op(Opcode::Add).imm(2).src1(2).dst(3))
        .push(op(Opcode::RetOk))
        .case(10_000)
}

fn config(out: &Path, iterations: u64) -> CampaignConfig {
    CampaignConfig {
        judge: eradiff::differential::Judge::default(),
        target: Target::Opcodes,
        seed: 1,
        budget: Budget::Iterations(iterations),
        out: out.to_path_buf(),
        show_progress: false,
        settings: Settings::default(),
        jobs: 1,
    }
}

fn broken_campaign(out: &Path, iterations: u64) -> Summary {
    with_fault(Fault::AddOffByOne, || {
        campaign::run_with(
            &config(out, iterations),
            &KnownDivergences::shipped(),
            adding,
        )
        .expect("campaign runs")
    })
}

/// Every file under `dir`, hidden ones included.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn write_atomic_replaces_whole_and_leaves_no_temporary_file() {
    let dir = fresh("atomic");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("report.md");
    write_atomic(&path, "first").unwrap();
    write_atomic(&path, "second, longer").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "second, longer");
    assert_eq!(files(&dir), vec![path.clone()], "only the file itself");
    let missing = dir.join("no-such-folder/x.json");
    assert!(write_atomic(&missing, "x").is_err());
    assert_eq!(files(&dir), vec![path]);
}

#[test]
fn summary_paths_are_relative_to_its_folder_and_no_file_is_left_empty() {
    let out = fresh("relative");
    let summary = broken_campaign(&out, 3);
    assert_eq!(summary.groups.len(), 1);
    assert_eq!(summary.file, out.join("summary.json"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary.file).unwrap()).unwrap();
    let case = json["groups"][0]["case"].as_str().unwrap();
    assert!(
        Path::new(case).is_relative() && !case.contains("relative/"),
        "{case}"
    );
    assert!(out.join(case).is_file(), "{case} from the summary's folder");
    for f in files(&out) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            !name.starts_with('.'),
            "working files are gone: {}",
            f.display()
        );
        assert!(
            std::fs::metadata(&f).unwrap().len() > 0,
            "{} is empty",
            f.display()
        );
    }
}

#[test]
fn the_report_works_from_the_findings_alone() {
    let out = fresh("no-summary");
    broken_campaign(&out, 2);
    std::fs::remove_file(out.join("summary.json")).unwrap();
    let (json, unreadable) = with_fault(Fault::AddOffByOne, || {
        findings::report(&out, ReportFormat::Json).expect("a report")
    });
    assert_eq!(unreadable, 0);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["groups"][0]["signature"], "diverges@add");
    assert_eq!(report["new_groups"], 1);
    assert!(
        report["groups"][0]["finding"].is_object(),
        "the case was rerun: {json}"
    );
    assert!(findings::report(&fresh("empty-folder-missing"), ReportFormat::Md).is_err());
}

#[test]
fn two_campaigns_share_one_findings_folder() {
    let out = fresh("shared");
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| broken_campaign(&out, 40));
        let b = s.spawn(|| broken_campaign(&out, 40));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a.file, b.file, "neither summary replaces the other");
    assert!(a.file.is_file() && b.file.is_file());
    let (json, _) = findings::report(&out, ReportFormat::Json).unwrap();
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["executions"], 80);
    assert_eq!(
        report["groups"][0]["count"], 80,
        "both campaigns' hits: {json}"
    );
}

#[test]
fn generated_input_errors_are_generator_defects_not_findings() {
    let out = fresh("defects");
    let too_many = |iteration: u64| {
        let mut case = adding(iteration);
        if iteration % 2 == 1 {
            let tx = eradiff::case::Transaction {
                to: eradiff::case::Address(eravm::H160::from_low_u64_be(0x10000)),
                gas_limit: 1000,
                calldata: eradiff::case::Bytes(Vec::new()),
                rollback: false,
            };
            case.batch = Some(eradiff::case::Batch {
                blocks: Vec::new(),
                transactions: vec![tx; 10_001],
                mode: Default::default(),
                info: Default::default(),
            });
        }
        case
    };
    let summary = campaign::run_with(&config(&out, 6), &KnownDivergences::shipped(), too_many)
        .expect("campaign runs");
    assert_eq!(summary.generator_defects, 3);
    assert!(
        summary.groups.is_empty(),
        "no finding: {:?}",
        summary.groups
    );
    assert_eq!(files(&out.join(campaign::GENERATOR_DEFECTS_DIR)).len(), 3);
}

#[test]
fn triage_of_a_missing_folder_is_an_error_and_creates_nothing() {
    let dir = fresh("no-such-triage");
    assert!(campaign::triage(
        eradiff::differential::Judge::default(),
        &dir,
        Target::Opcodes,
        &KnownDivergences::shipped()
    )
    .is_err());
    assert!(!dir.exists());
}

/// Jobs share out the iterations in order: two jobs run the same cases as one, so a seed
/// repeats whatever the number of cores, and an injected bug reaches every job.
#[test]
fn two_jobs_run_the_same_cases_as_one() {
    let summary = |jobs: usize, out: &str| {
        let out = std::env::temp_dir().join(format!("eradiff-jobs-{}-{out}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let config = CampaignConfig {
            jobs,
            ..config(&out, 300)
        };
        with_fault(Fault::AddOffByOne, || {
            campaign::run(&config, &KnownDivergences::shipped()).expect("campaign runs")
        })
    };
    let (one, two) = (summary(1, "one"), summary(2, "two"));
    assert_eq!(one.executions, two.executions);
    assert_eq!(one.ends, two.ends);
    assert_eq!(one.agreement, two.agreement);
    assert_eq!(one.variant_counts, two.variant_counts);
    let signatures = |s: &Summary| {
        s.groups
            .iter()
            .map(|g| (g.signature.clone(), g.count))
            .collect::<Vec<_>>()
    };
    assert_eq!(signatures(&one), signatures(&two));
    assert!(
        !two.groups.is_empty(),
        "the injected bug is found by both jobs"
    );
}

/// Where the child campaign of the kill -9 test writes; set only in that child.
const KILLED_CAMPAIGN_OUT: &str = "ERADIFF_TEST_KILLED_CAMPAIGN_OUT";

/// The child of [`kill_9_at_twenty_moments_leaves_whole_files_and_a_report`]: an opcodes
/// campaign with an injected bug, long enough to be killed while it runs.
#[test]
#[ignore = "a child process of the kill -9 test, which runs it"]
fn killed_campaign_child() {
    let out = std::env::var_os(KILLED_CAMPAIGN_OUT).expect("run by the kill -9 test");
    with_fault(Fault::AddOffByOne, || {
        campaign::run(
            &config(Path::new(&out), 1_000_000),
            &KnownDivergences::shipped(),
        )
        .expect("campaign runs")
    });
    panic!("the campaign ended before it was killed");
}

/// kill -9 at twenty moments of a campaign that finds an injected bug: every file left is
/// whole (none empty, every JSON file parses, every report ends its last line), and
/// `eradiff report` works on each folder from what it holds.
#[test]
fn kill_9_at_twenty_moments_leaves_whole_files_and_a_report() {
    let exe = std::env::current_exe().unwrap();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut with_findings = 0;
    for k in 0..20 {
        let out = fresh(&format!("killed-{k}"));
        let mut child = std::process::Command::new(&exe)
            .args(["--ignored", "--exact", "killed_campaign_child"])
            .env(KILLED_CAMPAIGN_OUT, &out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // xorshift: moments spread over the first 1.5 s, the same on every run.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        std::thread::sleep(std::time::Duration::from_millis(50 + state % 1450));
        child.kill().unwrap(); // SIGKILL
        assert!(child.wait().unwrap().code().is_none(), "killed, not ended");
        if !out.exists() {
            continue;
        }
        for f in files(&out) {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue; // a working file, written whole or not at all by its rename
            }
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(!text.is_empty(), "kill {k}: {} is empty", f.display());
            if name.ends_with(".json") {
                serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap_or_else(|e| panic!("kill {k}: {} is cut: {e}", f.display()));
            }
            if name.ends_with(".md") {
                assert!(text.ends_with('\n'), "kill {k}: {} is cut", f.display());
            }
        }
        let (json, unreadable) = with_fault(Fault::AddOffByOne, || {
            findings::report(&out, ReportFormat::Json)
                .unwrap_or_else(|e| panic!("kill {k}: no report of {}: {e}", out.display()))
        });
        assert_eq!(unreadable, 0, "kill {k}: {json}");
        let report: serde_json::Value = serde_json::from_str(&json).unwrap();
        if report["groups"].as_array().is_some_and(|g| !g.is_empty()) {
            with_findings += 1;
        }
    }
    println!("{with_findings} of 20 killed campaigns had findings on disk");
    assert!(
        with_findings >= 10,
        "most kills came after the first finding: {with_findings}"
    );
}
