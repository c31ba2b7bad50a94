//! `cargo fuzz run batches -O -s none`: our bootloader driven by the operator through a batch
//! of transactions, on every VM (eravm, zk_evm, vm2).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(report) = eradiff::fuzzing::batches(data) {
        // The case is on disk already; stop here so that libFuzzer keeps the input too.
        eprintln!("a finding against eravm\n{report}");
        std::process::abort();
    }
});
