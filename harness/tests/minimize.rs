//! The minimiser shrinks a long divergent program to the few instructions that matter.

use eradiff::differential::Judge;
use eradiff::generator::{generate_seeded, Settings};
use eradiff::minimize::{instruction_count, minimize, signature_of};
use eravm::faults::{with_fault, Fault};

#[test]
fn a_200_instruction_case_shrinks_to_under_10() {
    with_fault(Fault::AddOffByOne, || {
        let settings = Settings {
            min_instructions: 200,
            max_instructions: 200,
            max_cycles: 4_000,
            ..Settings::default()
        };
        let case = (0..500)
            .map(|i| generate_seeded(3, i, &settings))
            .find(|c| instruction_count(c) >= 200 && signature_of(&Judge::default(), c).is_some())
            .expect("some 200-instruction case shows the bug");
        let minimized = minimize(&Judge::default(), &case, 3_000).expect("the case disagrees");
        eprintln!(
            "minimised {} -> {} instructions in {} reruns",
            minimized.instructions_before, minimized.instructions_after, minimized.reruns
        );
        assert!(minimized.instructions_before >= 200);
        assert!(
            minimized.instructions_after < 10,
            "{} instructions left:\n{}",
            minimized.instructions_after,
            eradiff::disasm::disassemble(&minimized.case)
        );
        assert_eq!(
            signature_of(&Judge::default(), &minimized.case),
            Some(minimized.signature.clone())
        );
    });
}
