//! Contract bundles: loading the layouts, the provenance rule, and the errors that name what
//! is wrong. The synthetic bundles here hold made-up code words (never real bytecode); a real
//! bundle is checked only when `ERADIFF_CONTRACTS` names one (`ERADIFF_PROTOCOL`, default
//! v26, says its version), and the crates.io VM dumps only when cargo's registry has them.

use std::path::{Path, PathBuf};
use std::process::Command;

use eradiff::case::Word;
use eradiff::contracts::{
    manifest, BootloaderKind, Bundle, BundleError, ProtocolVersion, Provenance, BATCH_CONTRACTS,
};
use eradiff::world::bytecode_hash;
use eravm::{H160, U256};

/// Made-up code: `n` words that no compiler produced.
fn fake_code(n: u64, seed: u64) -> Vec<Word> {
    (0..n).map(|i| Word(U256::from(seed * 1000 + i))).collect()
}

fn bytes_of(code: &[Word]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for w in code {
        let mut word = [0u8; 32];
        w.0.to_big_endian(&mut word);
        bytes.extend_from_slice(&word);
    }
    bytes
}

fn zkout_json(code: &[Word]) -> String {
    format!(
        r#"{{"abi": [], "bytecode": {{"object": "{}"}}}}"#,
        hex::encode(bytes_of(code))
    )
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const ZKOUT: &str = "contracts/system-contracts/zkout";

/// A zksync-era-shaped folder: L1Messenger, EmptyContract, DefaultAccount as zkout JSON, a
/// v26 `proved_batch` zbin and a v29 one that a v26 bundle must ignore.
fn synthetic_folder(name: &str) -> PathBuf {
    let dir = fresh_dir(name);
    let json = |contract: &str, code: &[Word]| {
        let path = dir.join(format!("{ZKOUT}/{contract}.sol/{contract}.json"));
        write(&path, zkout_json(code).as_bytes());
    };
    json("L1Messenger", &fake_code(3, 1));
    json("EmptyContract", &fake_code(1, 2));
    json("DefaultAccount", &fake_code(5, 3));
    json("NotASystemContract", &fake_code(1, 4));
    let zbin = |vm_dir: &str, seed| {
        let path =
            format!("etc/multivm_bootloaders/{vm_dir}/proved_batch.yul/proved_batch.yul.zbin");
        write(&dir.join(path), &bytes_of(&fake_code(7, seed)));
    };
    zbin("vm_gateway", 5);
    zbin("vm_interop", 6);
    dir
}

fn check_synthetic(bundle: &Bundle) {
    let messenger = bundle.contract("L1Messenger").expect("L1Messenger loaded");
    assert_eq!(messenger.code, fake_code(3, 1));
    assert_eq!(messenger.hash, bytecode_hash(&fake_code(3, 1), false));
    assert_eq!(messenger.address, Some(H160::from_low_u64_be(0x8008)));
    assert_eq!(messenger.provenance, Provenance::Unknown);
    let empty: Vec<_> = bundle
        .contracts
        .iter()
        .filter(|c| c.name == "EmptyContract")
        .collect();
    let addresses: Vec<_> = empty.iter().map(|c| c.address).collect();
    assert_eq!(
        addresses,
        [Some(H160::zero()), Some(H160::from_low_u64_be(0x8001))]
    );
    assert!(bundle.contract("NotASystemContract").is_none());
    let proved = bundle
        .bootloader(BootloaderKind::ProvedBatch)
        .expect("proved_batch loaded");
    assert_eq!(
        proved.code,
        fake_code(7, 5),
        "the v26 folder's bootloader, not v29's"
    );
    assert_eq!(proved.provenance, Provenance::Unknown);
    assert!(bundle.all().all(|c| c.provenance == Provenance::Unknown));

    let world = bundle.world();
    assert_eq!(world.default_account, fake_code(5, 3));
    assert_eq!(
        world.contracts.len(),
        3,
        "L1Messenger and EmptyContract twice"
    );
    assert!(world.contracts.iter().all(|c| !c.constructing));
    let resolved = world.resolve();
    let slot = eravm::StorageKey {
        address: H160::from_low_u64_be(eradiff::world::ACCOUNT_CODE_STORAGE),
        key: U256::from(0x8008),
    };
    assert_eq!(resolved.initial_value(&slot), messenger.hash);
    assert_eq!(
        resolved.default_aa_code_hash,
        bytecode_hash(&fake_code(5, 3), false)
    );

    let report = bundle.report();
    assert!(report.contains("L1Messenger"), "{report}");
    assert!(report.contains("0x8008"), "{report}");
    assert!(
        report.contains("0 official, 0 patched, 5 unknown"),
        "{report}"
    );
    assert!(report.contains("missing: playground_batch"), "{report}");
}

#[test]
fn a_synthetic_folder_loads_and_its_made_up_code_is_unknown() {
    let dir = synthetic_folder("contracts-synthetic");
    let bundle = Bundle::load(&dir, ProtocolVersion::V26).unwrap();
    assert_eq!(bundle.version, ProtocolVersion::V26);
    check_synthetic(&bundle);
}

#[test]
fn a_tarball_loads_like_its_folder() {
    let dir = synthetic_folder("contracts-tarball-src");
    let tarball = fresh_dir("contracts-tarball").join("builtin-contracts-v26.tar.gz");
    let file = std::fs::File::create(&tarball).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all("contracts", dir.join("contracts"))
        .unwrap();
    tar.append_dir_all("etc", dir.join("etc")).unwrap();
    tar.into_inner().unwrap().finish().unwrap();
    let bundle = Bundle::load(&tarball, ProtocolVersion::V26).unwrap();
    check_synthetic(&bundle);
}

#[test]
fn a_missing_contract_is_named_with_its_address() {
    let dir = synthetic_folder("contracts-missing");
    let bundle = Bundle::load(&dir, ProtocolVersion::V26).unwrap();
    bundle.require(&["L1Messenger", "proved_batch"]).unwrap();
    let err = bundle.require(&["L1Messenger", "NonceHolder"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "missing contract NonceHolder (0x8003) that a batch needs"
    );
    let err = bundle.require(BATCH_CONTRACTS).unwrap_err();
    assert!(matches!(err, BundleError::Missing { .. }), "{err}");
    let err = bundle.require(&["fee_estimate"]).unwrap_err();
    assert!(err.to_string().contains("fee_estimate"), "{err}");
}

#[test]
fn a_malformed_json_names_the_file() {
    let dir = fresh_dir("contracts-malformed");
    let path = dir.join(format!("{ZKOUT}/NonceHolder.sol/NonceHolder.json"));
    write(&path, b"{\"bytecode\": {\"object\": ");
    let err = Bundle::load(&dir, ProtocolVersion::V26).unwrap_err();
    assert!(matches!(err, BundleError::Json { .. }), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );

    write(&path, br#"{"bytecode": {"object": "0x0102"}}"#);
    let err = Bundle::load(&dir, ProtocolVersion::V26).unwrap_err();
    assert!(matches!(err, BundleError::Code { .. }), "{err}");
    assert!(err.to_string().contains("NonceHolder.json"), "{err}");
}

#[test]
fn a_missing_or_empty_folder_is_an_error() {
    let missing = Path::new(env!("CARGO_TARGET_TMPDIR")).join("contracts-no-such-folder");
    let err = Bundle::load(&missing, ProtocolVersion::V27).unwrap_err();
    assert!(matches!(err, BundleError::NotFound(_)), "{err}");
    let empty = fresh_dir("contracts-empty");
    let err = Bundle::load(&empty, ProtocolVersion::V27).unwrap_err();
    assert!(matches!(err, BundleError::Empty(_)), "{err}");
    let file = empty.join("notes.txt");
    write(&file, b"not a bundle");
    let err = Bundle::load(&file, ProtocolVersion::V27).unwrap_err();
    assert!(matches!(err, BundleError::NotABundle(_)), "{err}");
}

#[test]
fn protocol_versions_parse() {
    for (text, version) in [
        ("v26", ProtocolVersion::V26),
        ("27", ProtocolVersion::V27),
        ("Version28", ProtocolVersion::V28),
        ("V29", ProtocolVersion::V29),
    ] {
        assert_eq!(text.parse::<ProtocolVersion>().unwrap(), version);
    }
    let err = "v30".parse::<ProtocolVersion>().unwrap_err();
    assert!(err.to_string().contains("v30"), "{err}");
}

#[test]
fn the_manifest_covers_every_version_and_the_batch_contracts() {
    for version in ProtocolVersion::ALL {
        let entry = manifest(version).unwrap();
        let names: Vec<_> = entry.contract_names().collect();
        for name in BATCH_CONTRACTS {
            assert!(names.contains(name), "{version} lacks {name}");
        }
    }
}

#[test]
fn the_cli_reports_and_exits_2_on_input_errors() {
    let bin = env!("CARGO_BIN_EXE_eradiff");
    let dir = synthetic_folder("contracts-cli");
    let out = Command::new(bin)
        .arg("contracts")
        .arg(&dir)
        .args(["--protocol", "v26"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("L1Messenger"));
    let out = Command::new(bin)
        .args(["contracts", "--require"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing contract"));

    let missing = dir.join("no-such-folder");
    let out = Command::new(bin)
        .arg("contracts")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let bad = fresh_dir("contracts-cli-bad");
    write(
        &bad.join(format!("{ZKOUT}/L2BaseToken.sol/L2BaseToken.json")),
        b"[",
    );
    let out = Command::new(bin)
        .arg("contracts")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("L2BaseToken.json"),
        "{out:?}"
    );
}

/// The kernel contracts (system addresses below 0x10000) a real bundle must have as
/// officially built; DefaultAccount and the bootloaders may be anvil-zksync's patched builds,
/// and the L2 contracts (0x10000 on) may come from another era-contracts commit.
fn kernel(bundle: &Bundle) -> impl Iterator<Item = &eradiff::contracts::BundleContract> {
    let kernel_space = H160::from_low_u64_be(0x10000);
    bundle
        .contracts
        .iter()
        .filter(move |c| c.address.is_some_and(|a| a < kernel_space))
}

#[test]
fn a_real_bundle_has_official_kernel_contracts() {
    let Some(path) = std::env::var_os("ERADIFF_CONTRACTS") else {
        eprintln!("SKIPPED: ERADIFF_CONTRACTS not set; no real contract bundle was checked");
        return;
    };
    let version: ProtocolVersion = std::env::var("ERADIFF_PROTOCOL")
        .unwrap_or_else(|_| "v26".into())
        .parse()
        .unwrap();
    let bundle = Bundle::load(Path::new(&path), version).unwrap();
    eprintln!("{}", bundle.report());
    bundle.require(BATCH_CONTRACTS).unwrap();
    for c in kernel(&bundle) {
        assert_eq!(
            c.provenance,
            Provenance::Official,
            "{} {:#x}",
            c.name,
            c.hash
        );
    }
}

#[test]
fn the_vm_dumps_carry_official_contracts() {
    let Some(dir) = eradiff::dump::vm_dumps_dir() else {
        eprintln!("SKIPPED: no VM dumps (set ERADIFF_VM_DUMPS); their contracts were not checked");
        return;
    };
    // The validation dump's DefaultAccount is not the build era-contracts lists for v26
    // (see docs/contracts.md), so only the fee dump's is checked.
    for (file, kind, official_account) in [
        (
            "estimate_fee_for_transfer_to_self.json",
            BootloaderKind::FeeEstimate,
            true,
        ),
        (
            "validation_adjacent_storage_slots.json",
            BootloaderKind::PlaygroundBatch,
            false,
        ),
    ] {
        let dump = eradiff::dump::VmDump::load(&dir.join(file)).unwrap();
        let bundle = Bundle::from_dump(&dump).unwrap();
        eprintln!("{}", bundle.report());
        assert_eq!(bundle.version, ProtocolVersion::V26);
        let bootloader = bundle
            .bootloader(kind)
            .expect("the dump's bootloader, by its hash");
        assert_eq!(bootloader.provenance, Provenance::Official, "{file}");
        assert_eq!(
            bootloader.hash,
            dump.system_env
                .base_system_smart_contracts
                .bootloader
                .hash
                .0
        );
        let account = bundle.contract("DefaultAccount").unwrap();
        if official_account {
            assert_eq!(account.provenance, Provenance::Official, "{file}");
        }
        bundle
            .require(&["SystemContext", "NonceHolder", "L2BaseToken"])
            .unwrap();
        for c in kernel(&bundle) {
            assert_eq!(c.provenance, Provenance::Official, "{file}: {}", c.name);
        }
    }
}
