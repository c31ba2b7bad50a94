//! Decoded programs kept across VMs on one thread: a campaign, a benchmark or a batch runs
//! the same contracts (the bootloader, the system contracts) in VM after VM, and decoding a
//! contract's whole code page on its first call is otherwise a fifth of a real batch.
//!
//! Keyed by the code words themselves (a hash to find them, the words to confirm), so a
//! cached program is only ever the decoding of exactly those words; bounded in entries and
//! in words.

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use primitive_types::U256;
use rustc_hash::{FxHashMap, FxHasher};

use crate::decoder::{code_word_instructions, Predecoded};

/// The most programs kept, and the most code words in all; past either the cache starts over.
const MAX_PROGRAMS: usize = 512;
const MAX_WORDS: usize = 1 << 22;

#[derive(Default)]
struct Programs {
    by_hash: FxHashMap<u64, Vec<(Rc<[U256]>, Rc<[Predecoded]>)>>,
    programs: usize,
    words: usize,
}

thread_local! {
    static PROGRAMS: RefCell<Programs> = RefCell::new(Programs::default());
}

fn decode(words: &[U256]) -> Rc<[Predecoded]> {
    words
        .iter()
        .flat_map(code_word_instructions)
        .map(Predecoded::from_raw)
        .collect()
}

/// The decoding of `words`, from the cache when this thread decoded the same words before.
pub fn decoded(words: Vec<U256>) -> Rc<[Predecoded]> {
    let mut hasher = FxHasher::default();
    words.hash(&mut hasher);
    let key = hasher.finish();
    PROGRAMS.with(|cell| {
        let mut programs = cell.borrow_mut();
        if let Some((_, code)) = programs
            .by_hash
            .get(&key)
            .and_then(|same| same.iter().find(|(w, _)| **w == words[..]))
        {
            return code.clone();
        }
        if programs.programs >= MAX_PROGRAMS || programs.words + words.len() > MAX_WORDS {
            *programs = Programs::default();
        }
        let code = decode(&words);
        programs.programs += 1;
        programs.words += words.len();
        let entry = (Rc::from(words), code.clone());
        programs.by_hash.entry(key).or_default().push(entry);
        code
    })
}
