//! EraVM assembly (`.zasm`) as case input: a hand-written program runs alike on every VM,
//! its header sets the case's fields, and what the assembler would silently drop or reject
//! is an input error naming the line.

mod common;

use std::path::Path;

use eradiff::case::{Case, CaseError};
use eradiff::observe::RunEnd;
use eradiff::zasm::case_from_zasm;
use eravm::U256;

const STORE_SLOT_ZERO: &str = "
; eradiff: ergs = 100000
    .text
__entry:
    add 5, r0, r1      ; the value
    sstore r0, r1      ; slot 0
    ret.ok r0
";

/// A program without a header.
const BODY: &str = "
    .text
__entry:
    add 5, r0, r1      ; the value
    sstore r0, r1      ; slot 0
    ret.ok r0
";

fn field_error(text: &str) -> (String, String) {
    match case_from_zasm(text) {
        Err(CaseError::Field { field, message }) => (field, message),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn a_hand_written_program_stores_to_slot_zero_on_every_vm() {
    let case = case_from_zasm(STORE_SLOT_ZERO).unwrap();
    assert_eq!(case.ergs, 100_000, "the header sets ergs");
    let run = common::agree(&case);
    assert_eq!(run.state.end, RunEnd::Ok);
    let slots: Vec<_> = run
        .state
        .world
        .storage
        .iter()
        .map(|s| (s.key, s.value))
        .collect();
    assert_eq!(slots, [(U256::zero(), U256::from(5))]);
}

#[test]
fn the_header_is_read_as_case_fields_with_their_errors() {
    let case = case_from_zasm(&format!(
        "; eradiff: frame = {{\"is_static\": true}}\n; eradiff: note = \"mine\"\n{BODY}"
    ))
    .unwrap();
    assert!(case.frame.is_static);
    assert_eq!(case.note, "mine");
    assert_eq!(case.max_cycles, eradiff::case::DEFAULT_MAX_CYCLES);

    let (field, message) = field_error(&format!("; eradiff: ergs = lots\n{BODY}"));
    assert_eq!(field, "header line 1");
    assert!(message.contains("not JSON"), "{message}");
    let (field, _) = field_error(&format!("; eradiff: ergs = 1\n; eradiff: ergs = 2\n{BODY}"));
    assert_eq!(field, "header line 2");
    let (field, _) = field_error(&format!("; eradiff: code = []\n{BODY}"));
    assert_eq!(field, "header line 1");
    let (field, _) = field_error(&format!("; eradiff: ergs = \"many\"\n{BODY}"));
    assert_eq!(
        field, "ergs",
        "a wrong value is named by its field, as in a case file"
    );
    let (field, _) = field_error(&format!("; eradiff: colour = 1\n{BODY}"));
    assert_eq!(field, "colour", "an unknown field is named");
}

#[test]
fn what_the_assembler_would_drop_or_reject_is_an_input_error() {
    // zkevm-assembly reads nothing of a text section without a label: left alone, this
    // program would assemble to its landing pads only and "run" without a word said.
    let (field, message) = field_error("    .text\n    add 1, r0, r1\n    ret.ok r0\n");
    assert_eq!(field, "code");
    assert!(
        message.contains("line 2: `add 1, r0, r1` was not assembled"),
        "{message}"
    );
    let (_, message) = field_error("; eradiff: ergs = 5\n\n    .text\n    ret.ok r0\n");
    assert!(
        message.contains("line 4:"),
        "lines are numbered as in the file: {message}"
    );
    let (_, message) = field_error("nothing here\n");
    assert!(message.contains("no instructions"), "{message}");
    let (_, message) = field_error("    .text\n__entry:\n    frobnicate r1\n");
    assert!(message.contains("frobnicate"), "{message}");
}

#[test]
fn zasm_files_load_by_their_extension() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/zasm");
    let mut loaded = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        assert!(eradiff::case::is_case_file(&path), "{}", path.display());
        let case = Case::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            !case.note.is_empty(),
            "{}: say what the case is for",
            path.display()
        );
        loaded += 1;
    }
    assert!(loaded >= 10, "corpus/zasm holds {loaded} programs");
}
