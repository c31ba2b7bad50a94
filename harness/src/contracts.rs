//! Contract bundles: a production bootloader and the system contracts a real batch needs,
//! loaded from a folder or tarball the user names (never from this repository), each checked
//! against the committed manifest of official hashes (`harness/contracts-manifest.json`).
//!
//! Layouts read (see docs/contracts.md):
//! - zksync-era's: `etc/multivm_bootloaders/<dir>/<kind>.yul/*.zbin` (raw code) and forge
//!   `zkout` JSON (`…/zkout/<Name>.sol/<Name>.json`, hex in `bytecode.object`);
//! - anvil-zksync's `builtin-contracts-vNN.tar.gz` (zkout JSON), packed or unpacked;
//! - a zksync-era `VmDump`'s embedded contracts ([`Bundle::from_dump`]).
//!
//! Provenance: a hash the manifest lists as official is [`Provenance::Official`]; one it lists
//! as a known patch (anvil-zksync's bootloaders and DefaultAccount) is
//! [`Provenance::Patched`]; anything else is [`Provenance::Unknown`].

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::LazyLock;

use eravm::{H160, U256};
use serde::Deserialize;

use crate::case::{Address, Word};
use crate::dump::VmDump;
use crate::world::{bytecode_hash, Contract, World};

/// The environment variable naming a bundle folder or tarball.
pub const CONTRACTS_ENV: &str = "ERADIFF_CONTRACTS";

/// What a transfer batch needs (found by leaving one out at a time, v26).
pub const BATCH_CONTRACTS: &[&str] = &[
    "AccountCodeStorage",
    "NonceHolder",
    "KnownCodesStorage",
    "ContractDeployer",
    "L1Messenger",
    "MsgValueSimulator",
    "L2BaseToken",
    "SystemContext",
    "BootloaderUtilities",
    "EventWriter",
    "Keccak256",
    "Ecrecover",
    "EmptyContract",
    "MessageRoot",
    "DefaultAccount",
];

/// The largest contract file read (real ones are under 200 KB of hex).
const MAX_FILE_BYTES: u64 = 16 << 20;
/// The deepest folder searched (symlinks are followed).
const MAX_DEPTH: usize = 32;
/// Folders never searched.
const SKIPPED_DIRS: &[&str] = &[".git", "node_modules", "target"];

/// A protocol version with a bundle layout and a manifest entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum ProtocolVersion {
    #[value(name = "v26")]
    V26,
    #[value(name = "v27")]
    V27,
    #[value(name = "v28")]
    V28,
    #[value(name = "v29")]
    V29,
}

impl ProtocolVersion {
    pub const ALL: [ProtocolVersion; 4] = [Self::V26, Self::V27, Self::V28, Self::V29];

    /// `v26` …
    pub fn name(self) -> &'static str {
        match self {
            Self::V26 => "v26",
            Self::V27 => "v27",
            Self::V28 => "v28",
            Self::V29 => "v29",
        }
    }

    /// The version's number, as a node's `ProtocolVersionId` has it: 26 for v26.
    pub fn number(self) -> u16 {
        match self {
            Self::V26 => 26,
            Self::V27 => 27,
            Self::V28 => 28,
            Self::V29 => 29,
        }
    }

    /// The folder under zksync-era's `etc/multivm_bootloaders`.
    pub fn bootloader_dir(self) -> &'static str {
        match self {
            Self::V26 => "vm_gateway",
            Self::V27 => "vm_evm_emulator",
            Self::V28 => "vm_precompiles",
            Self::V29 => "vm_interop",
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ProtocolVersion {
    type Err = BundleError;

    /// `v26`, `26` or a dump's `Version26`.
    fn from_str(s: &str) -> Result<Self, BundleError> {
        let digits = s
            .trim_start_matches("Version")
            .trim_start_matches(['v', 'V']);
        Self::ALL
            .into_iter()
            .find(|v| &v.name()[1..] == digits)
            .ok_or_else(|| BundleError::Version(s.to_string()))
    }
}

/// The four production bootloaders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BootloaderKind {
    ProvedBatch,
    PlaygroundBatch,
    FeeEstimate,
    GasTest,
}

impl BootloaderKind {
    pub const ALL: [BootloaderKind; 4] = [
        Self::ProvedBatch,
        Self::PlaygroundBatch,
        Self::FeeEstimate,
        Self::GasTest,
    ];

    /// The file name stem: `proved_batch` …
    pub fn name(self) -> &'static str {
        match self {
            Self::ProvedBatch => "proved_batch",
            Self::PlaygroundBatch => "playground_batch",
            Self::FeeEstimate => "fee_estimate",
            Self::GasTest => "gas_test",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The bootloader a node runs for a dump's execution mode.
    fn of_execution_mode(mode: &str) -> Option<Self> {
        match mode {
            "VerifyExecute" => Some(Self::ProvedBatch),
            "EthCall" => Some(Self::PlaygroundBatch),
            "EstimateFee" => Some(Self::FeeEstimate),
            _ => None,
        }
    }
}

/// Where a contract's hash puts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Provenance {
    /// The manifest's official hash.
    Official,
    /// A known patch (anvil-zksync's bootloaders and DefaultAccount).
    Patched,
    /// Neither.
    Unknown,
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Official => "official",
            Self::Patched => "patched",
            Self::Unknown => "unknown",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("no contracts folder or tarball at {0}")]
    NotFound(PathBuf),
    #[error("{0} is neither a folder nor a .tar.gz of contracts")]
    NotABundle(PathBuf),
    #[error("{0}: folders nested deeper than {MAX_DEPTH} levels (a symlink loop?)")]
    TooDeep(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a contract JSON: {message}")]
    Json { path: String, message: String },
    #[error("{path}: invalid bytecode: {message}")]
    Code { path: String, message: String },
    #[error("no bootloader or system contract found under {0}")]
    Empty(PathBuf),
    #[error("missing contract {name} ({address}) that a batch needs")]
    Missing { name: String, address: String },
    #[error("unknown protocol version `{0}` (expected v26, v27, v28 or v29)")]
    Version(String),
    #[error("the contracts manifest is invalid: {0}")]
    Manifest(String),
}

/// One contract of a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleContract {
    pub name: String,
    /// Where it is deployed; `None` for bootloaders and DefaultAccount.
    pub address: Option<H160>,
    pub code: Vec<Word>,
    pub hash: U256,
    pub provenance: Provenance,
}

/// A bootloader and system contracts for one protocol version.
#[derive(Clone, Debug)]
pub struct Bundle {
    pub version: ProtocolVersion,
    pub bootloaders: BTreeMap<BootloaderKind, BundleContract>,
    /// Contracts by address (a contract at two addresses is listed twice), and DefaultAccount.
    pub contracts: Vec<BundleContract>,
    pub source: PathBuf,
}

// ---- the manifest ----

#[derive(Deserialize)]
struct Manifest {
    versions: BTreeMap<String, VersionManifest>,
}

/// One protocol version's official (and known patched) hashes.
#[derive(Deserialize)]
pub struct VersionManifest {
    bootloaders: Vec<ManifestEntry>,
    contracts: Vec<ManifestEntry>,
}

#[derive(Deserialize)]
struct ManifestEntry {
    name: String,
    #[serde(default)]
    addresses: Vec<String>,
    /// Source → hash.
    official: BTreeMap<String, Word>,
    #[serde(default)]
    patched: BTreeMap<String, Word>,
}

impl ManifestEntry {
    fn provenance(&self, hash: U256) -> Provenance {
        if self.official.values().any(|w| w.0 == hash) {
            Provenance::Official
        } else if self.patched.values().any(|w| w.0 == hash) {
            Provenance::Patched
        } else {
            Provenance::Unknown
        }
    }

    fn knows(&self, hash: U256) -> bool {
        self.provenance(hash) != Provenance::Unknown
    }

    fn addresses(&self) -> Result<Vec<H160>, BundleError> {
        self.addresses.iter().map(|a| parse_address(a)).collect()
    }
}

/// `0x8002`, not forty digits.
fn short_address(address: H160) -> String {
    format!("{:#x}", U256::from_big_endian(address.as_bytes()))
}

fn parse_address(text: &str) -> Result<H160, BundleError> {
    u64::from_str_radix(text.trim_start_matches("0x"), 16)
        .map(H160::from_low_u64_be)
        .map_err(|_| BundleError::Manifest(format!("bad address `{text}`")))
}

static MANIFEST: LazyLock<Result<Manifest, String>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../contracts-manifest.json")).map_err(|e| e.to_string())
});

/// The committed manifest's entry for a version.
pub fn manifest(version: ProtocolVersion) -> Result<&'static VersionManifest, BundleError> {
    let manifest = MANIFEST
        .as_ref()
        .map_err(|e| BundleError::Manifest(e.clone()))?;
    manifest
        .versions
        .get(version.name())
        .ok_or_else(|| BundleError::Manifest(format!("no entry for {version}")))
}

/// The protocol version whose manifest lists this bootloader hash (official or patched);
/// the newest when several do (zksync-era runs v28's bootloaders for v27 too).
pub fn version_of_bootloader(hash: U256) -> Option<ProtocolVersion> {
    ProtocolVersion::ALL.into_iter().rev().find(|&version| {
        manifest(version).is_ok_and(|m| m.bootloaders.iter().any(|e| e.knows(hash)))
    })
}

impl VersionManifest {
    fn contract(&self, name: &str) -> Option<&ManifestEntry> {
        self.contracts.iter().find(|e| e.name == name)
    }

    fn bootloader(&self, kind: BootloaderKind) -> Option<&ManifestEntry> {
        self.bootloaders.iter().find(|e| e.name == kind.name())
    }

    /// Contract names it lists, in order.
    pub fn contract_names(&self) -> impl Iterator<Item = &str> {
        self.contracts.iter().map(|e| e.name.as_str())
    }

    fn wants(&self, name: &str) -> bool {
        BootloaderKind::from_name(name).is_some() || self.contract(name).is_some()
    }
}

// ---- finding files ----

/// A contract file found: its name (`L1Messenger`, `proved_batch`) and code.
struct Candidate {
    name: String,
    path: String,
    code: Vec<Word>,
}

/// The name a zkout JSON path gives: the component under `zkout/`, up to its first dot.
fn zkout_name(path: &Path) -> Option<String> {
    let parts: Vec<&str> = path.iter().filter_map(|p| p.to_str()).collect();
    let at = parts.iter().position(|p| *p == "zkout")?;
    let stem = parts.get(at + 1)?.split('.').next()?;
    (at + 2 < parts.len() && !stem.is_empty()).then(|| stem.to_string())
}

/// The bootloader a `.zbin` path holds: a component whose stem is a kind's name; under
/// `multivm_bootloaders/` only the version's own folder counts.
fn zbin_kind(path: &Path, version: ProtocolVersion) -> Option<BootloaderKind> {
    let parts: Vec<&str> = path.iter().filter_map(|p| p.to_str()).collect();
    if let Some(at) = parts.iter().position(|p| *p == "multivm_bootloaders") {
        if parts.get(at + 1) != Some(&version.bootloader_dir()) {
            return None;
        }
    }
    parts
        .iter()
        .find_map(|p| BootloaderKind::from_name(p.split('.').next()?))
}

fn code_of_bytes(path: &str, bytes: &[u8]) -> Result<Vec<Word>, BundleError> {
    let bad = |message: String| BundleError::Code {
        path: path.to_string(),
        message,
    };
    if bytes.is_empty() || bytes.len() % 32 != 0 {
        return Err(bad(format!(
            "{} bytes, not whole 32-byte words",
            bytes.len()
        )));
    }
    if bytes.len() / 32 > u16::MAX as usize {
        return Err(bad(format!(
            "{} words, more than a code hash can count",
            bytes.len() / 32
        )));
    }
    Ok(eravm::operator::words_of_bytes(bytes).map(Word).collect())
}

#[derive(Deserialize)]
struct ZkoutJson {
    bytecode: ZkoutBytecode,
}

#[derive(Deserialize)]
struct ZkoutBytecode {
    object: String,
}

fn code_of_json(path: &str, text: &[u8]) -> Result<Vec<Word>, BundleError> {
    let json: ZkoutJson = serde_json::from_slice(text).map_err(|e| BundleError::Json {
        path: path.to_string(),
        message: e.to_string(),
    })?;
    let object = json.bytecode.object;
    let bytes = hex::decode(object.trim_start_matches("0x")).map_err(|e| BundleError::Code {
        path: path.to_string(),
        message: format!("bytecode.object is not hex: {e}"),
    })?;
    code_of_bytes(path, &bytes)
}

fn read_capped(path: &str, reader: impl Read) -> Result<Vec<u8>, BundleError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| BundleError::Io {
            path: path.to_string(),
            source,
        })?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let message = format!("larger than {MAX_FILE_BYTES} bytes");
        return Err(BundleError::Code {
            path: path.to_string(),
            message,
        });
    }
    Ok(bytes)
}

/// The candidate a file is, if it is one the manifest wants.
fn candidate(
    path: &Path,
    shown: &str,
    reader: impl Read,
    wanted: &VersionManifest,
    version: ProtocolVersion,
) -> Result<Option<Candidate>, BundleError> {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let (name, json) = if file_name.ends_with(".zbin") {
        match zbin_kind(path, version) {
            Some(kind) => (kind.name().to_string(), false),
            None => return Ok(None),
        }
    } else if file_name.ends_with(".json") {
        match zkout_name(path).filter(|n| wanted.wants(n)) {
            Some(name) => (name, true),
            None => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    let bytes = read_capped(shown, reader)?;
    let code = if json {
        code_of_json(shown, &bytes)?
    } else {
        code_of_bytes(shown, &bytes)?
    };
    Ok(Some(Candidate {
        name,
        path: shown.to_string(),
        code,
    }))
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn walk(
    dir: &Path,
    depth: usize,
    wanted: &VersionManifest,
    version: ProtocolVersion,
    found: &mut Vec<Candidate>,
) -> Result<(), BundleError> {
    if depth > MAX_DEPTH {
        return Err(BundleError::TooDeep(dir.to_path_buf()));
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_error(dir))?
        .collect::<Result<_, _>>()
        .map_err(io_error(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = std::fs::metadata(&path).map_err(io_error(&path))?;
        if kind.is_dir() {
            let name = entry.file_name();
            if !SKIPPED_DIRS.iter().any(|s| name == *s) {
                walk(&path, depth + 1, wanted, version, found)?;
            }
        } else if kind.is_file() {
            let shown = path.display().to_string();
            let open = || std::fs::File::open(&path).map_err(io_error(&path));
            let is_candidate = path.extension().is_some_and(|e| e == "json" || e == "zbin");
            if is_candidate {
                found.extend(candidate(&path, &shown, open()?, wanted, version)?);
            }
        }
    }
    Ok(())
}

fn unpack(
    tarball: &Path,
    wanted: &VersionManifest,
    version: ProtocolVersion,
    found: &mut Vec<Candidate>,
) -> Result<(), BundleError> {
    let file = std::fs::File::open(tarball).map_err(io_error(tarball))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries().map_err(io_error(tarball))? {
        let entry = entry.map_err(io_error(tarball))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let inner = entry.path().map_err(io_error(tarball))?.into_owned();
        let shown = format!("{}:{}", tarball.display(), inner.display());
        found.extend(candidate(&inner, &shown, entry, wanted, version)?);
    }
    Ok(())
}

fn is_tarball(path: &Path) -> bool {
    let name = path.to_string_lossy();
    name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

// ---- the bundle ----

impl Bundle {
    /// Loads a bundle from a folder (searched recursively) or a `.tar.gz`.
    pub fn load(dir_or_tarball: &Path, version: ProtocolVersion) -> Result<Bundle, BundleError> {
        let wanted = manifest(version)?;
        let mut found = Vec::new();
        if dir_or_tarball.is_dir() {
            walk(dir_or_tarball, 0, wanted, version, &mut found)?;
        } else if dir_or_tarball.is_file() && is_tarball(dir_or_tarball) {
            unpack(dir_or_tarball, wanted, version, &mut found)?;
        } else if dir_or_tarball.exists() {
            return Err(BundleError::NotABundle(dir_or_tarball.to_path_buf()));
        } else {
            return Err(BundleError::NotFound(dir_or_tarball.to_path_buf()));
        }
        let bundle = Bundle::assemble(version, dir_or_tarball.to_path_buf(), found)?;
        if bundle.bootloaders.is_empty() && bundle.contracts.is_empty() {
            return Err(BundleError::Empty(dir_or_tarball.to_path_buf()));
        }
        Ok(bundle)
    }

    /// The bundle `ERADIFF_CONTRACTS` names, if it is set.
    pub fn from_env(version: ProtocolVersion) -> Result<Option<Bundle>, BundleError> {
        match std::env::var_os(CONTRACTS_ENV) {
            Some(path) if !path.is_empty() => Bundle::load(Path::new(&path), version).map(Some),
            _ => Ok(None),
        }
    }

    /// The contracts a `VmDump` carries: its bootloader and DefaultAccount, and those of its
    /// factory dependencies whose hash the manifest knows (the others are a user's).
    pub fn from_dump(dump: &VmDump) -> Result<Bundle, BundleError> {
        let version: ProtocolVersion = dump.system_env.version.parse()?;
        let wanted = manifest(version)?;
        let base = &dump.system_env.base_system_smart_contracts;
        let hash_of = |code: &[Word]| bytecode_hash(code, false);
        let bootloader_hash = hash_of(&base.bootloader.code);
        let kind = BootloaderKind::ALL
            .into_iter()
            .find(|k| {
                wanted
                    .bootloader(*k)
                    .is_some_and(|e| e.knows(bootloader_hash))
            })
            .or_else(|| BootloaderKind::of_execution_mode(&dump.system_env.execution_mode));
        let mut found = Vec::new();
        let mut push = |name: &str, code: Vec<Word>| {
            let path = "VmDump".to_string();
            found.push(Candidate {
                name: name.to_string(),
                path,
                code,
            });
        };
        if let Some(kind) = kind {
            push(kind.name(), base.bootloader.code.clone());
        }
        push("DefaultAccount", base.default_aa.code.clone());
        let mut deps: Vec<_> = dump.storage.factory_deps.values().collect();
        deps.sort_by(|a, b| a.0.cmp(&b.0));
        for bytes in deps {
            let Ok(code) = code_of_bytes("VmDump factory dependency", &bytes.0) else {
                continue;
            };
            let hash = hash_of(&code);
            if let Some(entry) = wanted.contracts.iter().find(|e| e.knows(hash)) {
                push(&entry.name, code);
            }
        }
        Bundle::assemble(version, PathBuf::from("VmDump"), found)
    }

    /// Picks, for each name the manifest lists, the best candidate (official over patched
    /// over unknown, then by path), and places it at its addresses.
    fn assemble(
        version: ProtocolVersion,
        source: PathBuf,
        mut found: Vec<Candidate>,
    ) -> Result<Bundle, BundleError> {
        let wanted = manifest(version)?;
        found.sort_by(|a, b| a.path.cmp(&b.path));
        let best = |entry: Option<&ManifestEntry>, name: &str| {
            found
                .iter()
                .filter(|c| c.name == name)
                .map(|c| {
                    let hash = bytecode_hash(&c.code, false);
                    let provenance = entry.map_or(Provenance::Unknown, |e| e.provenance(hash));
                    (provenance, c, hash)
                })
                .min_by_key(|(p, _, _)| *p)
        };
        let contract =
            |name: &str, address, (provenance, c, hash): (Provenance, &Candidate, U256)| {
                BundleContract {
                    name: name.to_string(),
                    address,
                    code: c.code.clone(),
                    hash,
                    provenance,
                }
            };
        let mut bootloaders = BTreeMap::new();
        for kind in BootloaderKind::ALL {
            if let Some(pick) = best(wanted.bootloader(kind), kind.name()) {
                bootloaders.insert(kind, contract(kind.name(), None, pick));
            }
        }
        let mut contracts = Vec::new();
        for entry in &wanted.contracts {
            let Some(pick) = best(Some(entry), &entry.name) else {
                continue;
            };
            let addresses = entry.addresses()?;
            if addresses.is_empty() {
                contracts.push(contract(&entry.name, None, pick));
            }
            for address in addresses {
                contracts.push(contract(&entry.name, Some(address), pick));
            }
        }
        Ok(Bundle {
            version,
            bootloaders,
            contracts,
            source,
        })
    }

    /// A contract by name (its first address).
    pub fn contract(&self, name: &str) -> Option<&BundleContract> {
        self.contracts.iter().find(|c| c.name == name)
    }

    pub fn bootloader(&self, kind: BootloaderKind) -> Option<&BundleContract> {
        self.bootloaders.get(&kind)
    }

    /// Every contract and bootloader, bootloaders first.
    pub fn all(&self) -> impl Iterator<Item = &BundleContract> {
        self.bootloaders.values().chain(&self.contracts)
    }

    /// Fails naming the first of `names` (contracts or bootloader kinds) the bundle lacks.
    pub fn require(&self, names: &[&str]) -> Result<(), BundleError> {
        let wanted = manifest(self.version)?;
        for name in names {
            let present = match BootloaderKind::from_name(name) {
                Some(kind) => self.bootloaders.contains_key(&kind),
                None => self.contract(name).is_some(),
            };
            if present {
                continue;
            }
            let address = match wanted.contract(name) {
                None if BootloaderKind::from_name(name).is_some() => "bootloader".to_string(),
                None => format!("not in the {} manifest", self.version),
                Some(e) if e.addresses.is_empty() => "no address".to_string(),
                Some(e) => e.addresses.join(", "),
            };
            let name = name.to_string();
            return Err(BundleError::Missing { name, address });
        }
        Ok(())
    }

    /// How many contracts (and bootloaders) have each provenance.
    pub fn counts(&self) -> BTreeMap<Provenance, usize> {
        let mut counts = BTreeMap::new();
        for c in self.all() {
            *counts.entry(c.provenance).or_insert(0) += 1;
        }
        counts
    }

    /// The names the manifest lists that the bundle lacks.
    pub fn missing(&self) -> Vec<String> {
        let Ok(wanted) = manifest(self.version) else {
            return Vec::new();
        };
        let kinds = BootloaderKind::ALL
            .into_iter()
            .filter(|k| !self.bootloaders.contains_key(k));
        let contracts = wanted
            .contract_names()
            .filter(|n| self.contract(n).is_none());
        kinds
            .map(|k| k.name())
            .chain(contracts)
            .map(str::to_string)
            .collect()
    }

    /// One line per contract (name, address, hash, provenance), then the counts.
    pub fn report(&self) -> String {
        let mut out = format!("{} bundle from {}\n", self.version, self.source.display());
        for c in self.all() {
            let address = c.address.map_or("-".to_string(), short_address);
            let line = format!(
                "{:<20} {:<8} {:#066x} {}\n",
                c.name, address, c.hash, c.provenance
            );
            out.push_str(&line);
        }
        let counts = self.counts();
        let count = |p| counts.get(&p).copied().unwrap_or(0);
        out.push_str(&format!(
            "{} official, {} patched, {} unknown",
            count(Provenance::Official),
            count(Provenance::Patched),
            count(Provenance::Unknown)
        ));
        let missing = self.missing();
        if !missing.is_empty() {
            out.push_str(&format!("; missing: {}", missing.join(", ")));
        }
        out.push('\n');
        out
    }

    /// A world with every contract deployed at its address and DefaultAccount as the code
    /// of addresses without code.
    pub fn world(&self) -> World {
        let contracts = self
            .contracts
            .iter()
            .filter_map(|c| {
                Some(Contract {
                    address: Address(c.address?),
                    code: c.code.clone(),
                    constructing: false,
                })
            })
            .collect();
        let default_account = self
            .contract("DefaultAccount")
            .map(|c| c.code.clone())
            .unwrap_or_default();
        World {
            contracts,
            default_account,
            ..World::default()
        }
    }
}
