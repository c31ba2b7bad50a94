//! `cargo fuzz run precompiles -O -s none`: precompile calls on valid and broken inputs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(report) = eradiff::fuzzing::run(eradiff::generator::Target::Precompiles, data) {
        // The case is on disk already; stop here so that libFuzzer keeps the input too.
        eprintln!("a finding against eravm\n{report}");
        std::process::abort();
    }
});
