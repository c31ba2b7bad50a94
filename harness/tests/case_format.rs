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

    for required in ["version", "max_cycles", "code", "ergs"] {
        let mut bad = v.clone();
        bad.as_object_mut().unwrap().remove(required);
        assert_eq!(error_field(&bad.to_string()), required);
    }
}

fn error(json: &str) -> (String, String) {
    match Case::from_json(json) {
        Err(CaseError::Field { field, message }) => (field, message),
        other => panic!("expected a field error, got {other:?}"),
    }
}

fn good_case() -> serde_json::Value {
    let good = Program::new().push(op(Opcode::RetOk)).case(100).to_json();
    serde_json::from_str(&good).unwrap()
}

#[test]
fn text_after_the_json_object_is_an_error() {
    let text = good_case().to_string();
    assert!(
        Case::from_json(&format!("{text}\n\t ")).is_ok(),
        "white space may follow"
    );
    for tail in ["x", "{}", "\n{\"version\": 3}", ","] {
        let (field, message) = error(&format!("{text}{tail}"));
        assert_eq!(field, "(top level)", "{tail:?}");
        assert!(message.contains("text after"), "{message}");
    }
}

#[test]
fn two_contracts_at_one_address_are_an_error() {
    let mut v = good_case();
    v["world"] = serde_json::json!({ "contracts": [
        { "address": "0x10000", "code": ["0x1"] },
        { "address": "0x20000", "code": ["0x2"] },
        { "address": "0x0000000000000000000000000000000000010000", "code": ["0x3"] },
    ]});
    let (field, message) = error(&v.to_string());
    assert_eq!(field, "world.contracts[2].address");
    assert!(
        message.contains("0x0000000000000000000000000000000000010000")
            && message.contains("world.contracts[0]"),
        "{message}"
    );
}

#[test]
fn hex_fields_need_the_0x_prefix_and_take_no_numbers() {
    let v = good_case();
    let mut bad = v.clone();
    bad["registers"] = serde_json::json!([{ "index": 1, "value": "1234" }]);
    let (field, message) = error(&bad.to_string());
    assert_eq!(field, "registers[0].value");
    assert!(
        message.contains("0x") && message.contains("\"1234\""),
        "{message}"
    );

    let mut bad = v.clone();
    bad["registers"] = serde_json::json!([{ "index": 1, "value": 1234 }]);
    let (field, message) = error(&bad.to_string());
    assert_eq!(field, "registers[0].value");
    assert!(
        message.contains("JSON number 1234") && message.contains("0x4d2"),
        "{message}"
    );

    let mut bad = v.clone();
    bad["calldata"] = "0102".into();
    assert_eq!(error(&bad.to_string()).0, "calldata");

    let mut bad = v.clone();
    bad["frame"] = serde_json::json!({ "address": "8001" });
    assert_eq!(error(&bad.to_string()).0, "frame.address");

    let mut bad = v.clone();
    bad["code"][0] = "0X1".into();
    assert_eq!(error(&bad.to_string()).0, "code[0]");

    let mut good = v;
    good["registers"] = serde_json::json!([{ "index": 1, "value": "0x1234" }]);
    let case = Case::from_json(&good.to_string()).expect("0x-prefixed hex parses");
    assert_eq!(case.registers[0].value.0, 0x1234.into());
}

#[test]
fn a_batch_beyond_the_bootloaders_room_is_an_input_error() {
    let tx = serde_json::json!({ "to": "0x10000", "gas_limit": 1000 });
    let mut v = good_case();
    v["batch"] = serde_json::json!({ "transactions": vec![tx.clone(); 10_001] });
    let (field, message) = error(&v.to_string());
    assert_eq!(field, "batch.transactions[10000]");
    assert!(message.contains("10000 transactions"), "{message}");

    // Calldata too large for the data area: the first transaction that does not fit.
    let big = serde_json::json!({ "to": "0x10000", "gas_limit": 1000,
                                  "calldata": format!("0x{}", "00".repeat(6_000_000)) });
    v["batch"] = serde_json::json!({ "transactions": [tx.clone(), big.clone(), big] });
    assert_eq!(error(&v.to_string()).0, "batch.transactions[2]");

    // Rolled-back transactions free their room: as many as wanted fit.
    let rolled = serde_json::json!({ "to": "0x10000", "gas_limit": 1000, "rollback": true });
    v["batch"] = serde_json::json!({ "transactions": vec![rolled; 10_001] });
    assert!(Case::from_json(&v.to_string()).is_ok());
}

/// A case file is read to a limit, not to the end of memory: `/dev/zero` is an input error.
#[test]
fn a_case_file_is_read_to_a_limit() {
    let zero = std::path::Path::new("/dev/zero");
    if !zero.exists() {
        println!("SKIPPED: this system has no /dev/zero");
        return;
    }
    let err = Case::load(zero).expect_err("an endless file is refused");
    assert!(matches!(err, CaseError::TooLarge { .. }), "{err}");
}
