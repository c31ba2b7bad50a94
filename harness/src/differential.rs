//! Running one case on several backends and deciding whether, and how, they disagree: a
//! [`Judge`] holds the backends of a run and gives one verdict, by majority.

use serde::Serialize;

use crate::backend::{run_isolated, Backend, BackendError, EraVm, Vm2, ZkEvm};
use crate::case::Case;
use crate::compare::{first_difference_of, first_step_difference_of, FieldDiff, StepDiff};
use crate::observe::{Run, StepState};

/// What running a case on the backends found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Finding {
    /// Backends ran and their final states differ. `left` and `right` are the two compared
    /// (the majority's first member, and the odd one out when there is one).
    Divergence {
        diff: FieldDiff,
        left: String,
        right: String,
        /// The one backend that disagrees with all others, when the others agree.
        #[serde(skip_serializing_if = "Option::is_none")]
        odd: Option<String>,
        /// Which backends agree with which: one group per distinct final state.
        groups: Vec<Vec<String>>,
    },
    /// A backend panicked: always a finding, whatever the others did.
    Crash { backend: String, message: String },
    /// A backend that must host every case could not run it.
    Unsupported { backend: String, message: String },
}

/// The result of a differential run.
#[derive(Clone, Debug)]
pub enum Verdict {
    /// All that ran agree; the run is the first backend's.
    Agree(Box<Run>),
    Disagree(Finding),
    /// Fewer than two backends could host the case: nothing to compare (why).
    Unsupported(String),
}

/// A backend that declined a case (it may: see [`Backend::may_decline`]), and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Declined {
    pub backend: &'static str,
    pub reason: String,
}

/// The backends of a run, and the one comparison every command makes between them.
#[derive(Clone, Copy)]
pub struct Judge<'a> {
    backends: &'a [&'a dyn Backend],
}

/// Every backend, in the order reports name them: eravm, zk_evm, vm2.
pub const ALL_BACKENDS: [&dyn Backend; 3] = [&EraVm, &ZkEvm, &Vm2];

impl Default for Judge<'static> {
    fn default() -> Self {
        Judge {
            backends: &ALL_BACKENDS,
        }
    }
}

/// One backend's run of a case.
struct Ran<'a> {
    backend: &'a dyn Backend,
    result: Result<Run, BackendError>,
}

impl<'a> Judge<'a> {
    pub fn new(backends: &'a [&'a dyn Backend]) -> Judge<'a> {
        Judge { backends }
    }

    pub fn backends(&self) -> &'a [&'a dyn Backend] {
        self.backends
    }

    /// The backends' names, joined: `eravm,zk_evm,vm2`.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.backends.iter().map(|b| b.name()).collect();
        names.join(",")
    }

    fn run_all(&self, case: &Case, trace: bool) -> (Vec<Ran<'a>>, Vec<Declined>) {
        let mut ran = Vec::new();
        let mut declined = Vec::new();
        for &backend in self.backends {
            match run_isolated(backend, case, trace) {
                Err(BackendError::Unsupported(reason)) if backend.may_decline() => {
                    declined.push(Declined {
                        backend: backend.name(),
                        reason,
                    })
                }
                result => ran.push(Ran { backend, result }),
            }
        }
        (ran, declined)
    }

    /// Runs `case` on every backend (isolated) and compares the final states.
    pub fn check(&self, case: &Case) -> Verdict {
        self.check_counted(case).verdict
    }

    /// [`Judge::check`], which backends declined the case, and, for a batch, how many of
    /// its transactions each pair of backends agrees on.
    pub fn check_counted(&self, case: &Case) -> Checked {
        let (ran, declined) = self.run_all(case, false);
        let transactions = case
            .batch
            .as_ref()
            .map(|batch| transaction_agreement(batch, &ran))
            .unwrap_or_default();
        let verdict = match judge(ran) {
            Ok(v) => v,
            Err(()) => Verdict::Unsupported(
                declined
                    .iter()
                    .map(|d| format!("{}: {}", d.backend, d.reason))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        };
        Checked {
            verdict,
            declined,
            transactions,
        }
    }

    /// Reruns a disagreeing case with traces and names the first step where the two
    /// compared backends part; every backend's state at that step is kept for the report.
    pub fn explain(&self, case: &Case, finding: Finding) -> Explanation {
        let (left, right) = match &finding {
            Finding::Divergence { left, right, .. } => (left.clone(), right.clone()),
            Finding::Crash { backend, .. } | Finding::Unsupported { backend, .. } => {
                (backend.clone(), backend.clone())
            }
        };
        let mut explanation = Explanation {
            left,
            right,
            detail: String::new(),
            signature: String::new(),
            step: None,
            others: Vec::new(),
            traces_cut_at: None,
            untraced: None,
            unobserved: Vec::new(),
            batch: None,
            batch_transaction: None,
            panics: Vec::new(),
            finding,
        };
        if matches!(explanation.finding, Finding::Divergence { .. }) {
            self.trace_divergence(case, &mut explanation);
        }
        explanation.signature = signature(&explanation.finding, explanation.step.as_ref());
        explanation.detail = detail(&explanation.finding, explanation.step.as_ref());
        explanation
    }

    fn trace_divergence(&self, case: &Case, e: &mut Explanation) {
        let (ran, _) = self.run_all(case, true);
        let find = |name: &str| {
            ran.iter()
                .find(|r| r.backend.name() == name)
                .and_then(|r| r.result.as_ref().ok().map(|run| (r.backend, run)))
        };
        let (Some((lb, a)), Some((rb, b))) = (find(&e.left), find(&e.right)) else {
            return;
        };
        let mut unobserved = lb.unobserved().either(rb.unobserved());
        unobserved.batch_internals &= case.batch.is_some();
        e.unobserved = unobserved.names();
        if let (Some(x), Some(y)) = (&a.state.batch, &b.state.batch) {
            if let Some((tx, text)) = where_batches_part(x, y) {
                e.batch = Some(text);
                e.batch_transaction = tx;
            }
        }
        e.untraced = [(lb, a), (rb, b)]
            .into_iter()
            .find(|(_, run)| run.trace.is_none())
            .map(|(backend, _)| backend.name().to_string());
        if let (Some(ta), Some(tb)) = (&a.trace, &b.trace) {
            e.step = first_step_difference_of(ta, tb, unobserved);
            let limit = crate::observe::max_trace_steps();
            if e.step.is_none() && ta.len() >= limit {
                e.traces_cut_at = Some(limit);
            }
        }
        // Cycles count from 1: the step at index i is cycle i + 1.
        let until = e.step.as_ref().map_or(u64::MAX, |s| s.index as u64 + 1);
        e.panics = ran
            .iter()
            .filter_map(|r| {
                let panics = r.result.as_ref().ok()?.panics.up_to(until, 3);
                (!panics.is_empty()).then(|| (r.backend.name().to_string(), panics))
            })
            .collect();
        let Some(index) = e.step.as_ref().map(|s| s.index) else {
            return;
        };
        e.others = ran
            .iter()
            .filter(|r| r.backend.name() != e.left && r.backend.name() != e.right)
            .filter_map(|r| {
                let run = r.result.as_ref().ok()?;
                let step = run.trace.as_ref().and_then(|t| t.get(index).cloned());
                Some((r.backend.name().to_string(), step))
            })
            .collect();
    }
}

/// What [`Judge::check_counted`] found.
#[derive(Clone, Debug)]
pub struct Checked {
    pub verdict: Verdict,
    pub declined: Vec<Declined>,
    /// Per pair of backends that ran a batch (`a=b`): transactions they agree on and
    /// transactions they do not (see [`TxShown`]).
    pub transactions: Vec<(String, [u64; 2])>,
}

/// What a run shows of one pushed transaction, as a node reports it too: rejected by the
/// bootloader, or kept with its success, its output when it succeeded, and its refund; or
/// missing (the run ended before it).
#[derive(Clone, Debug, PartialEq, Eq)]
enum TxShown {
    Rejected,
    Kept(bool, String, String),
    Missing,
}

/// Per pushed transaction that is not rolled back by design, what `state` shows of it.
fn transactions_shown(rolled_back: &[bool], state: &crate::observe::FinalState) -> Vec<TxShown> {
    let Some(view) = state.batch.as_ref() else {
        return Vec::new();
    };
    let mut results = view.results.iter();
    let mut shown = Vec::new();
    for (i, &rollback) in rolled_back.iter().enumerate() {
        if view.rejected.iter().any(|(r, _)| *r == i) {
            shown.push(TxShown::Rejected);
        } else if !rollback {
            shown.push(match results.next() {
                Some(result) => {
                    let (ok, output, refund) = crate::compare::as_a_node_reports(result);
                    TxShown::Kept(ok, output, refund)
                }
                None => TxShown::Missing,
            });
        }
    }
    shown
}

/// How many transactions of `batch` each pair of runs agrees on.
fn transaction_agreement(batch: &crate::case::Batch, ran: &[Ran<'_>]) -> Vec<(String, [u64; 2])> {
    let rolled_back = batch.rollback_flags();
    let shown: Vec<(&str, Vec<TxShown>)> = ran
        .iter()
        .filter_map(|r| {
            let run = r.result.as_ref().ok()?;
            Some((
                r.backend.name(),
                transactions_shown(&rolled_back, &run.state),
            ))
        })
        .collect();
    let mut pairs = Vec::new();
    for (i, (a, xs)) in shown.iter().enumerate() {
        for (b, ys) in &shown[i + 1..] {
            let agree = xs.iter().zip(ys).filter(|(x, y)| x == y).count() as u64;
            let all = xs.len().max(ys.len()) as u64;
            pairs.push((format!("{a}={b}"), [agree, all - agree]));
        }
    }
    pairs
}

/// The verdict on what the backends did; `Err` if fewer than two ran.
fn judge(ran: Vec<Ran<'_>>) -> Result<Verdict, ()> {
    let failure = |backend: &dyn Backend, e: &BackendError| match e {
        BackendError::Crashed(message) => Finding::Crash {
            backend: backend.name().to_string(),
            message: message.clone(),
        },
        BackendError::Unsupported(message) => Finding::Unsupported {
            backend: backend.name().to_string(),
            message: message.clone(),
        },
    };
    // A crash outranks everything else on any side, then a backend that could not run;
    // except that when a reference crashed (one that may decline), the others that ran are
    // still compared, and a finding against eravm among them comes first.
    let crashed = ran
        .iter()
        .position(|r| matches!(r.result, Err(BackendError::Crashed(_))));
    if let Some(at) = crashed.or_else(|| ran.iter().position(|r| r.result.is_err())) {
        let (backend, e) = match &ran[at].result {
            Err(e) => (ran[at].backend, e.clone()),
            Ok(_) => unreachable!("found by its error"),
        };
        if backend.may_decline() {
            let others: Vec<Ran<'_>> = ran.into_iter().filter(|r| r.result.is_ok()).collect();
            if let Ok(Verdict::Disagree(finding)) = judge(others) {
                if reference_at_fault(&signature(&finding, None)).is_none() {
                    return Ok(Verdict::Disagree(finding));
                }
            }
        }
        return Ok(Verdict::Disagree(failure(backend, &e)));
    }
    if ran.len() < 2 {
        return Err(());
    }
    let runs: Vec<(&dyn Backend, Run)> = ran
        .into_iter()
        .filter_map(|r| Some((r.backend, r.result.ok()?)))
        .collect();
    let groups = group_by_state(&runs);
    if groups.len() == 1 {
        let (_, run) = runs.into_iter().next().ok_or(())?;
        return Ok(Verdict::Agree(Box::new(run)));
    }
    // Compare the largest group's first member with the odd one out (a group of one), or
    // else with the first member of the next group.
    let mut order: Vec<&Vec<usize>> = groups.iter().collect();
    order.sort_by_key(|g| std::cmp::Reverse(g.len()));
    let majority = order[0];
    let backends: Vec<&dyn Backend> = runs.iter().map(|(b, _)| *b).collect();
    let odd = odd_one_out(&backends, &order);
    let (l, r) = (majority[0], order[1][0]);
    let unobserved = runs[l].0.unobserved().either(runs[r].0.unobserved());
    let diff = first_difference_of(&runs[l].1.state, &runs[r].1.state, unobserved)
        .expect("runs in different groups differ");
    Ok(Verdict::Disagree(Finding::Divergence {
        diff,
        left: runs[l].0.name().to_string(),
        right: runs[r].0.name().to_string(),
        odd,
        groups: groups
            .iter()
            .map(|g| g.iter().map(|&i| runs[i].0.name().to_string()).collect())
            .collect(),
    }))
}

/// The name of the side that disagrees with all others, when the others agree: a backend
/// alone against two or more; or [`OUR_OPERATORS`] when the node's two operators agree with
/// each other against every VM that ran our operator protocol (our operators share the
/// protocol code, so that is no majority against the node: either our operators or the
/// node's are wrong, and it is a finding against us until triaged).
fn odd_one_out(backends: &[&dyn Backend], order: &[&Vec<usize>]) -> Option<String> {
    let [majority, minority] = order else {
        return None;
    };
    if minority.len() == 1 && majority.len() >= 2 {
        return Some(backends[minority[0]].name().to_string());
    }
    let independent = |i: &usize| !backends[*i].runs_our_operator();
    let all_ours_against_them = minority.len() >= 2
        && minority.iter().all(independent)
        && !majority.iter().any(independent);
    all_ours_against_them.then(|| OUR_OPERATORS.to_string())
}

/// The odd one out when the node's operators, agreeing, disagree with all of ours.
pub const OUR_OPERATORS: &str = "operators";

/// Groups runs by final state: a run joins the first group whose first member it agrees
/// with (each pair compared without what either side leaves out).
fn group_by_state(runs: &[(&dyn Backend, Run)]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, (backend, run)) in runs.iter().enumerate() {
        let joins = groups.iter_mut().find(|g| {
            let (other, first) = &runs[g[0]];
            let unobserved = backend.unobserved().either(other.unobserved());
            first_difference_of(&first.state, &run.state, unobserved).is_none()
        });
        match joins {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    groups
}

/// A finding explained: the two compared backends rerun with step traces.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub left: String,
    pub right: String,
    pub finding: Finding,
    /// The first cycle where the traces part, if they do.
    pub step: Option<StepDiff>,
    /// The other backends' states after that same cycle.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<(String, Option<StepState>)>,
    /// Where the traces were cut (see [`crate::observe::max_trace_steps`]) without parting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traces_cut_at: Option<usize>,
    /// A compared backend that keeps no step trace (the node's operators report outcomes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untraced: Option<String>,
    /// What the comparison of `left` and `right` left out (see `docs/backends.md`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unobserved: Vec<&'static str>,
    /// Groups findings with the same cause.
    pub signature: String,
    /// What differed first and at which exact instruction form.
    pub detail: String,
    /// For batch cases: the transaction and hook where the operators' views first part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    /// Why frames panicked, from each backend that says (eravm): the latest few up to the
    /// first differing step, or up to the end if the traces do not part.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub panics: Vec<(String, Vec<crate::observe::PanicView>)>,
    /// The transaction (index among those pushed) where the operators' views first part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_transaction: Option<usize>,
}

/// Where two views of one batch first differ: the first hook that differs (or is missing on
/// one side), else a transaction's result, else the pubdata; with the transaction, if one.
fn where_batches_part(
    a: &crate::observe::BatchView,
    b: &crate::observe::BatchView,
) -> Option<(Option<usize>, String)> {
    let hook = (0..a.hooks.len().max(b.hooks.len())).find(|&i| a.hooks.get(i) != b.hooks.get(i));
    if let Some(i) = hook {
        let h = a.hooks.get(i).or(b.hooks.get(i))?;
        let what = match (a.hooks.get(i), b.hooks.get(i)) {
            (Some(x), Some(y)) if x.hook != y.hook => "a different hook",
            (Some(x), Some(y)) if x.params != y.params => "its parameters",
            (Some(_), Some(_)) => "the registers",
            _ => "raised on one side only",
        };
        return Some((
            Some(h.tx),
            format!("transaction {}, hook #{i} ({}): {what}", h.tx, h.hook),
        ));
    }
    if let Some(i) =
        (0..a.results.len().max(b.results.len())).find(|&i| a.results.get(i) != b.results.get(i))
    {
        return Some((Some(i), format!("transaction {i}: its result")));
    }
    (a.pubdata != b.pubdata).then(|| (None, "the published pubdata".to_string()))
}

/// The signature that groups findings: what differs, and at which instruction.
pub fn signature(finding: &Finding, step: Option<&StepDiff>) -> String {
    match finding {
        // One bug shows at one instruction whatever its operands and modifiers make differ
        // (a register, a stack write, the flags): group by the bare opcode.
        Finding::Divergence { diff, odd, .. } => {
            let at = match step.and_then(step_that_ran) {
                Some(s) => format!(
                    "diverges@{}",
                    eravm::Instruction::decode(s.executed).opcode.mnemonic()
                ),
                None => format!("{}@end", diff.class),
            };
            // A finding against eravm keeps one signature whether or not the third backend
            // could host the case; one in a reference is named after it.
            match odd {
                Some(odd) if odd != "eravm" => format!("{odd}:{at}"),
                _ => at,
            }
        }
        Finding::Crash { backend, message } => format!("crash:{backend}:{}", normalise(message)),
        Finding::Unsupported { backend, message } => {
            format!("unsupported:{backend}:{}", normalise(message))
        }
    }
}

/// The first differing step as a side that reports what ran saw it (a side that ran no
/// instruction there, its run having ended, does not).
pub fn step_that_ran(step: &StepDiff) -> Option<&StepState> {
    [step.left.as_ref(), step.right.as_ref()]
        .into_iter()
        .flatten()
        .find(|x| x.executed != 0)
}

/// The reference a finding is in, by its signature: `zk_evm`, `vm2`, `node-vm1` or
/// `node-fast` when that backend is the odd one out or crashed; `None` when eravm is
/// involved (the odd one out, no majority, a crash of eravm) or our operators disagree with
/// the node's ([`OUR_OPERATORS`]).
pub fn reference_at_fault(signature: &str) -> Option<&'static str> {
    let rest = signature.strip_prefix("crash:").unwrap_or(signature);
    ["zk_evm", "vm2", "node-vm1", "node-fast"]
        .into_iter()
        .find(|name| rest.strip_prefix(name).is_some_and(|r| r.starts_with(':')))
}

/// The fine-grained form: which field, at which instruction with its modifiers and predicate.
pub fn detail(finding: &Finding, step: Option<&StepDiff>) -> String {
    match (finding, step) {
        (Finding::Divergence { .. }, Some(s)) => {
            let at = step_that_ran(s)
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
pub(crate) fn normalise(message: &str) -> String {
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
