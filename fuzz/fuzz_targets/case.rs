//! `cargo fuzz run -O case -s none CASE.json`: a case file as the input, on every VM (eravm,
//! zk_evm, vm2) as the other targets run them. Replays a case through the cargo-fuzz build; inputs that
//! are not case files are skipped.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(report) = eradiff::fuzzing::case(data) {
        eprintln!("a finding against eravm\n{report}");
        std::process::abort();
    }
});
