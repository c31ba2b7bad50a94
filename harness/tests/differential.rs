//! The differential suite: generated programs must run the same on eravm and zk_evm.

mod common;

use arbitrary::Unstructured;
use eradiff::generator::{generate, generate_seeded, Settings};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn generated_programs_agree(bytes in prop::collection::vec(any::<u8>(), 64..4096)) {
        let mut u = Unstructured::new(&bytes);
        let case = generate(&mut u, &Settings::default()).expect("generation never fails");
        common::agree(&case);
    }
}

#[test]
fn a_seeded_campaign_agrees() {
    for iteration in 0..2_000 {
        common::agree(&generate_seeded(7, iteration, &Settings::default()));
    }
}
