//! Case files: round trip, and errors that name the field.

use eradiff::asm::{op, Program};
use eradiff::case::{Case, CaseError};
use eravm::Opcode;

fn error_field(json: &str) -> String {
    match Case::from_json(json) {
        Err(CaseError::Field { field, .. }) => field,
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn a_case_round_trips_through_json() {
    let case = Program::new()
        .push(op(Opcode::Add).imm(7).dst(1))
        .push(op(Opcode::RetOk))
        .calldata(&[1, 2, 3])
        .case(1234);
    let back = Case::from_json(&case.to_json()).expect("parses");
    assert_eq!(back, case);
}

#[test]
fn errors_name_the_field() {
    let good = Program::new().push(op(Opcode::RetOk)).case(100).to_json();
    let v: serde_json::Value = serde_json::from_str(&good).unwrap();

    let mut bad = v.clone();
    bad["code"][0] = "0xzz".into();
    assert_eq!(error_field(&bad.to_string()), "code[0]");

    let mut bad = v.clone();
    bad["ergs"] = "lots".into();
    assert_eq!(error_field(&bad.to_string()), "ergs");

    let mut bad = v.clone();
    bad["registers"] = serde_json::json!([{ "index": 16, "value": "0x1" }]);
    assert_eq!(error_field(&bad.to_string()), "registers[0].index");

    let mut bad = v.clone();
    bad["frame"] = serde_json::json!({ "heap_bound": -1 });
    assert_eq!(error_field(&bad.to_string()), "frame.heap_bound");

    let mut bad = v.clone();
    bad["version"] = 99.into();
    assert_eq!(error_field(&bad.to_string()), "version");

    let mut bad = v.clone();
    bad["surprise"] = 1.into();
    assert_eq!(error_field(&bad.to_string()), "surprise");

    let mut bad = v;
    bad.as_object_mut().unwrap().remove("max_cycles");
    assert_eq!(error_field(&bad.to_string()), "(top level)");
}
