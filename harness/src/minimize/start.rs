//! The edits the minimiser makes to a start state: the whole state, frames below (each far
//! frame's pages and journal with it), near levels, and single memory words and changes.
//! After each edit the pubdata counter is set to the frames' spending again, so that the
//! candidate stays within the protocol's reach (`Start::check`).

use crate::start::{Start, StartFrame};

/// Every start state one edit smaller than `start`, largest edits first (`None`: no start
/// state at all).
pub fn smaller(start: &Start) -> Vec<Option<Start>> {
    let mut edits: Vec<Box<dyn Fn(&mut Start)>> = Vec::new();
    for i in (0..start.below.len()).rev() {
        edits.push(Box::new(move |s| drop_at(&mut s.below, i)));
    }
    for i in (0..start.near_callers.len()).rev() {
        edits.push(Box::new(move |s| drop_at(&mut s.near_callers, i)));
    }
    edits.push(Box::new(|s| s.memory.clear()));
    edits.push(Box::new(|s| s.changes.clear()));
    for i in 0..start.below.len() {
        edits.push(Box::new(move |s| {
            if let Some(StartFrame::Far(f)) = s.below.get_mut(i) {
                f.memory.clear();
            }
        }));
        edits.push(Box::new(move |s| match s.below.get_mut(i) {
            Some(StartFrame::Far(f)) => f.changes.clear(),
            Some(StartFrame::Near(n)) => n.changes.clear(),
            None => {}
        }));
    }
    for i in (0..start.memory.len()).rev() {
        edits.push(Box::new(move |s| drop_at(&mut s.memory, i)));
    }
    for i in (0..start.changes.len()).rev() {
        edits.push(Box::new(move |s| drop_at(&mut s.changes, i)));
    }
    let edited = edits.iter().filter_map(|edit| {
        let mut s = start.clone();
        edit(&mut s);
        rebalance(&mut s);
        (s != *start).then_some(Some(s))
    });
    std::iter::once(None).chain(edited).collect()
}

fn drop_at<T>(items: &mut Vec<T>, i: usize) {
    if i < items.len() {
        items.remove(i);
    }
}

/// Sets the pubdata counter to what the frames spent.
fn rebalance(start: &mut Start) {
    start.pubdata_counter = start.spending().fold(0i32, i32::wrapping_add);
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
