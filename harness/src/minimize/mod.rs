//! Shrinking a disagreeing case while it fails the same way, from the same place.
//!
//! Passes, repeated until none makes progress or the budget of reruns is spent: remove a
//! batch's transactions (halves, quarters, ... single ones) and the L2 blocks left empty;
//! replace runs of instructions with `nop` (halves, quarters, ... single slots), cut code
//! words off the end, simplify each remaining instruction (condition, modifiers, dst1,
//! immediates, registers), drop initial registers, calldata, frame settings, and in worlds
//! contracts, storage entries and their programs' instructions; lower ergs and the cycle cap.
//! A batch's top-level code is the bootloader, and is left whole, as are the system contracts
//! (kernel space) of a batch for the production bootloader.
//!
//! Every candidate is kept only if it is a valid case that gives exactly the original
//! signature and the original [`FirstDifference`]: the same field differing first, at the
//! same opcode variant. The smallest case is rerun once more at the end; should its first
//! difference not be the original's after all, [`Minimized::first_difference_moved`] says so.

mod batch;
mod start;

use std::fmt::{self, Write};

use eravm::decoder::code_word_instructions;
use eravm::{Condition, Instruction, U256};

use crate::case::{Case, FrameSettings, Word};
use crate::differential::{step_that_ran, Explanation, Finding, Judge, Verdict};

pub use batch::transaction_count;

/// The raw word of a plain `nop`.
fn nop_raw() -> u64 {
    Instruction::nop().encode().expect("nop encodes")
}

/// Instructions that are neither `nop` nor empty slots, in all code the case holds.
pub fn instruction_count(case: &Case) -> usize {
    let nop = nop_raw();
    let count = |code: &[Word]| {
        code.iter()
            .flat_map(|w| code_word_instructions(&w.0))
            .filter(|&raw| raw != 0 && raw != nop)
            .count()
    };
    count(&case.code)
        + case
            .world
            .as_ref()
            .map_or(0, |w| w.contracts.iter().map(|c| count(&c.code)).sum())
}

/// The signature of a case's finding, or `None` if the backends agree.
pub fn signature_of(judge: &Judge, case: &Case) -> Option<String> {
    failure_of(judge, case).map(|f| f.signature)
}

/// Where a finding first shows: the field that differs first (its class: the dotted path
/// without indices, `registers`, `frame.ergs`), and the opcode variant that ran at the first
/// differing step (`add!`, `st.1`; `end` when the step traces agree and only the final
/// states differ, the whole signature for a crash or a backend that could not run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstDifference {
    /// The class of the field that differs first.
    pub field: String,
    /// The opcode variant that ran where it first differs.
    pub instruction: String,
}

impl FirstDifference {
    /// The first difference an explained finding names.
    pub fn of(explanation: &Explanation) -> FirstDifference {
        match (&explanation.finding, &explanation.step) {
            (_, Some(step)) => FirstDifference {
                field: step.field.class.clone(),
                instruction: step_that_ran(step).map_or_else(
                    || "?".into(),
                    |ran| Instruction::decode(ran.executed).name(),
                ),
            },
            (Finding::Divergence { diff, .. }, None) => FirstDifference {
                field: diff.class.clone(),
                instruction: "end".into(),
            },
            _ => FirstDifference {
                field: explanation.signature.clone(),
                instruction: String::new(),
            },
        }
    }
}

impl fmt::Display for FirstDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` at `{}`", self.field, self.instruction)
    }
}

/// How a case fails: the signature of its finding and where it first shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// What groups the finding with others of the same cause.
    pub signature: String,
    /// Where it first shows.
    pub first_difference: FirstDifference,
}

/// How a case fails, or `None` if the backends agree (or cannot be compared).
pub fn failure_of(judge: &Judge, case: &Case) -> Option<Failure> {
    match judge.check(case) {
        Verdict::Agree(_) | Verdict::Unsupported(_) => None,
        Verdict::Disagree(finding) => {
            let explanation = judge.explain(case, finding);
            Some(Failure {
                first_difference: FirstDifference::of(&explanation),
                signature: explanation.signature,
            })
        }
    }
}

/// The result of a minimisation.
#[derive(Clone, Debug)]
pub struct Minimized {
    /// The smallest case found with the signature.
    pub case: Case,
    /// The signature it kept.
    pub signature: String,
    /// Where the case as given first differs, which every smaller case tried had to keep.
    pub first_difference: FirstDifference,
    /// The first difference as given and as the smallest case shows it, rendered, if the
    /// two are not the same (the smallest case, rerun at the end, did not show it again).
    pub first_difference_moved: Option<(String, String)>,
    /// Instructions of the case as given.
    pub instructions_before: usize,
    /// Instructions of the smaller case.
    pub instructions_after: usize,
    /// Transactions the case's batch pushes, as given.
    pub transactions_before: usize,
    /// Transactions the smaller case's batch pushes.
    pub transactions_after: usize,
    /// Reruns spent.
    pub reruns: usize,
}

impl Minimized {
    /// The sizes before and after: `from 200 to 4 instructions, from 50 to 2 transactions`
    /// (transactions only for a batch).
    pub fn sizes(&self) -> String {
        let mut sizes = format!(
            "from {} to {} instructions",
            self.instructions_before, self.instructions_after
        );
        if self.transactions_before > 0 {
            let _ = write!(
                sizes,
                ", from {} to {} transactions",
                self.transactions_before, self.transactions_after
            );
        }
        sizes
    }

    /// One line saying what the minimiser did: the sizes, the reruns, and whether the first
    /// difference stayed where it was.
    pub fn summary(&self) -> String {
        format!(
            "minimised {} in {} reruns; {}",
            self.sizes(),
            self.reruns,
            self.first_difference_line()
        )
    }

    /// Whether the first difference was kept, or where it moved.
    pub fn first_difference_line(&self) -> String {
        match &self.first_difference_moved {
            None => format!("first difference kept: {}", self.first_difference),
            Some((was, now)) => format!("the first difference moved: was {was}, now {now}"),
        }
    }
}

struct Shrinker<'a> {
    judge: Judge<'a>,
    failure: Failure,
    best: Case,
    reruns: usize,
    budget: usize,
}

impl Shrinker<'_> {
    /// Keeps `candidate` if it is a valid case that still fails the same way, first
    /// differing in the same field at the same opcode variant.
    fn try_case(&mut self, candidate: Case) -> bool {
        if self.reruns >= self.budget || candidate == self.best || candidate.validate().is_err() {
            return false;
        }
        self.reruns += 1;
        if failure_of(&self.judge, &candidate).as_ref() == Some(&self.failure) {
            self.best = candidate;
            true
        } else {
            false
        }
    }

    /// Removes the batch's transactions in chunks, halves first, down to single ones; a
    /// chunk that can go goes, and the next chunk starts where it was.
    fn drop_transactions(&mut self) -> bool {
        let mut progress = false;
        for chunk in batch::chunk_sizes(transaction_count(&self.best)) {
            let mut start = 0;
            while start < transaction_count(&self.best) && self.reruns < self.budget {
                let Some(b) = self.best.batch.as_ref() else {
                    return progress;
                };
                let mut c = self.best.clone();
                c.batch = Some(batch::without_transactions(b, start..start + chunk));
                if self.try_case(c) {
                    progress = true;
                } else {
                    start += chunk;
                }
            }
        }
        progress | self.drop_empty_blocks()
    }

    /// Removes each L2 block without transactions (never the closing one).
    fn drop_empty_blocks(&mut self) -> bool {
        let Some(b) = self.best.batch.clone() else {
            return false;
        };
        let mut progress = false;
        for i in batch::empty_blocks(&b) {
            let mut c = self.best.clone();
            if let Some(smaller) = c.batch.as_mut() {
                remove_at(&mut smaller.blocks, i);
            }
            progress |= self.try_case(c);
        }
        progress
    }

    /// Shrinks the top-level program, unless it is a batch's bootloader.
    fn simplify_program(&mut self) -> bool {
        if self.best.batch.is_some() {
            return false;
        }
        let mut progress = false;
        progress |= self.nop_out(None);
        progress |= self.truncate(None);
        progress |= self.drop_words(None);
        progress |= self.simplify_instructions(None);
        progress
    }

    fn with_code(&self, which: Option<usize>, code: Vec<Word>) -> Case {
        let mut c = self.best.clone();
        match which {
            None => c.code = code,
            Some(i) => {
                if let Some(w) = c.world.as_mut() {
                    w.contracts[i].code = code;
                }
            }
        }
        c
    }

    fn code(&self, which: Option<usize>) -> Vec<Word> {
        match which {
            None => self.best.code.clone(),
            Some(i) => self
                .best
                .world
                .as_ref()
                .map(|w| w.contracts[i].code.clone())
                .unwrap_or_default(),
        }
    }

    /// Replaces runs of slots with nops, coarse to fine.
    fn nop_out(&mut self, which: Option<usize>) -> bool {
        let mut progress = false;
        let slots = self.code(which).len() * 4;
        let mut chunk = slots.next_power_of_two().max(1);
        while chunk >= 1 {
            let mut start = 0;
            while start < slots {
                let code = self.code(which);
                let mut changed = code.clone();
                let mut any = false;
                for slot in start..(start + chunk).min(slots) {
                    let (w, i) = (slot / 4, slot % 4);
                    let limb = 3 - i;
                    if changed[w].0 .0[limb] != nop_raw() {
                        changed[w].0 .0[limb] = nop_raw();
                        any = true;
                    }
                }
                if any && self.try_case(self.with_code(which, changed)) {
                    progress = true;
                }
                start += chunk;
            }
            chunk /= 2;
        }
        progress
    }

    /// Cuts words off the end of the code.
    fn truncate(&mut self, which: Option<usize>) -> bool {
        let mut progress = false;
        loop {
            let code = self.code(which);
            if code.is_empty() {
                return progress;
            }
            let mut shorter = code.clone();
            shorter.pop();
            if !self.try_case(self.with_code(which, shorter)) {
                return progress;
            }
            progress = true;
        }
    }

    /// Removes whole code words (moving everything after them up), first to last.
    fn drop_words(&mut self, which: Option<usize>) -> bool {
        let mut progress = false;
        let mut w = 0;
        while w < self.code(which).len() {
            let mut shorter = self.code(which);
            shorter.remove(w);
            if self.try_case(self.with_code(which, shorter)) {
                progress = true;
            } else {
                w += 1;
            }
        }
        progress
    }

    /// Simplifies each instruction that is left: fewer features, smaller numbers.
    fn simplify_instructions(&mut self, which: Option<usize>) -> bool {
        let mut progress = false;
        let slots = self.code(which).len() * 4;
        for slot in 0..slots {
            let (w, limb) = (slot / 4, 3 - slot % 4);
            let raw = self.code(which)[w].0 .0[limb];
            if raw == 0 || raw == nop_raw() {
                continue;
            }
            let ins = Instruction::decode(raw);
            let mut variants: Vec<Instruction> = Vec::new();
            let mut push = |f: &dyn Fn(&mut Instruction)| {
                let mut v = ins;
                f(&mut v);
                if v != ins {
                    variants.push(v);
                }
            };
            push(&|i| i.condition = Condition::Always);
            push(&|i| i.dst1 = 0);
            push(&|i| i.modifiers = [false, false]);
            push(&|i| i.imm0 = 0);
            push(&|i| i.imm1 = 0);
            push(&|i| i.src0 = 0);
            push(&|i| i.src1 = 0);
            push(&|i| i.dst0 = 1);
            for v in variants {
                let Some(encoded) = v.encode() else { continue };
                let mut code = self.code(which);
                code[w].0 .0[limb] = encoded;
                if self.try_case(self.with_code(which, code)) {
                    progress = true;
                }
            }
        }
        progress
    }

    fn simplify_setup(&mut self) -> bool {
        let mut progress = false;
        for i in (0..self.best.registers.len()).rev() {
            let mut c = self.best.clone();
            if i < c.registers.len() {
                c.registers.remove(i);
                progress |= self.try_case(c);
            }
        }
        for i in 0..self.best.registers.len() {
            for value in [U256::zero(), U256::one()] {
                let mut c = self.best.clone();
                c.registers[i].value = Word(value);
                progress |= self.try_case(c);
            }
        }
        if !self.best.calldata.0.is_empty() {
            let mut c = self.best.clone();
            c.calldata.0.clear();
            progress |= self.try_case(c);
        }
        if self.best.frame != FrameSettings::default() {
            let mut c = self.best.clone();
            c.frame = FrameSettings::default();
            progress |= self.try_case(c);
        }
        // Fewer ergs and a lower cycle cap, halving while it holds.
        loop {
            let mut c = self.best.clone();
            c.ergs /= 2;
            if c.ergs == self.best.ergs || !self.try_case(c) {
                break;
            }
            progress = true;
        }
        loop {
            let mut c = self.best.clone();
            c.max_cycles /= 2;
            if c.max_cycles == self.best.max_cycles || !self.try_case(c) {
                break;
            }
            progress = true;
        }
        progress
    }

    /// Tries dropping each of `len` world entries, last first.
    fn drop_each(&mut self, len: usize, drop: impl Fn(&mut crate::world::World, usize)) -> bool {
        let mut progress = false;
        for i in (0..len).rev() {
            let mut c = self.best.clone();
            if let Some(w) = c.world.as_mut() {
                drop(w, i);
            }
            progress |= self.try_case(c);
        }
        progress
    }

    /// Whether the code of the world's `i`th contract may be shrunk: not that of a system
    /// contract (in kernel space) under the production bootloader, which is the protocol's
    /// and thousands of words long; anything else.
    fn may_shrink_code_of(&self, i: usize) -> bool {
        let production = self
            .best
            .batch
            .as_ref()
            .is_some_and(crate::case::Batch::runs_production_bootloader);
        let in_user_space = |w: &crate::world::World| {
            w.contracts
                .get(i)
                .is_some_and(|c| !eravm::state::is_kernel_address(&c.address.0))
        };
        !production || self.best.world.as_ref().is_some_and(in_user_space)
    }

    /// Tries each smaller start state, keeping every one that still fails the same way.
    fn simplify_start(&mut self) -> bool {
        let mut progress = false;
        let mut i = 0;
        loop {
            let Some(start) = self.best.start.clone() else {
                return progress;
            };
            let candidates = start::smaller(&start);
            let Some(candidate) = candidates.into_iter().nth(i) else {
                return progress;
            };
            let mut c = self.best.clone();
            c.start = candidate;
            if self.try_case(c) {
                progress = true;
            } else {
                i += 1;
            }
            if self.reruns >= self.budget {
                return progress;
            }
        }
    }

    fn simplify_world(&mut self) -> bool {
        let Some(world) = self.best.world.clone() else {
            return false;
        };
        let mut progress = false;
        {
            let mut c = self.best.clone();
            c.world = None;
            if self.try_case(c) {
                return true;
            }
        }
        progress |= self.drop_each(world.contracts.len(), |w, i| remove_at(&mut w.contracts, i));
        progress |= self.drop_each(world.storage.len(), |w, i| remove_at(&mut w.storage, i));
        progress |= self.drop_each(world.enumerated.len(), |w, i| {
            remove_at(&mut w.enumerated, i);
        });
        let contracts = self.best.world.as_ref().map_or(0, |w| w.contracts.len());
        let shrinkable: Vec<usize> = (0..contracts)
            .filter(|&i| self.may_shrink_code_of(i))
            .collect();
        for i in shrinkable {
            progress |= self.nop_out(Some(i));
            progress |= self.truncate(Some(i));
            progress |= self.drop_words(Some(i));
        }
        progress
    }
}

/// Shrinks `case`, rerunning it at most `budget` times (and once more to check the result).
/// `None` if it does not disagree.
pub fn minimize(judge: &Judge, case: &Case, budget: usize) -> Option<Minimized> {
    let failure = failure_of(judge, case)?;
    let mut s = Shrinker {
        judge: *judge,
        failure: failure.clone(),
        best: case.clone(),
        reruns: 0,
        budget,
    };
    loop {
        let mut progress = false;
        progress |= s.drop_transactions();
        progress |= s.simplify_world();
        progress |= s.simplify_start();
        progress |= s.simplify_program();
        progress |= s.simplify_setup();
        if !progress || s.reruns >= s.budget {
            break;
        }
    }
    let moved = s.check_result(case);
    Some(result(case, s, moved))
}

impl Shrinker<'_> {
    /// Reruns the smallest case (if it is not the case as given): the first differences as
    /// given and as it shows them, if they are not the same.
    fn check_result(&mut self, original: &Case) -> Option<(String, String)> {
        if self.best == *original {
            return None;
        }
        self.reruns += 1;
        let now = failure_of(&self.judge, &self.best);
        let was = &self.failure.first_difference;
        match now {
            Some(f) if f.first_difference == *was => None,
            Some(f) => Some((was.to_string(), f.first_difference.to_string())),
            None => Some((was.to_string(), "none: the backends agree".into())),
        }
    }
}

fn result(case: &Case, s: Shrinker, moved: Option<(String, String)>) -> Minimized {
    let mut m = Minimized {
        instructions_before: instruction_count(case),
        instructions_after: instruction_count(&s.best),
        transactions_before: transaction_count(case),
        transactions_after: transaction_count(&s.best),
        case: s.best,
        signature: s.failure.signature,
        first_difference: s.failure.first_difference,
        first_difference_moved: moved,
        reruns: s.reruns,
    };
    let earlier = if case.note.is_empty() {
        String::new()
    } else {
        format!("{}; ", case.note)
    };
    m.case.note = format!(
        "{earlier}minimised {} (signature {}; {})",
        m.sizes(),
        m.signature,
        m.first_difference_line()
    );
    m
}

fn remove_at<T>(items: &mut Vec<T>, i: usize) {
    if i < items.len() {
        items.remove(i);
    }
}
