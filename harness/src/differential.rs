//! Running one case on two backends and deciding whether, and how, they disagree.

use serde::Serialize;

use crate::backend::{run_isolated, Backend, BackendError};
use crate::case::Case;
use crate::compare::{first_difference, first_step_difference, FieldDiff, StepDiff};
use crate::observe::Run;

/// What running a case on two backends found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Finding {
    /// Both ran and their final states differ.
    Divergence { diff: FieldDiff },
    /// A backend panicked: always a finding, whatever the other did.
    Crash { backend: String, message: String },
    /// A backend could not run the case.
    Unsupported { backend: String, message: String },
}

/// The result of a differential run.
#[derive(Clone, Debug)]
pub enum Verdict {
    /// Both agree; the run is the left backend's.
    Agree(Box<Run>),
    Disagree(Finding),
}

/// Runs `case` on both backends (isolated) and compares the final states.
pub fn check(case: &Case, left: &dyn Backend, right: &dyn Backend) -> Verdict {
    let a = run_isolated(left, case, false);
    let b = run_isolated(right, case, false);
    verdict(left, right, a, b)
}

fn verdict(
    left: &dyn Backend,
    right: &dyn Backend,
    a: Result<Run, BackendError>,
    b: Result<Run, BackendError>,
) -> Verdict {
    let failure = |backend: &dyn Backend, e: BackendError| match e {
        BackendError::Crashed(message) => Finding::Crash {
            backend: backend.name().to_string(),
            message,
        },
        BackendError::Unsupported(message) => Finding::Unsupported {
            backend: backend.name().to_string(),
            message,
        },
    };
    // A crash outranks everything else on either side.
    match (a, b) {
        (Err(e @ BackendError::Crashed(_)), _) => Verdict::Disagree(failure(left, e)),
        (_, Err(e @ BackendError::Crashed(_))) => Verdict::Disagree(failure(right, e)),
        (Err(e), _) => Verdict::Disagree(failure(left, e)),
        (_, Err(e)) => Verdict::Disagree(failure(right, e)),
        (Ok(a), Ok(b)) => match first_difference(&a.state, &b.state) {
            None => Verdict::Agree(Box::new(a)),
            Some(diff) => Verdict::Disagree(Finding::Divergence { diff }),
        },
    }
}

/// A finding explained: both sides rerun with step traces.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub left: String,
    pub right: String,
    pub finding: Finding,
    /// The first cycle where the traces part, if they do.
    pub step: Option<StepDiff>,
    /// Groups findings with the same cause.
    pub signature: String,
    /// What differed first and at which exact instruction form.
    pub detail: String,
    /// For batch cases: the transaction and hook where the operators' views first part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
}

/// Reruns a disagreeing case with traces and names the first step where the backends part.
pub fn explain(
    case: &Case,
    left: &dyn Backend,
    right: &dyn Backend,
    finding: Finding,
) -> Explanation {
    let (step, batch) = match &finding {
        Finding::Divergence { .. } => {
            let a = run_isolated(left, case, true).ok();
            let b = run_isolated(right, case, true).ok();
            let batch = match (&a, &b) {
                (Some(a), Some(b)) => match (&a.state.batch, &b.state.batch) {
                    (Some(x), Some(y)) => where_batches_part(x, y),
                    _ => None,
                },
                _ => None,
            };
            let step = match (a.and_then(|r| r.trace), b.and_then(|r| r.trace)) {
                (Some(a), Some(b)) => first_step_difference(&a, &b),
                _ => None,
            };
            (step, batch)
        }
        _ => (None, None),
    };
    let signature = signature(&finding, step.as_ref());
    let detail = detail(&finding, step.as_ref());
    Explanation {
        detail,
        left: left.name().to_string(),
        right: right.name().to_string(),
        finding,
        step,
        signature,
        batch,
    }
}

/// Where two views of one batch first differ: the first hook that differs (or is missing on
/// one side), else a transaction's result, else the pubdata.
fn where_batches_part(
    a: &crate::observe::BatchView,
    b: &crate::observe::BatchView,
) -> Option<String> {
    let hook = (0..a.hooks.len().max(b.hooks.len())).find(|&i| a.hooks.get(i) != b.hooks.get(i));
    if let Some(i) = hook {
        let h = a.hooks.get(i).or(b.hooks.get(i))?;
        let what = match (a.hooks.get(i), b.hooks.get(i)) {
            (Some(x), Some(y)) if x.hook != y.hook => "a different hook",
            (Some(x), Some(y)) if x.params != y.params => "its parameters",
            (Some(_), Some(_)) => "the registers",
            _ => "raised on one side only",
        };
        return Some(format!(
            "transaction {}, hook #{i} ({}): {what}",
            h.tx, h.hook
        ));
    }
    if let Some(i) =
        (0..a.results.len().max(b.results.len())).find(|&i| a.results.get(i) != b.results.get(i))
    {
        return Some(format!("transaction {i}: its result"));
    }
    (a.pubdata != b.pubdata).then(|| "the published pubdata".to_string())
}

/// The signature that groups findings: what differs, and at which instruction.
pub fn signature(finding: &Finding, step: Option<&StepDiff>) -> String {
    match finding {
        // One bug shows at one instruction whatever its operands and modifiers make differ
        // (a register, a stack write, the flags): group by the bare opcode.
        Finding::Divergence { diff } => {
            match step.and_then(|s| s.left.as_ref().or(s.right.as_ref())) {
                Some(s) => format!(
                    "diverges@{}",
                    eravm::Instruction::decode(s.executed).opcode.mnemonic()
                ),
                None => format!("{}@end", diff.class),
            }
        }
        Finding::Crash { backend, message } => format!("crash:{backend}:{}", normalise(message)),
        Finding::Unsupported { backend, message } => {
            format!("unsupported:{backend}:{}", normalise(message))
        }
    }
}

/// The fine-grained form: which field, at which instruction with its modifiers and predicate.
pub fn detail(finding: &Finding, step: Option<&StepDiff>) -> String {
    match (finding, step) {
        (Finding::Divergence { .. }, Some(s)) => {
            let at = s
                .left
                .as_ref()
                .or(s.right.as_ref())
                .map(|x| {
                    x.disassembly()
                        .split_whitespace()
                        .next()
                        .unwrap_or("?")
                        .to_string()
                })
                .unwrap_or_default();
            format!("{}@{at}", s.field.class)
        }
        _ => signature(finding, step),
    }
}

/// Drops numbers from a message so that one cause gives one signature.
fn normalise(message: &str) -> String {
    let first_line = message.lines().next().unwrap_or("");
    let mut out = String::new();
    let mut in_number = false;
    for c in first_line.chars().take(120) {
        if c.is_ascii_hexdigit() && (in_number || c.is_ascii_digit()) {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}
