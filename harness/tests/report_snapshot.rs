//! The divergence report format, pinned with insta: a deliberate bug in eravm's `add`, on a
//! three-instruction program.

use eradiff::asm::{op, Program};
use eradiff::backend::{EraVm, ZkEvm};
use eradiff::differential::{check, explain, Verdict};
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
    let report = with_fault(Fault::AddOffByOne, || match check(&case, &EraVm, &ZkEvm) {
        Verdict::Disagree(finding) => {
            let explanation = explain(&case, &EraVm, &ZkEvm, finding);
            assert_eq!(explanation.signature, "registers@add");
            finding_markdown(&case, &explanation, Some("corpus/opcodes/example.json"))
        }
        Verdict::Agree(_) => panic!("the injected bug must show"),
    });
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("divergence_report", report);
    });
}

use Opcode::Add;
