//! The known-divergence list: reference behaviours we judge to be bugs, or deliberate
//! differences, each with a reason. It is the only way a finding is set aside; nothing else
//! silences a comparison.

use serde::Deserialize;

/// The list shipped with the repository.
pub const KNOWN_DIVERGENCES_JSON: &str = include_str!("../../known-divergences.json");

/// One entry of the known-divergence list.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownDivergence {
    /// The finding signature this entry covers.
    pub signature: String,
    /// Why it is not a bug in eravm.
    pub reason: String,
    /// The reference whose behaviour this is (`zk_evm` or `vm2`), where the signature
    /// names one as the odd one out.
    #[serde(default)]
    pub at_fault: Option<String>,
}

/// The known-divergence list: disagreements that are not bugs in eravm.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownDivergences {
    /// The entries, as `known-divergences.json` lists them.
    pub divergences: Vec<KnownDivergence>,
}

impl KnownDivergences {
    /// Every entry whose signature names a reference names that same one as at fault.
    pub fn check(&self) -> Result<(), String> {
        for d in &self.divergences {
            let named = crate::differential::reference_at_fault(&d.signature);
            if named.is_some() && named != d.at_fault.as_deref() {
                return Err(format!(
                    "{}: at_fault must be {:?}, as the signature says",
                    d.signature, named
                ));
            }
        }
        Ok(())
    }

    /// The list shipped with this build (`known-divergences.json`).
    pub fn shipped() -> KnownDivergences {
        serde_json::from_str(KNOWN_DIVERGENCES_JSON).expect("known-divergences.json is valid")
    }

    /// The reason a signature is known, if it is.
    pub fn reason(&self, signature: &str) -> Option<&str> {
        self.divergences
            .iter()
            .find(|d| d.signature == signature)
            .map(|d| d.reason.as_str())
    }
}
