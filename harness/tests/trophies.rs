//! Replays `corpus/trophies/`: cases where zk_evm and vm2 disagree (see its README). Each must
//! still give its signature, with the same reference the odd one out and eravm agreeing with
//! the other, so that a fix in either reference shows here.

use std::path::Path;

use eradiff::case::Case;
use eradiff::differential::{reference_at_fault, Finding, Judge, Verdict};

/// Each trophy and the signature it gives.
const TROPHIES: [(&str, &str); 9] = [
    ("dst1-cleared-sub", "vm2:diverges@sub"),
    ("dst1-cleared-near-call", "vm2:diverges@near_call"),
    ("faulting-ptr-pack-moves-sp", "vm2:diverges@ptr.pack"),
    ("event-outside-event-writer", "vm2:diverges@log.event"),
    (
        "inc-tx-num-in-callee-crashes-vm2",
        "crash:vm2:range start index N out of range for slice of length N",
    ),
    ("decommit-into-own-heap", "vm2:return_data@end"),
    ("precompile-output-beyond-abi-length", "vm2:return_data@end"),
    ("forwarding-a-page-zero-pointer", "vm2:diverges@ret.ok"),
    (
        "precompile-extra-pubdata-crashes-zk_evm",
        "crash:zk_evm:assertion failed: extra_pubdata_cost <= iN::MAX as uN",
    ),
];

/// The reference a trophy's signature names as the odd one out.
fn odd_one(signature: &str) -> &'static str {
    if signature.contains("zk_evm") {
        "zk_evm"
    } else {
        "vm2"
    }
}

/// A trophy's file: `NAME.json`, or `NAME.zasm` for those written by hand.
fn trophy(dir: &Path, name: &str) -> Case {
    let json = dir.join(format!("{name}.json"));
    let path = if json.exists() {
        json
    } else {
        dir.join(format!("{name}.zasm"))
    };
    Case::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_trophy_still_parts_zk_evm_and_vm2() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/trophies");
    let judge = Judge::default();
    for (name, expected) in TROPHIES {
        let case = trophy(&dir, name);
        let odd = odd_one(expected);
        let others: Vec<String> = ["eravm", "zk_evm", "vm2"]
            .iter()
            .filter(|b| **b != odd)
            .map(|b| b.to_string())
            .collect();
        let Verdict::Disagree(finding) = judge.check(&case) else {
            panic!("{name}: the VMs agree now; update corpus/trophies/README.md");
        };
        let explanation = judge.explain(&case, finding);
        assert_eq!(explanation.signature, expected, "{name}");
        assert_eq!(
            reference_at_fault(&explanation.signature),
            Some(odd),
            "{name}"
        );
        if let Finding::Divergence {
            odd: found, groups, ..
        } = &explanation.finding
        {
            assert_eq!(found.as_deref(), Some(odd), "{name}");
            assert!(groups.contains(&others), "{name}: {groups:?}");
        }
    }
}

#[test]
fn every_trophy_file_is_listed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/trophies");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("corpus/trophies exists")
        .filter_map(|e| {
            let path = e.ok()?.path();
            eradiff::case::is_case_file(&path)
                .then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    files.sort();
    let mut listed: Vec<String> = TROPHIES.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed);
}

#[test]
fn the_known_list_names_the_reference_its_signatures_name() {
    let known = eradiff::known::KnownDivergences::shipped();
    assert_eq!(known.check(), Ok(()));
    let mut bad = known.clone();
    bad.divergences[0].at_fault = Some("vm2".into());
    assert!(
        bad.check().is_err(),
        "a crash of zk_evm blamed on vm2 must be refused"
    );
}
