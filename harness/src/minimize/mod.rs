//! Shrinking a disagreeing case while its signature stays the same.
//!
//! Passes, repeated until none makes progress or the budget of reruns is spent:
//! replace runs of instructions with `nop` (halves, quarters, ... single slots), cut code
//! words off the end, simplify each remaining instruction (condition, modifiers, dst1,
//! immediates, registers), drop initial registers, calldata, frame settings, and in worlds
//! contracts, storage entries and their programs' instructions; lower ergs and the cycle cap.
//! Every candidate is kept only if it still gives exactly the original signature.

use eravm::decoder::code_word_instructions;
use eravm::{Condition, Instruction, U256};

use crate::case::{Case, FrameSettings, Word};
use crate::differential::{Judge, Verdict};

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
            .map(|w| w.contracts.iter().map(|c| count(&c.code)).sum::<usize>())
            .unwrap_or(0)
}

/// The signature of a case's finding, or `None` if the backends agree.
pub fn signature_of(judge: &Judge, case: &Case) -> Option<String> {
    match judge.check(case) {
        Verdict::Agree(_) | Verdict::Unsupported(_) => None,
        Verdict::Disagree(finding) => Some(judge.explain(case, finding).signature),
    }
}

/// The result of a minimisation.
#[derive(Clone, Debug)]
pub struct Minimized {
    /// The smallest case found with the signature.
    pub case: Case,
    /// The signature it kept.
    pub signature: String,
    /// Instructions of the case as given.
    pub instructions_before: usize,
    /// Instructions of the smaller case.
    pub instructions_after: usize,
    /// Reruns spent.
    pub reruns: usize,
}

struct Shrinker<'a> {
    judge: Judge<'a>,
    signature: String,
    best: Case,
    reruns: usize,
    budget: usize,
}

impl Shrinker<'_> {
    /// Keeps `candidate` if it still fails the same way.
    fn try_case(&mut self, candidate: Case) -> bool {
        if self.reruns >= self.budget || candidate == self.best {
            return false;
        }
        self.reruns += 1;
        if signature_of(&self.judge, &candidate).as_deref() == Some(self.signature.as_str()) {
            self.best = candidate;
            true
        } else {
            false
        }
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
            remove_at(&mut w.enumerated, i)
        });
        let contracts = self
            .best
            .world
            .as_ref()
            .map(|w| w.contracts.len())
            .unwrap_or(0);
        for i in 0..contracts {
            progress |= self.nop_out(Some(i));
            progress |= self.truncate(Some(i));
            progress |= self.drop_words(Some(i));
        }
        progress
    }
}

/// Shrinks `case`, rerunning it at most `budget` times. `None` if it does not disagree.
pub fn minimize(judge: &Judge, case: &Case, budget: usize) -> Option<Minimized> {
    let signature = signature_of(judge, case)?;
    let mut s = Shrinker {
        judge: *judge,
        signature: signature.clone(),
        best: case.clone(),
        reruns: 0,
        budget,
    };
    loop {
        let mut progress = false;
        progress |= s.simplify_world();
        progress |= s.nop_out(None);
        progress |= s.truncate(None);
        progress |= s.drop_words(None);
        progress |= s.simplify_instructions(None);
        progress |= s.simplify_setup();
        if !progress || s.reruns >= s.budget {
            break;
        }
    }
    let mut case_out = s.best.clone();
    case_out.note = format!(
        "{}minimised from {} to {} instructions (signature {})",
        if case.note.is_empty() {
            String::new()
        } else {
            format!("{}; ", case.note)
        },
        instruction_count(case),
        instruction_count(&s.best),
        signature
    );
    Some(Minimized {
        instructions_before: instruction_count(case),
        instructions_after: instruction_count(&s.best),
        case: case_out,
        signature,
        reruns: s.reruns,
    })
}

fn remove_at<T>(items: &mut Vec<T>, i: usize) {
    if i < items.len() {
        items.remove(i);
    }
}
