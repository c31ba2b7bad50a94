//! `cargo fuzz run calls -O -s none`: worlds of contracts calling each other, on every VM
//! (eravm, zk_evm, vm2).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(report) = eradiff::fuzzing::calls(data) {
        // The case is on disk already; stop here so that libFuzzer keeps the input too.
        eprintln!("a finding against eravm\n{report}");
        std::process::abort();
    }
});
