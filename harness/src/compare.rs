//! Comparing two runs: the first field of the final state where they differ, and the first
//! cycle where their step traces part.

use std::fmt;

use serde::Serialize;

use crate::frames::{CallersView, FrameDigests, FramesAtStep};
use crate::observe::{BatchView, FinalState, FrameView, RunEnd, StepState, Tagged, WorldView};

/// A field whose value differs between two runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldDiff {
    /// Dotted path of the field, e.g. `registers.r3`, `heap[0x20]`, `last_frame.sp`.
    pub field: String,
    /// The field without indices, for grouping: `registers`, `heap`, `last_frame.sp`.
    pub class: String,
    pub left: String,
    pub right: String,
}

impl fmt::Display for FieldDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} vs {}", self.field, self.left, self.right)
    }
}

/// Keeps reports readable when a value is long (return data, write lists).
fn shorten(s: String) -> String {
    const KEEP: usize = 240;
    if s.len() <= KEEP {
        return s;
    }
    let cut = (0..=KEEP)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}… ({} characters)", &s[..cut], s.len())
}

struct Differ {
    first: Option<FieldDiff>,
}

impl Differ {
    fn field<T: PartialEq + fmt::Debug>(&mut self, class: &str, field: String, a: &T, b: &T) {
        if self.first.is_none() && a != b {
            self.first = Some(FieldDiff {
                field,
                class: class.to_string(),
                left: shorten(format!("{a:?}")),
                right: shorten(format!("{b:?}")),
            });
        }
    }

    fn simple<T: PartialEq + fmt::Debug>(&mut self, name: &str, a: &T, b: &T) {
        self.field(name, name.to_string(), a, b);
    }

    fn tagged(&mut self, class: &str, field: String, a: &Tagged, b: &Tagged) {
        if self.first.is_none() && a != b {
            self.first = Some(FieldDiff {
                field,
                class: class.to_string(),
                left: a.to_string(),
                right: b.to_string(),
            });
        }
    }

    fn frame(&mut self, prefix: &str, a: &FrameView, b: &FrameView) {
        let f = |name: &str| format!("{prefix}.{name}");
        self.simple(&f("depth"), &a.depth, &b.depth);
        self.simple(&f("pc"), &a.pc, &b.pc);
        self.simple(&f("sp"), &a.sp, &b.sp);
        self.simple(&f("ergs"), &a.ergs, &b.ergs);
        self.simple(
            &f("exception_handler"),
            &a.exception_handler,
            &b.exception_handler,
        );
        self.simple(&f("heap_bound"), &a.heap_bound, &b.heap_bound);
        self.simple(&f("aux_heap_bound"), &a.aux_heap_bound, &b.aux_heap_bound);
        self.simple(&f("is_local"), &a.is_local, &b.is_local);
        self.simple(&f("context_u128"), &a.context_u128, &b.context_u128);
    }

    /// The watched parts of a step, each where both sides show it.
    fn watched(&mut self, a: &FramesAtStep, b: &FramesAtStep) {
        if let (Some(x), Some(y)) = (&a.modes, &b.modes) {
            self.simple("kernel_mode", &x.kernel, &y.kernel);
            self.simple("static", &x.is_static, &y.is_static);
        }
        if let (Some(x), Some(y)) = (&a.callers, &b.callers) {
            self.callers(x, y);
        }
        if let (Some(x), Some(y)) = (&a.context_register, &b.context_register) {
            self.simple("context_register", x, y);
        }
        if let (Some(x), Some(y)) = (&a.decommitted, &b.decommitted) {
            self.simple("decommitted.count", &x.count, &y.count);
            self.simple("decommitted", &x.digest, &y.digest);
        }
    }

    /// The entries just below, named by depth (the first frame is at depth 1).
    fn callers(&mut self, a: &CallersView, b: &CallersView) {
        self.simple("caller_frames.depth", &a.depth, &b.depth);
        self.simple("caller_frames.len", &a.top.len(), &b.top.len());
        let lowest = a.depth + 1 - a.top.len();
        for (i, (x, y)) in a.top.iter().zip(&b.top).enumerate() {
            let f = |name: &str| format!("caller_frames[depth {}].{name}", lowest + i);
            let mut part = |name: &str, x: u32, y: u32| {
                self.field(&format!("caller_frames.{name}"), f(name), &x, &y);
            };
            part("ergs", x.ergs, y.ergs);
            part("pc", x.pc.into(), y.pc.into());
            part("sp", x.sp.into(), y.sp.into());
            part(
                "exception_handler",
                x.exception_handler.into(),
                y.exception_handler.into(),
            );
            part("is_local", x.is_local.into(), y.is_local.into());
        }
    }

    fn registers(&mut self, a: &[Tagged; 15], b: &[Tagged; 15]) {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            self.tagged("registers", format!("registers.r{}", i + 1), x, y);
        }
    }

    fn page(&mut self, name: &str, a: &[(u32, Tagged)], b: &[(u32, Tagged)]) {
        if self.first.is_some() || a == b {
            return;
        }
        // Walk both sorted lists of non-zero words together; a missing word is zero.
        let (mut i, mut j) = (0, 0);
        loop {
            let x = a.get(i);
            let y = b.get(j);
            let (index, wa, wb) = match (x, y) {
                (None, None) => return,
                (Some(&(ia, wa)), Some(&(ib, wb))) if ia == ib => {
                    i += 1;
                    j += 1;
                    (ia, wa, wb)
                }
                (Some(&(ia, wa)), Some(&(ib, _))) if ia < ib => {
                    i += 1;
                    (ia, wa, Tagged::default())
                }
                (Some(&(ia, wa)), None) => {
                    i += 1;
                    (ia, wa, Tagged::default())
                }
                (_, Some(&(ib, wb))) => {
                    j += 1;
                    (ib, Tagged::default(), wb)
                }
            };
            if wa != wb {
                self.tagged(name, format!("{name}[word {index:#x}]"), &wa, &wb);
                return;
            }
        }
    }
}

/// The first field where two final states differ, in a fixed order from the most telling
/// (how the run ended) to the least (memory contents).
pub fn first_difference(a: &FinalState, b: &FinalState) -> Option<FieldDiff> {
    // Nearly every run agrees: settle that without building field names.
    if a == b {
        return None;
    }
    let mut d = Differ { first: None };
    d.simple("end", &a.end, &b.end);
    d.simple("cycles", &a.cycles, &b.cycles);
    d.simple(
        "return_data",
        &hex::encode(&a.return_data),
        &hex::encode(&b.return_data),
    );
    d.registers(&a.registers, &b.registers);
    d.simple("flags", &a.flags, &b.flags);
    d.simple("ergs", &a.ergs, &b.ergs);
    d.simple("pc", &a.pc, &b.pc);
    d.frame("last_frame", &a.last_frame, &b.last_frame);
    d.simple(
        "context_u128_register",
        &a.context_u128_register,
        &b.context_u128_register,
    );
    d.simple("tx_number", &a.tx_number, &b.tx_number);
    d.simple("pending_panic", &a.pending_panic, &b.pending_panic);
    d.page("heap", &a.heap, &b.heap);
    d.page("aux_heap", &a.aux_heap, &b.aux_heap);
    d.page("stack", &a.stack, &b.stack);
    d.page("static_memory", &a.static_memory, &b.static_memory);
    list(&mut d, "call_stack", &a.call_stack, &b.call_stack);
    list(&mut d, "start_pages", &a.start_pages, &b.start_pages);
    world(&mut d, &a.world, &b.world);
    match (&a.batch, &b.batch) {
        (Some(a), Some(b)) => {
            list(&mut d, "batch.hooks", &a.hooks, &b.hooks);
            list(&mut d, "batch.results", &a.results, &b.results);
            d.simple("batch.pubdata", &a.pubdata, &b.pubdata);
            list(&mut d, "batch.rejected", &a.rejected, &b.rejected);
        }
        (a, b) => d.simple("batch", &a.is_some(), &b.is_some()),
    }
    d.field(
        "history",
        "history".into(),
        &format!("{:#018x}", a.history),
        &format!("{:#018x}", b.history),
    );
    frame_history(&mut d, &a.frame_history, &b.frame_history);
    d.first
}

/// The watched parts' digests, each where both sides show it.
fn frame_history(d: &mut Differ, a: &FrameDigests, b: &FrameDigests) {
    let parts = [
        ("callers", a.callers, b.callers),
        ("modes", a.modes, b.modes),
        ("context", a.context, b.context),
        ("decommitted", a.decommitted, b.decommitted),
    ];
    for (name, x, y) in parts {
        if let (Some(x), Some(y)) = (x, y) {
            let name = format!("frame_history.{name}");
            d.field(
                &name,
                name.clone(),
                &format!("{x:#018x}"),
                &format!("{y:#018x}"),
            );
        }
    }
}

/// Compares two lists, naming the first position where they differ.
fn list<T: PartialEq + fmt::Debug>(d: &mut Differ, name: &str, a: &[T], b: &[T]) {
    if d.first.is_some() || a == b {
        return;
    }
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    d.field(
        name,
        format!("{name}[{at}]"),
        &a.get(at)
            .map(|x| format!("{x:?}"))
            .unwrap_or_else(|| format!("(none; {} in all)", a.len())),
        &b.get(at)
            .map(|x| format!("{x:?}"))
            .unwrap_or_else(|| format!("(none; {} in all)", b.len())),
    );
}

fn world(d: &mut Differ, a: &crate::observe::WorldView, b: &crate::observe::WorldView) {
    list(d, "world.storage", &a.storage, &b.storage);
    list(d, "world.transient", &a.transient, &b.transient);
    list(d, "world.events", &a.events, &b.events);
    list(d, "world.l2_to_l1_logs", &a.l2_to_l1_logs, &b.l2_to_l1_logs);
    d.simple("world.pubdata", &a.pubdata, &b.pubdata);
    list(d, "world.pubdata_costs", &a.pubdata_costs, &b.pubdata_costs);
    list(d, "world.refunds", &a.refunds, &b.refunds);
    list(d, "world.decommitted", &a.decommitted, &b.decommitted);
    list(d, "world.calls", &a.calls, &b.calls);
}

/// The first cycle after which two step traces differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepDiff {
    /// 0-based position in the traces.
    pub index: usize,
    pub field: FieldDiff,
    /// The step on each side (`None` where one trace is shorter).
    pub left: Option<StepState>,
    pub right: Option<StepState>,
    /// The step before, for context.
    pub before: Option<StepState>,
}

pub fn first_step_difference(a: &[StepState], b: &[StepState]) -> Option<StepDiff> {
    first_step_difference_of(a, b, Unobserved::default())
}

fn step_difference(a: &StepState, b: &StepState) -> Option<FieldDiff> {
    let mut d = Differ { first: None };
    d.simple("pc_before", &a.pc_before, &b.pc_before);
    d.simple("code_address", &a.code_address, &b.code_address);
    d.field(
        "executed",
        "executed".into(),
        &a.disassembly(),
        &b.disassembly(),
    );
    d.simple("executed_raw", &a.executed, &b.executed);
    d.simple("pending_panic", &a.pending_panic, &b.pending_panic);
    d.registers(&a.registers, &b.registers);
    d.simple("flags", &a.flags, &b.flags);
    d.frame("frame", &a.frame, &b.frame);
    d.watched(&a.watched, &b.watched);
    d.field("writes", "writes".into(), &a.writes, &b.writes);
    d.simple("pubdata", &a.pubdata, &b.pubdata);
    d.simple("logs", &a.logs, &b.logs);
    d.first
}

/// What a backend cannot observe comparably with the others: a comparison involving it
/// leaves these parts out, on both sides. Each is listed, with its reason, in
/// `docs/backends.md`; nothing else is ever left out of a comparison.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Unobserved {
    /// Registers, flags, the context register and the frame after the first frame has
    /// returned (vm2 stops there without returning to the formal frame below it), in the
    /// final state and in the last step of a trace that ended so.
    pub after_exit: bool,
    /// Whether a panic is pending, and the pc then and in the last frame of a run that
    /// panicked (vm2 runs a fault as a jump to a panic instruction off the program, or as
    /// a callee program that panics: it has no pending panic to show).
    pub pending_panic_pc: bool,
    /// Page numbers inside tagged pointers (vm2 numbers its heaps its own way).
    pub pointer_pages: bool,
    /// The code page of each decommitted bytecode (vm2 keeps no code pages).
    pub code_pages: bool,
    /// The per-access logs of pubdata costs and refunds (vm2 logs a zero cost for every
    /// transient access as well; totals are compared).
    pub access_logs: bool,
    /// The address of each event (vm2 keeps none).
    pub event_addresses: bool,
    /// Per step: the instruction that ran (vm2 runs faults and false conditions without
    /// saying what replaced what) and the memory the step wrote.
    pub step_instruction_and_writes: bool,
    /// In a batch: registers, flags, memory, the history digests and the hooks' parameters
    /// and registers — the production system contracts move page numbers into integers
    /// (Keccak256 shifts its calldata pointer), and vm2 numbers heaps its own way. What is
    /// compared is the outcome: how the run ended, ergs, the transactions' results, the
    /// hooks raised, the pubdata and the world's changes (as a node compares vm_latest and
    /// vm_fast in its shadow mode).
    pub batch_internals: bool,
    /// Everything but what a node's operator reports of a real batch (a node's backend
    /// has no registers, memory or hooks to show): how the run ended, each transaction's
    /// success, output (when it succeeded) and refund, which were rejected, the pubdata,
    /// the final storage changes and the L2→L1 logs. See `docs/node-oracle.md`.
    pub node_outcome: bool,
}

impl Unobserved {
    /// What neither of two backends leaves out.
    pub fn either(self, other: Unobserved) -> Unobserved {
        Unobserved {
            after_exit: self.after_exit || other.after_exit,
            pending_panic_pc: self.pending_panic_pc || other.pending_panic_pc,
            pointer_pages: self.pointer_pages || other.pointer_pages,
            code_pages: self.code_pages || other.code_pages,
            access_logs: self.access_logs || other.access_logs,
            event_addresses: self.event_addresses || other.event_addresses,
            step_instruction_and_writes: self.step_instruction_and_writes
                || other.step_instruction_and_writes,
            batch_internals: self.batch_internals || other.batch_internals,
            node_outcome: self.node_outcome || other.node_outcome,
        }
    }

    pub fn is_none(self) -> bool {
        self == Unobserved::default()
    }

    /// The names of what is left out, for reports.
    pub fn names(self) -> Vec<&'static str> {
        [
            (
                self.after_exit,
                "registers, flags and frame after the first frame returned",
            ),
            (
                self.pending_panic_pc,
                "whether a panic is pending, and the pc then",
            ),
            (self.pointer_pages, "pointer page numbers"),
            (self.code_pages, "code pages of decommitted bytecodes"),
            (self.access_logs, "per-access pubdata costs and refunds"),
            (self.event_addresses, "event addresses"),
            (
                self.step_instruction_and_writes,
                "per step: the instruction run and the memory written",
            ),
            (
                self.batch_internals,
                "in a batch: registers, flags, memory and the hooks' parameters",
            ),
            (
                self.node_outcome,
                "all but a node's outcome of the batch (results, refunds, pubdata, storage, L2→L1 logs)",
            ),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }

    fn tagged(self, t: &mut Tagged) {
        if self.pointer_pages && t.pointer {
            // The page is bits 32..64 of a fat pointer.
            t.value.0[0] &= 0xffff_ffff;
        }
    }

    fn words(self, words: &mut [(u32, Tagged)]) {
        for (_, t) in words {
            self.tagged(t);
        }
    }

    /// The final state with what is left out set to a fixed value.
    pub fn final_state(self, s: &FinalState) -> FinalState {
        if self.node_outcome {
            return node_outcome(s);
        }
        let mut s = s.clone();
        if self.is_none() {
            return s;
        }
        let exited = matches!(s.end, RunEnd::Ok | RunEnd::Revert | RunEnd::Panic);
        if self.after_exit && exited {
            s.registers = Default::default();
            s.flags = Default::default();
            s.ergs = 0;
            s.pc = 0;
            s.pending_panic = false;
            s.context_u128_register = 0;
        }
        if self.pending_panic_pc && (s.pending_panic || s.end == RunEnd::Panic) {
            s.last_frame.pc = 0;
            s.pc = 0;
        }
        if self.pending_panic_pc {
            s.pending_panic = false;
        }
        s.registers.iter_mut().for_each(|t| self.tagged(t));
        for page in [
            &mut s.heap,
            &mut s.aux_heap,
            &mut s.stack,
            &mut s.static_memory,
        ] {
            self.words(page);
        }
        if self.code_pages {
            s.world.decommitted.iter_mut().for_each(|d| d.1 = 0);
        }
        if self.access_logs {
            s.world.pubdata_costs.clear();
            s.world.refunds.clear();
        }
        if self.event_addresses {
            s.world
                .events
                .iter_mut()
                .for_each(|e| e.address = Default::default());
        }
        if self.batch_internals {
            if let Some(batch) = s.batch.as_mut() {
                s.registers = Default::default();
                s.flags = Default::default();
                s.heap.clear();
                s.aux_heap.clear();
                s.stack.clear();
                s.history = 0;
                s.frame_history = FrameDigests::default();
                for hook in &mut batch.hooks {
                    hook.params = Default::default();
                    hook.registers = Default::default();
                }
            }
        }
        s
    }

    /// Two steps at the same position, with what is left out set to fixed values on both
    /// (whether a part is left out can depend on either side: a panic pending on one).
    pub fn steps(self, a: &StepState, b: &StepState) -> (StepState, StepState) {
        let (mut a, mut b) = (a.clone(), b.clone());
        let either = |f: fn(&StepState) -> bool, a: &StepState, b: &StepState| f(a) || f(b);
        let pending = either(|s| s.pending_panic, &a, &b);
        let off_program = either(|s| s.pc_before == u16::MAX, &a, &b);
        let exited = either(|s| s.frame.depth == 0, &a, &b);
        for s in [&mut a, &mut b] {
            s.registers.iter_mut().for_each(|t| self.tagged(t));
            if self.step_instruction_and_writes {
                s.executed = 0;
                s.writes.clear();
            }
            if self.pending_panic_pc && pending {
                s.frame.pc = 0;
            }
            if self.pending_panic_pc {
                s.pending_panic = false;
            }
            if self.pending_panic_pc && off_program {
                s.pc_before = 0;
            }
            if self.after_exit && exited {
                s.registers = Default::default();
                s.flags = Default::default();
                s.frame = Default::default();
                s.pending_panic = false;
                s.watched = Default::default();
            }
            if self.batch_internals {
                s.registers = Default::default();
                s.flags = Default::default();
                s.executed = 0;
                s.writes.clear();
            }
        }
        (a, b)
    }
}

/// A transaction's result (success, output, refund) as a node reports it: a failed one's
/// output left out (the node words a revert as its reason, a halt has no bytes).
pub fn as_a_node_reports((ok, output, refund): &(bool, String, String)) -> (bool, String, String) {
    let output = if *ok { output.clone() } else { String::new() };
    (*ok, output, refund.clone())
}

/// What a node's operator reports of a run (see [`Unobserved::node_outcome`]), every other
/// field fixed.
fn node_outcome(s: &FinalState) -> FinalState {
    let end = match s.end {
        RunEnd::Panic => RunEnd::Revert,
        end => end,
    };
    let batch = s.batch.as_ref().map(|b| BatchView {
        results: b.results.iter().map(as_a_node_reports).collect(),
        hooks: Vec::new(),
        pubdata: b.pubdata.clone(),
        rejected: b
            .rejected
            .iter()
            .map(|(i, _)| (*i, String::new()))
            .collect(),
    });
    let world = WorldView {
        storage: s.world.storage.clone(),
        l2_to_l1_logs: s.world.l2_to_l1_logs.clone(),
        ..WorldView::default()
    };
    FinalState::outcome_only(end, world, batch)
}

/// The first field where two final states differ, leaving out what `unobserved` names.
pub fn first_difference_of(
    a: &FinalState,
    b: &FinalState,
    unobserved: Unobserved,
) -> Option<FieldDiff> {
    if unobserved.is_none() {
        return first_difference(a, b);
    }
    first_difference(&unobserved.final_state(a), &unobserved.final_state(b))
}

/// The first cycle after which two step traces differ, leaving out what `unobserved` names.
pub fn first_step_difference_of(
    a: &[StepState],
    b: &[StepState],
    unobserved: Unobserved,
) -> Option<StepDiff> {
    let differs = |(x, y): (&StepState, &StepState)| {
        if unobserved.is_none() {
            return step_difference(x, y);
        }
        let (x, y) = unobserved.steps(x, y);
        step_difference(&x, &y)
    };
    let at = a.iter().zip(b).map(differs).position(|d| d.is_some());
    let (index, field) = match at {
        Some(i) => (i, differs((&a[i], &b[i]))?),
        None if a.len() == b.len() => return None,
        None => (
            a.len().min(b.len()),
            FieldDiff {
                field: "trace length".into(),
                class: "trace length".into(),
                left: a.len().to_string(),
                right: b.len().to_string(),
            },
        ),
    };
    // Report the steps as each side saw them.
    Some(StepDiff {
        index,
        field,
        left: a.get(index).cloned(),
        right: b.get(index).cloned(),
        before: index.checked_sub(1).and_then(|i| a.get(i).cloned()),
    })
}
