//! `cargo fuzz run batches -O -s none`: our bootloader driven by the operator through a batch
//! of transactions, on eravm and zk_evm.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(report) = eradiff::fuzzing::batches(data) {
        // The case is on disk already; stop here so that libFuzzer keeps the input too.
        eprintln!("eravm and zk_evm disagree\n{report}");
        std::process::abort();
    }
});
