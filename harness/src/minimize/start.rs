//! The edits the minimiser makes to a start state: the whole state, frames below (each far
//! frame's pages and journal with it), near levels, and single memory words and changes.
//! After each edit the pubdata counter is set to the frames' spending again, so that the
//! candidate stays within the protocol's reach (`Start::check`).

use crate::start::{Change, MemoryWord, Start, StartFrame};

/// Every start state one edit smaller than `start`, largest edits first.
pub fn smaller(start: &Start) -> Vec<Option<Start>> {
    let mut out = vec![None];
    let mut out_push = |c: Option<Option<Start>>| out.extend(c);
    let edit = |f: &dyn Fn(&mut Start)| {
        let mut s = start.clone();
        f(&mut s);
        rebalance(&mut s);
        (s != *start).then_some(Some(s))
    };
    for i in (0..start.below.len()).rev() {
        out_push(edit(&|s| {
            s.below.remove(i);
        }));
    }
    for i in (0..start.near_callers.len()).rev() {
        out_push(edit(&|s| {
            s.near_callers.remove(i);
        }));
    }
    out_push(edit(&|s| s.memory.clear()));
    out_push(edit(&|s| s.changes.clear()));
    for i in 0..start.below.len() {
        out_push(edit(&|s| {
            if let Some(StartFrame::Far(f)) = s.below.get_mut(i) {
                f.memory.clear();
            }
        }));
        out_push(edit(&|s| match s.below.get_mut(i) {
            Some(StartFrame::Far(f)) => f.changes.clear(),
            Some(StartFrame::Near(n)) => n.changes.clear(),
            None => {}
        }));
    }
    for i in (0..start.memory.len()).rev() {
        out_push(edit(&|s| drop_word(&mut s.memory, i)));
    }
    for i in (0..start.changes.len()).rev() {
        out_push(edit(&|s| drop_change(&mut s.changes, i)));
    }
    drop(out_push);
    out
}

fn drop_word(words: &mut Vec<MemoryWord>, i: usize) {
    if i < words.len() {
        words.remove(i);
    }
}

fn drop_change(changes: &mut Vec<Change>, i: usize) {
    if i < changes.len() {
        changes.remove(i);
    }
}

/// Sets the pubdata counter to what the frames spent.
fn rebalance(start: &mut Start) {
    let below = start.below.iter().map(|f| match f {
        StartFrame::Far(f) => f.total_pubdata_spent,
        StartFrame::Near(n) => n.total_pubdata_spent,
    });
    let callers = start.near_callers.iter().map(|n| n.total_pubdata_spent);
    start.pubdata_counter = below.chain(callers).fold(0i32, i32::wrapping_add);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{generate_seeded_for, Settings, Target};

    #[test]
    fn every_edit_is_smaller_and_keeps_the_counter_balanced() {
        for i in 0..50 {
            let case = generate_seeded_for(Target::Instructions, 2, i, &Settings::default());
            let start = case.start.expect("a start state");
            for candidate in smaller(&start).into_iter().flatten() {
                assert_ne!(candidate, start, "case {i}: an edit that changes nothing");
                let mut rebalanced = candidate.clone();
                rebalance(&mut rebalanced);
                assert_eq!(rebalanced.pubdata_counter, candidate.pubdata_counter);
            }
        }
    }
}
