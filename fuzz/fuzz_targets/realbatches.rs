//! `ERADIFF_CONTRACTS=DIR cargo fuzz run realbatches -O -s none`: real batches (the
//! production bootloader and a bundle's system contracts) on eravm and zk_evm.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(report) = eradiff::fuzzing::realbatches(data) {
        // The case is on disk already; stop here so that libFuzzer keeps the input too.
        eprintln!("eravm and zk_evm disagree\n{report}");
        std::process::abort();
    }
});
