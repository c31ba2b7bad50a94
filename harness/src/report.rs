//! Human-readable reports of findings.

use std::fmt::Write;

use crate::case::Case;
use crate::compare::StepDiff;
use crate::differential::{Explanation, Finding};
use crate::disasm;
use crate::observe::{PanicLog, StepState};

/// A Markdown report of one finding: what differs, the first step where the backends part
/// with both sides' registers and flags, the code around it, and how to replay it.
pub fn finding_markdown(case: &Case, explanation: &Explanation, case_path: Option<&str>) -> String {
    let mut out = String::new();
    let (l, r) = (&explanation.left, &explanation.right);
    let _ = writeln!(out, "# {}\n", explanation.signature);
    if explanation.detail != explanation.signature {
        let _ = writeln!(out, "First difference: `{}`.\n", explanation.detail);
        if let Some(batch) = &explanation.batch {
            let _ = writeln!(out, "In the batch, first at {batch}.\n");
        }
        let described = explanation
            .batch_transaction
            .and_then(|i| case.batch.as_ref()?.describe_protocol_transaction(i));
        if let Some(described) = described {
            let _ = writeln!(out, "{described}\n");
        }
    }
    match &explanation.finding {
        Finding::Divergence {
            diff, odd, groups, ..
        } => {
            match odd.as_deref() {
                Some(crate::differential::OUR_OPERATORS) => {
                    let _ = writeln!(
                        out,
                        "Our operators disagree with the node's: every VM driven by our \
                         operator protocol agrees, and so do node-vm1 and node-fast. Either \
                         protocol code our operators share or the node is wrong \
                         (docs/node-oracle.md).\n"
                    );
                }
                Some(odd) => {
                    let _ = writeln!(out, "{odd} is the odd one out: the others agree.\n");
                }
                None => {}
            }
            if groups.len() > 1 {
                let listed: Vec<String> = groups.iter().map(|g| g.join(" = ")).collect();
                let _ = writeln!(out, "Who agrees with whom: {}.\n", listed.join(" | "));
            }
            let _ = writeln!(out, "{l} and {r} disagree on `{}`:\n", diff.field);
            let _ = writeln!(out, "- {l}: `{}`", diff.left);
            let _ = writeln!(out, "- {r}: `{}`\n", diff.right);
            if !explanation.unobserved.is_empty() {
                let _ = writeln!(
                    out,
                    "Not compared between {l} and {r} (see docs/backends.md): {}.\n",
                    explanation.unobserved.join(", ")
                );
            }
        }
        Finding::Crash { backend, message } => {
            let _ = writeln!(out, "{backend} crashed:\n\n```\n{message}\n```\n");
        }
        Finding::Unsupported { backend, message } => {
            let _ = writeln!(out, "{backend} could not run the case: {message}\n");
        }
    }
    if let Some(step) = &explanation.step {
        step_section(&mut out, case, step, l, r, &explanation.others);
    } else if let Some(limit) = explanation.traces_cut_at {
        let _ = writeln!(
            out,
            "The step traces agree over their first {limit} steps, as far as they were kept \
             (ERADIFF_MAX_TRACE_STEPS); the first difference is later.\n"
        );
    } else if let Some(name) = &explanation.untraced {
        let _ = writeln!(
            out,
            "{name} keeps no step trace (a node reports outcomes only): what differs is \
             in the outcome above.\n"
        );
    } else if matches!(explanation.finding, Finding::Divergence { .. }) {
        let _ = writeln!(
            out,
            "The step traces agree; only the final state differs.\n"
        );
    }
    for (backend, panics) in &explanation.panics {
        let _ = writeln!(
            out,
            "Why frames panicked on {backend}, the latest up to {}:\n",
            if explanation.step.is_some() {
                "the first differing step"
            } else {
                "the end"
            }
        );
        for panic in panics {
            let _ = writeln!(out, "- {panic}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "## Replay\n");
    let path = case_path.unwrap_or("CASE.json");
    let _ = writeln!(
        out,
        "```\neradiff replay {path}\neradiff disasm {path}\n```"
    );
    out
}

fn step_section(
    out: &mut String,
    case: &Case,
    step: &StepDiff,
    l: &str,
    r: &str,
    others: &[(String, Option<StepState>)],
) {
    let _ = writeln!(
        out,
        "## First differing step: cycle {} (`{}`)\n",
        step.index + 1,
        step.field
    );
    let watched = is_watched(&step.field.class);
    if let Some(before) = &step.before {
        let _ = writeln!(out, "Before it, both sides agree:\n");
        state_lines(out, before, watched);
        let _ = writeln!(out);
    }
    let sides = [(l, &step.left), (r, &step.right)]
        .into_iter()
        .chain(others.iter().map(|(name, s)| (name.as_str(), s)));
    for (name, side) in sides {
        match side {
            Some(s) => {
                let _ = writeln!(out, "{name} after the step:\n");
                state_lines(out, s, watched);
            }
            None => {
                let _ = writeln!(out, "{name}: the run had already ended\n");
            }
        }
        let _ = writeln!(out);
    }
    let Some(ran) = step.left.as_ref().or(step.right.as_ref()) else {
        return;
    };
    let pc = ran.pc_before;
    let address = ran.code_address;
    match case.code_at(&address) {
        Some(code) => {
            let whose = if address == case.frame.address.0 {
                "the case's program"
            } else {
                "a contract of the world"
            };
            let _ = writeln!(
                out,
                "Code around pc {pc} of {address:#x} ({whose}):\n\n```\n{}```\n",
                disasm::around_in(code, pc, 3)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "The step ran at pc {pc} in code at {address:#x}, which the case does not hold \
                 (a default account or the EVM emulator).\n"
            );
        }
    }
}

/// Whether a step's field is one of the watched parts (`crate::frames`), which a report
/// then shows.
fn is_watched(class: &str) -> bool {
    [
        "caller_frames",
        "kernel_mode",
        "static",
        "context_register",
        "decommitted",
    ]
    .iter()
    .any(|w| class.starts_with(w))
}

/// The watched parts of a step, one line.
fn watched_line(out: &mut String, w: &crate::frames::FramesAtStep) {
    let mut parts = Vec::new();
    if let Some(m) = &w.modes {
        parts.push(format!("kernel {}  static {}", m.kernel, m.is_static));
    }
    if let Some(c) = w.context_register {
        parts.push(format!("context register {c:#x}"));
    }
    if let Some(d) = &w.decommitted {
        parts.push(format!("decommitted {} ({:#x})", d.count, d.digest));
    }
    if let Some(callers) = &w.callers {
        let lowest = callers.depth + 1 - callers.top.len();
        for (i, c) in callers.top.iter().enumerate().rev() {
            parts.push(format!(
                "below at depth {}: pc {} sp {} ergs {} handler {}{}",
                lowest + i,
                c.pc,
                c.sp,
                c.ergs,
                c.exception_handler,
                if c.is_local { " (near)" } else { "" }
            ));
        }
    }
    let _ = writeln!(out, "{}", parts.join("\n"));
}

fn state_lines(out: &mut String, s: &StepState, watched: bool) {
    let _ = writeln!(out, "```");
    let _ = writeln!(out, "pc {} ran: {}", s.pc_before, s.disassembly());
    let f = &s.frame;
    let _ = writeln!(
        out,
        "next pc {}  sp {}  ergs {}  depth {}  heap_bound {}  aux_heap_bound {}  flags {}{}",
        f.pc,
        f.sp,
        f.ergs,
        f.depth,
        f.heap_bound,
        f.aux_heap_bound,
        s.flags,
        if s.pending_panic {
            "  (panic pending)"
        } else {
            ""
        }
    );
    for (i, r) in s.registers.iter().enumerate() {
        if !r.value.is_zero() || r.pointer {
            let _ = writeln!(out, "r{:<2} = {}", i + 1, r);
        }
    }
    for (page, index, w) in &s.writes {
        let _ = writeln!(out, "wrote page {page} word {index:#x} = {w}");
    }
    if watched {
        watched_line(out, &s.watched);
    }
    let _ = writeln!(out, "```");
}

/// A step trace as text, one line per cycle from `from` to `to` (inclusive): the cycle, the
/// code address when it changes, pc, the instruction that ran, the registers it changed,
/// flags, ergs and depth, the memory it wrote, and why a frame panicked where the VM says
/// (`panics`). With the `case`, an instruction that a false condition or a fault replaced is
/// named beside what ran instead. The state before the first cycle is the start of the run.
pub fn trace_text(
    trace: &[StepState],
    panics: &PanicLog,
    case: Option<&Case>,
    from: u64,
    to: u64,
) -> String {
    let mut out = String::new();
    let mut previous: Option<&StepState> = None;
    let mut first = true;
    let mut panics = panics.iter().peekable();
    for step in trace {
        if step.cycle > to {
            break;
        }
        if step.cycle >= from {
            trace_line(&mut out, previous, step, first);
            if let Some(note) = case.and_then(|c| replaced(c, step)) {
                let _ = writeln!(out, "{:>8}  ({note})", "");
            }
            first = false;
        }
        while let Some(panic) = panics.next_if(|p| p.cycle <= step.cycle) {
            if panic.cycle == step.cycle && step.cycle >= from {
                let _ = writeln!(out, "{:>8}  (the frame panicked: {})", "", panic.reason);
            }
        }
        previous = Some(step);
    }
    out
}

/// What a step says when the instruction at its pc is not what ran: a false condition runs
/// `nop`, a fault or a pending panic `ret.panic`.
fn replaced(case: &Case, step: &StepState) -> Option<String> {
    let code = case.code_at(&step.code_address)?;
    let at_pc = disasm::slot(code, step.pc_before);
    if at_pc == step.executed {
        return None;
    }
    let original = eravm::Instruction::decode(at_pc);
    let ran = eravm::Instruction::decode(step.executed);
    Some(
        if ran.opcode == eravm::Opcode::Nop && original.opcode != eravm::Opcode::Nop {
            format!("condition false: `{original}` did not run")
        } else if ran.opcode == eravm::Opcode::RetPanic {
            format!("`{original}` ran as ret.panic")
        } else {
            format!("the code holds `{original}`")
        },
    )
}

fn trace_line(out: &mut String, previous: Option<&StepState>, s: &StepState, first: bool) {
    if first || previous.is_some_and(|p| p.code_address != s.code_address) {
        let _ = writeln!(out, "-- code of {:#x}", s.code_address);
    }
    let f = &s.frame;
    let _ = write!(
        out,
        "{:>8}  pc {:>5}  {:<44} ergs {} depth {} flags {}",
        s.cycle,
        s.pc_before,
        s.disassembly(),
        f.ergs,
        f.depth,
        s.flags
    );
    for (i, r) in s.registers.iter().enumerate() {
        let changed = match previous {
            Some(p) => p.registers[i] != *r,
            None => !r.value.is_zero() || r.pointer,
        };
        if changed {
            let _ = write!(out, "  r{}={}", i + 1, r);
        }
    }
    for (page, index, w) in &s.writes {
        let _ = write!(out, "  [page {page} word {index:#x}]={w}");
    }
    if s.pending_panic {
        let _ = write!(out, "  (panic pending)");
    }
    let _ = writeln!(out);
}
