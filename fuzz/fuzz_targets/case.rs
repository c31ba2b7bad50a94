//! `cargo fuzz run -O case -s none CASE.json`: a case file as the input, on eravm and zk_evm
//! as the other targets run them. Replays a case through the cargo-fuzz build; inputs that
//! are not case files are skipped.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(report) = eradiff::fuzzing::case(data) {
        eprintln!("eravm and zk_evm disagree\n{report}");
        std::process::abort();
    }
});
