//! What changes only at calls, returns, rollbacks and a few instructions: the frames below
//! the current one, the current frame's kernel and static bits, the context register and the
//! set of decommitted bytecodes. The driver looks at them where they can change and folds
//! each into its own digest, so that a bug there shows at the cycle it happens, not where a
//! later return or the end reveals it.
//!
//! A value is folded in only when it differs from the last one seen: looking more often than
//! needed (vm2 names a false-condition `log.decommit` as one) changes no digest.

use serde::Serialize;

/// How many entries just below the current frame are looked at, at each call and return: a
/// call pushes its caller's entry and a return uncovers one, so each entry is looked at when
/// it is pushed and again when a return makes it the caller. Looking at the whole stack at
/// every call would cost its depth each time (it took a third of a `calls` campaign).
pub const CALLERS_WATCHED: usize = 2;

/// The entries just below the current frame, as they resume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct CallersView {
    /// Entries below the current frame in all (the formal frame below the first left out).
    pub depth: usize,
    /// The top [`CALLERS_WATCHED`] of them (fewer if there are fewer), bottom first: the
    /// last is the current frame's caller, at depth `depth`.
    pub top: Vec<CallerView>,
}

/// An entry below the current frame, as it resumes: its own part of the frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct CallerView {
    /// Where it resumes.
    pub pc: u16,
    /// Its stack pointer.
    pub sp: u16,
    /// The ergs it keeps while its callee runs.
    pub ergs: u32,
    /// Where it goes if its own call to its caller fails.
    pub exception_handler: u16,
    /// Whether it is a near frame.
    pub is_local: bool,
}

impl From<crate::observe::SavedFrameView> for CallerView {
    fn from(s: crate::observe::SavedFrameView) -> CallerView {
        CallerView {
            pc: s.pc,
            sp: s.sp,
            ergs: s.ergs,
            exception_handler: s.exception_handler,
            is_local: s.is_local,
        }
    }
}

/// The current frame's modes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct ModesView {
    /// Kernel mode (a system contract's address).
    pub kernel: bool,
    /// Static: no world changes allowed.
    pub is_static: bool,
}

/// The decommitted set, as steps carry it: how many hashes, and a digest of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct DecommittedView {
    /// Hashes decommitted so far.
    pub count: usize,
    /// A digest of the sorted hashes.
    pub digest: u64,
}

impl DecommittedView {
    /// The view of a set of hashes proper, in any order.
    pub fn of(mut hashes: Vec<[u8; 28]>) -> DecommittedView {
        hashes.sort_unstable();
        let mut digest = 0;
        for hash in &hashes {
            for chunk in hash.chunks(8) {
                let mut limb = [0u8; 8];
                limb[..chunk.len()].copy_from_slice(chunk);
                mix(&mut digest, u64::from_le_bytes(limb));
            }
        }
        DecommittedView {
            count: hashes.len(),
            digest,
        }
    }
}

/// The digests of a run, one per part; `None` where the backend cannot show the part (see
/// `docs/backends.md`). Two runs are compared on the parts both show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct FrameDigests {
    /// The frames below the current one, at every call, return and rollback.
    pub callers: Option<u64>,
    /// The current frame's kernel and static bits.
    pub modes: Option<u64>,
    /// The context register, after every cycle.
    pub context: Option<u64>,
    /// The decommitted set, at far calls, `log.decommit` and rollbacks.
    pub decommitted: Option<u64>,
}

fn mix(digest: &mut u64, x: u64) {
    *digest = (digest.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
}

/// One part: the last value seen, and the fold of every distinct value seen in turn.
#[derive(Clone, Debug)]
struct Watched<T> {
    last: Option<T>,
    digest: u64,
    /// The backend returned `None`: the part is not shown.
    hidden: bool,
}

impl<T: PartialEq> Watched<T> {
    fn new() -> Self {
        Watched {
            last: None,
            // Not 0, which a fold of zeros would keep: a part seen as 0 differs from unseen.
            digest: 0x9e37_79b9_7f4a_7c15,
            hidden: false,
        }
    }

    /// Folds `now` in if it differs from the last value; `fold` mixes it.
    fn see(&mut self, now: Option<T>, fold: impl FnOnce(&T, &mut u64)) {
        let Some(now) = now else {
            self.hidden = true;
            return;
        };
        if self.last.as_ref() != Some(&now) {
            fold(&now, &mut self.digest);
            self.last = Some(now);
        }
    }

    fn digest(&self) -> Option<u64> {
        (!self.hidden).then_some(self.digest)
    }
}

/// The parts a driver watches, with the latest values for step traces.
#[derive(Clone, Debug)]
pub struct FrameWatch {
    callers: Watched<CallersView>,
    modes: Watched<ModesView>,
    context: Watched<u128>,
    decommitted: Watched<DecommittedView>,
}

impl Default for FrameWatch {
    fn default() -> Self {
        FrameWatch {
            callers: Watched::new(),
            modes: Watched::new(),
            context: Watched::new(),
            decommitted: Watched::new(),
        }
    }
}

impl FrameWatch {
    /// After a call, a return or a rollback: the frames below and the modes.
    pub fn see_frames(&mut self, callers: Option<CallersView>, modes: Option<ModesView>) {
        self.callers.see(callers, |list, d| {
            mix(d, list.depth as u64);
            for c in &list.top {
                mix(
                    d,
                    u64::from(c.pc) | u64::from(c.sp) << 16 | u64::from(c.ergs) << 32,
                );
                mix(
                    d,
                    u64::from(c.exception_handler) | u64::from(c.is_local) << 16,
                );
            }
        });
        self.modes.see(modes, |m, d| {
            mix(d, u64::from(m.kernel) | u64::from(m.is_static) << 1);
        });
    }

    /// After every cycle (a compare when nothing changed).
    #[inline]
    pub fn see_context(&mut self, context: Option<u128>) {
        self.context.see(context, |c, d| {
            mix(d, *c as u64);
            mix(d, (*c >> 64) as u64);
        });
    }

    /// After a far call, a `log.decommit` or a rollback.
    pub fn see_decommitted(&mut self, hashes: Option<Vec<[u8; 28]>>) {
        let view = hashes.map(DecommittedView::of);
        self.decommitted.see(view, |v, d| {
            mix(d, v.count as u64);
            mix(d, v.digest);
        });
    }

    /// The digests so far.
    pub fn digests(&self) -> FrameDigests {
        FrameDigests {
            callers: self.callers.digest(),
            modes: self.modes.digest(),
            context: self.context.digest(),
            decommitted: self.decommitted.digest(),
        }
    }

    /// The latest values, for a step.
    pub fn latest(&self) -> FramesAtStep {
        FramesAtStep {
            callers: self.callers.last.clone(),
            modes: self.modes.last,
            context_register: self.context.last,
            decommitted: self.decommitted.last,
        }
    }
}

/// What a step carries of the watched parts (`None` where the backend does not show one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FramesAtStep {
    /// The entries just below the current frame.
    pub callers: Option<CallersView>,
    /// The current frame's kernel and static bits.
    pub modes: Option<ModesView>,
    /// The context register.
    pub context_register: Option<u128>,
    /// The decommitted set.
    pub decommitted: Option<DecommittedView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looking_again_at_an_unchanged_value_changes_no_digest() {
        let mut once = FrameWatch::default();
        let mut twice = FrameWatch::default();
        once.see_context(Some(7));
        twice.see_context(Some(7));
        twice.see_context(Some(7));
        assert_eq!(once.digests(), twice.digests());
        twice.see_context(Some(8));
        assert_ne!(once.digests(), twice.digests());
    }

    #[test]
    fn a_caller_s_ergs_change_the_digest() {
        let caller = CallerView {
            ergs: 100,
            ..CallerView::default()
        };
        let mut a = FrameWatch::default();
        let mut b = FrameWatch::default();
        let view = |c: CallerView| CallersView {
            depth: 1,
            top: vec![c],
        };
        a.see_frames(Some(view(caller)), None);
        b.see_frames(Some(view(CallerView { ergs: 99, ..caller })), None);
        assert_ne!(a.digests().callers, b.digests().callers);
        assert_eq!(a.digests().modes, None);
    }

    #[test]
    fn the_decommitted_set_is_a_set() {
        let (x, y) = ([1u8; 28], [2u8; 28]);
        assert_eq!(
            DecommittedView::of(vec![x, y]),
            DecommittedView::of(vec![y, x])
        );
        assert_ne!(DecommittedView::of(vec![x]), DecommittedView::of(vec![y]));
    }
}
