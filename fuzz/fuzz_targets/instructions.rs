//! `cargo fuzz run instructions -O -s none`: a few instructions of any variant from a start
//! state built directly (deep stacks, journals, memory at its bounds), on eravm and zk_evm.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(report) = eradiff::fuzzing::instructions(data) {
        // The case is on disk already; stop here so that libFuzzer keeps the input too.
        eprintln!("a finding against eravm\n{report}");
        std::process::abort();
    }
});
