//! The divergence report format, pinned with insta: a deliberate bug in eravm's `add`, on a
//! three-instruction program.

use eradiff::asm::{op, Program};
use eradiff::differential::{Judge, Verdict};
use eradiff::report::finding_markdown;
use eravm::faults::{with_fault, Fault};
use eravm::{Opcode, TaggedWord, U256};

#[test]
fn divergence_report() {
    let case = Program::new()
        .register(2, TaggedWord::integer(U256::from(40)))
        .push(op(Add).imm(2).src1(2).dst(3))
        .push(op(Opcode::Sub).src0(3).src1(2).dst(4).m0())
        .push(op(Opcode::RetOk))
        .case(10_000);
    let report = add_bug_report(&case, "corpus/opcodes/example.json");
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("divergence_report", report);
    });
}

use Opcode::Add;

/// The report of `case` under a deliberate bug in eravm's `add`, which it must show.
fn add_bug_report(case: &eradiff::case::Case, path: &str) -> String {
    with_fault(Fault::AddOffByOne, || match Judge::default().check(case) {
        Verdict::Disagree(finding) => {
            let explanation = Judge::default().explain(case, finding);
            assert_eq!(explanation.signature, "diverges@add");
            finding_markdown(case, &explanation, Some(path))
        }
        _ => panic!("the injected bug must show"),
    })
}

/// The findings report, Markdown and JSON, of a short campaign against a deliberately
/// broken eravm: the bug must come out as one group with a minimised case.
#[test]
fn findings_report_formats() {
    use eradiff::campaign::{self, Budget, CampaignConfig, Target};
    use eradiff::findings::{self, ReportFormat};
    use eradiff::generator::Settings;
    use eradiff::known::KnownDivergences;

    let out = std::path::PathBuf::from("target/report-snapshot");
    let _ = std::fs::remove_dir_all(&out);
    let (md, json) = with_fault(Fault::AddOffByOne, || {
        let config = CampaignConfig {
            judge: Judge::default(),
            target: Target::Opcodes,
            seed: 1,
            budget: Budget::Iterations(300),
            out: out.clone(),
            show_progress: false,
            settings: Settings::default(),
            jobs: 1,
        };
        let summary = campaign::run(&config, &KnownDivergences::shipped()).expect("campaign runs");
        assert_eq!(
            summary.unexplained().count(),
            1,
            "one bug, one group against eravm"
        );
        (
            findings::report(&out, ReportFormat::Md).expect("report").0,
            findings::report(&out, ReportFormat::Json)
                .expect("report")
                .0,
        )
    });
    let report: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let groups = report["groups"].as_array().expect("groups");
    let ours = groups
        .iter()
        .find(|g| g["signature"] == "diverges@add")
        .expect("the injected bug's group");
    assert!(ours["instructions"].as_u64().unwrap() <= 3);
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("findings_report_md", md);
        insta::assert_snapshot!("findings_report_json", json);
    });
}

/// A batch report: the operator offers one more refund than the bootloader asked for. The
/// report names the transaction and hook where the operators' views part.
#[test]
fn batch_divergence_report() {
    use eradiff::generator::{generate_seeded_for, Settings, Target};
    let report = with_fault(Fault::RefundOffByOne, || {
        (0..100)
            .find_map(|i| {
                let case = generate_seeded_for(Target::Batches, 11, i, &Settings::default());
                match Judge::default().check(&case) {
                    Verdict::Disagree(finding) => Some((case, finding)),
                    _ => None,
                }
            })
            .map(|(case, finding)| {
                let explanation = Judge::default().explain(&case, finding);
                let batch = explanation.batch.clone().expect("a batch case");
                assert!(
                    batch.contains("AskOperatorForRefund") || batch.contains("NotifyAboutRefund"),
                    "{batch}"
                );
                finding_markdown(&case, &explanation, Some("corpus/batches/example.json"))
            })
            .expect("the injected bug must show")
    });
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("batch_divergence_report", report);
    });
}

/// A divergence inside a world contract: the report lists that contract's code, with its
/// address, around the step where the VMs part (not the case's top-level program).
#[test]
fn divergence_in_a_world_contract_lists_its_code() {
    use eradiff::generator::{generate_seeded_for, Settings, Target};
    let report = with_fault(Fault::WritesCostNoPubdata, || {
        (0..400)
            .find_map(|i| {
                let case = generate_seeded_for(Target::Calls, 11, i, &Settings::default());
                let Verdict::Disagree(finding) = Judge::default().check(&case) else {
                    return None;
                };
                let explanation = Judge::default().explain(&case, finding);
                let step = explanation.step.as_ref()?;
                let ran = step.left.as_ref()?;
                (ran.code_address != case.frame.address.0).then(|| {
                    finding_markdown(&case, &explanation, Some("corpus/calls/example.json"))
                })
            })
            .expect("the injected bug shows inside a world contract")
    });
    assert!(report.contains("(a contract of the world)"), "{report}");
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("divergence_in_a_world_contract", report);
    });
}

/// A divergence after a frame panicked: the report says why it panicked (eravm's reason).
#[test]
fn divergence_after_a_panic_says_why() {
    let case = eradiff::zasm::case_from_zasm(
        "    .text
__entry:
    near_call r0, @faulty, @back
back:
    add 2, r0, r3
    ret.ok r0
faulty:
    ld r0, r2
    ret.ok r0
",
    )
    .unwrap();
    let report = add_bug_report(&case, "corpus/zasm/example.zasm");
    assert!(
        report.contains("- cycle 3, depth 2: ld: the pointer operand is an integer"),
        "{report}"
    );
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("divergence_after_a_panic", report);
    });
}

/// The same, on a hand-written case: the top-level program far-calls the contract at 0xc000,
/// whose `add` is where eravm (under the `add` bug) parts from the others. The report lists
/// that contract's code around the `add`, with its address, not the top-level program's.
#[test]
fn divergence_in_a_called_contract_lists_that_contract() {
    use eradiff::case::{Address, Word};
    use eradiff::world::{Contract, World};
    let mut case = eradiff::zasm::case_from_zasm(
        "    .text
__entry:
    or 49152, r0, r2
    or 100000, r0, r1
    shl.s 192, r1, r1  ; 100000 ergs passed
    far_call r1, r2, @caught
    ret.ok r0
caught:
    ret.revert r0
",
    )
    .unwrap();
    let callee = eradiff::zasm::assemble(
        "    .text
__entry:
    or 7, r0, r4
    add 2, r4, r3
    ret.ok r0
",
    )
    .unwrap();
    case.world = Some(World {
        contracts: vec![Contract {
            address: Address(eravm::H160::from_low_u64_be(0xc000)),
            code: callee
                .iter()
                .map(|w| Word(U256::from_big_endian(w)))
                .collect(),
            constructing: false,
        }],
        ..World::default()
    });
    let report = add_bug_report(&case, "corpus/calls/called.json");
    assert!(
        report.contains(
            "Code around pc 1 of 0x000000000000000000000000000000000000c000 \
             (a contract of the world)"
        ),
        "{report}"
    );
    assert!(report.contains("=>     1"), "{report}");
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("divergence_in_a_called_contract", report);
    });
}
