//! Cases may start with any of LT, EQ and GT set; both VMs honour them.

mod common;

use eradiff::asm::{op, Program};
use eradiff::case::{Case, InitialFlags};
use eravm::{Condition, Opcode, TaggedWord, U256};

/// Writes 7 to heap word 0 under `condition`, then returns.
fn conditional_write(condition: Condition, flags: InitialFlags) -> Case {
    let mut case = Program::new()
        .register(1, TaggedWord::integer(U256::from(7)))
        .push(op(Opcode::HeapWrite).imm(0).src1(1).when(condition))
        .push(op(Opcode::RetOk))
        .case(10_000);
    case.flags = flags;
    case
}

#[test]
fn both_vms_start_with_the_cases_flags() {
    for bits in 0..8u8 {
        let flags = InitialFlags {
            lt: bits & 1 != 0,
            eq: bits & 2 != 0,
            gt: bits & 4 != 0,
        };
        for (condition, holds) in [
            (Condition::Lt, flags.lt),
            (Condition::Eq, flags.eq),
            (Condition::Gt, flags.gt),
            (Condition::Ne, !flags.eq),
        ] {
            let run = common::agree(&conditional_write(condition, flags));
            let written = run
                .state
                .heap
                .iter()
                .any(|(w, v)| *w == 0 && v.value == 7.into());
            assert_eq!(written, holds, "{condition:?} with {flags:?}");
        }
    }
}

#[test]
fn flags_round_trip_and_default_to_clear() {
    let set = InitialFlags {
        lt: true,
        eq: false,
        gt: true,
    };
    let case = conditional_write(Condition::Always, set);
    let json = case.to_json();
    assert!(json.contains("\"flags\""), "{json}");
    assert_eq!(Case::from_json(&json).unwrap().flags, set);

    let clear = conditional_write(Condition::Always, InitialFlags::default()).to_json();
    assert!(
        !clear.contains("\"flags\""),
        "clear flags are not written: {clear}"
    );
    assert_eq!(
        Case::from_json(&clear).unwrap().flags,
        InitialFlags::default()
    );

    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["flags"]["of"] = true.into();
    assert!(
        Case::from_json(&v.to_string()).is_err(),
        "unknown flag names are errors"
    );
}

#[test]
fn the_opcodes_generator_sets_flags_sometimes() {
    use eradiff::generator::{generate_seeded_for, Settings, Target};
    let cases: Vec<Case> = (0..200)
        .map(|i| generate_seeded_for(Target::Opcodes, 1, i, &Settings::default()))
        .collect();
    let with_flags = cases.iter().filter(|c| !c.flags.is_clear()).count();
    assert!(
        (20..=100).contains(&with_flags),
        "{with_flags} of 200 start with flags"
    );
    for flag in [
        |f: &InitialFlags| f.lt,
        |f: &InitialFlags| f.eq,
        |f: &InitialFlags| f.gt,
    ] {
        assert!(
            cases.iter().any(|c| flag(&c.flags)),
            "every flag is set in some case"
        );
    }
}
