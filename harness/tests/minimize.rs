//! The minimiser shrinks a long divergent program to the few instructions that matter.

use eradiff::differential::Judge;
use eradiff::generator::{generate_seeded, Settings};
use eradiff::minimize::{failure_of, instruction_count, minimize, signature_of};
use eradiff::report::finding_markdown;
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

/// `add 2, r0, stack+=[1]` then `add! r0, r0, r0`: under the `add` bug the first step to
/// differ is the first add (the word it pushes); without it the second still diverges at an
/// `add`, on the flags. That candidate keeps the signature but moves the first difference: it
/// must not be taken (a minimiser that looks at the signature only ends at the flags).
#[test]
fn the_minimised_case_keeps_the_first_difference_not_only_the_signature() {
    let case = eradiff::zasm::case_from_zasm(
        "    .text
__entry:
    add 2, r0, stack+=[1]
    add! r0, r0, r0
    ret.ok r0
",
    )
    .unwrap();
    with_fault(Fault::AddOffByOne, || {
        let judge = Judge::default();
        let as_given = failure_of(&judge, &case).expect("the add bug shows");
        assert_eq!(as_given.first_difference.field, "writes");
        assert_eq!(as_given.first_difference.instruction, "add");
        let without_first = {
            let mut c = case.clone();
            c.code[0].0 .0[3] = eravm::Instruction::nop().encode().unwrap();
            failure_of(&judge, &c).expect("the second add diverges too")
        };
        assert_eq!(without_first.signature, as_given.signature);
        assert_ne!(without_first.first_difference, as_given.first_difference);

        let minimized = minimize(&judge, &case, 500).expect("the case disagrees");
        assert_eq!(minimized.first_difference, as_given.first_difference);
        assert_eq!(minimized.first_difference_moved, None);
        assert_eq!(failure_of(&judge, &minimized.case), Some(as_given));
    });
}

/// A contract that stores its first calldata word (slot 0 of its own storage): what most
/// of the batch's transactions call, and where the heap bug never shows.
const FILLER: &str = "    .text
__entry:
    ld r1, r2
    sstore r0, r2
    ret.ok r0
";

/// A contract that keeps its first calldata word (slot 0) for the next transaction, and
/// writes the heap at 2 MB times what the previous one left there: past its first 2 MB of
/// heap, growing it, only if the transaction before left a nonzero word. Under the
/// free-heap-growth bug only a call after one with a nonzero word diverges, and no edit of
/// this code alone makes a single call diverge.
const ARM_AND_FIRE: &str = "    .text
__entry:
    ld r1, r2
    sload r0, r4
    sstore r0, r2
    shl.s 21, r4, r5
    st.1 r5, r4
    ret.ok r0
";

const FILLER_AT: u64 = 0xa000;
const ARM_AND_FIRE_AT: u64 = 0xb000;

/// Fifty transactions for our bootloader: the contract at 0xb000 is called at 5 and 37 with
/// a zero word and at 12 with a one (so 37 grows its heap); every other one calls the filler.
fn fifty_transactions() -> eradiff::case::Case {
    use eradiff::case::{Address, Batch, Bytes, Transaction, Word};
    use eradiff::world::{Contract, World};
    let contract = |at: u64, text: &str| Contract {
        address: Address(eravm::H160::from_low_u64_be(at)),
        code: eradiff::zasm::assemble(text)
            .expect("the contract assembles")
            .iter()
            .map(|w| Word(eravm::U256::from_big_endian(w)))
            .collect(),
        constructing: false,
    };
    let tx = |i: usize| {
        let (to, first) = match i {
            5 | 37 => (ARM_AND_FIRE_AT, 0),
            12 => (ARM_AND_FIRE_AT, 1),
            _ => (FILLER_AT, i as u8 + 1),
        };
        let mut calldata = vec![0; 32];
        calldata[31] = first;
        Transaction {
            to: Address(eravm::H160::from_low_u64_be(to)),
            gas_limit: 1_000_000,
            calldata: Bytes(calldata),
            rollback: false,
        }
    };
    let mut case = eradiff::asm::Program::new().case(u32::MAX);
    case.code = eravm::operator::bootloader::program()
        .into_iter()
        .map(Word)
        .collect();
    case.max_cycles = 200_000;
    case.world = Some(World {
        contracts: vec![
            contract(FILLER_AT, FILLER),
            contract(ARM_AND_FIRE_AT, ARM_AND_FIRE),
        ],
        ..World::default()
    });
    case.batch = Some(Batch {
        transactions: (0..50).map(tx).collect(),
        blocks: Vec::new(),
        mode: Default::default(),
        info: Default::default(),
    });
    case.validate().expect("a valid case");
    case
}

/// The batch minimised to the transactions that matter: the arm and a fire after it. The
/// snapshot holds what the minimiser says, the transactions left, and the report of the
/// smallest case.
#[test]
fn a_batch_of_50_transactions_shrinks_to_the_two_that_matter() {
    let case = fifty_transactions();
    let (minimized, report) = with_fault(Fault::FreeHeapGrowth, || {
        let judge = Judge::default();
        let as_given = failure_of(&judge, &case).expect("the heap bug shows");
        let minimized = minimize(&judge, &case, 400).expect("the case disagrees");
        assert_eq!(failure_of(&judge, &minimized.case), Some(as_given));
        let report = match judge.check(&minimized.case) {
            eradiff::differential::Verdict::Disagree(f) => {
                let e = judge.explain(&minimized.case, f);
                finding_markdown(&minimized.case, &e, Some("minimized.json"))
            }
            other => panic!("the smallest case must still disagree: {other:?}"),
        };
        (minimized, report)
    });
    eprintln!("{}", minimized.summary());
    let kept = &minimized.case.batch.as_ref().expect("a batch").transactions;
    let first_words: Vec<(u64, u8)> = kept
        .iter()
        .map(|t| (t.to.0.to_low_u64_be(), t.calldata.0[31]))
        .collect();
    assert_eq!(minimized.transactions_before, 50);
    assert_eq!(
        first_words,
        [(ARM_AND_FIRE_AT, 1), (ARM_AND_FIRE_AT, 0)],
        "the arm, then a fire"
    );
    assert_eq!(minimized.first_difference_moved, None);
    let kept_lines: Vec<String> = kept
        .iter()
        .map(|t| {
            format!(
                "- to {:#x}, calldata {}",
                t.to.0,
                hex::encode(&t.calldata.0)
            )
        })
        .collect();
    let text = format!(
        "{}\n\nTransactions left:\n{}\n\n{report}",
        minimized.summary(),
        kept_lines.join("\n")
    );
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("batch_minimised_from_50_transactions", text);
    });
}
