//! Memory pages: the stack, heaps, static memory, calldata and code pages of every frame.
//!
//! Every page is addressed in 32-byte words with a `u32` index. Pages are sparse: only chunks
//! that were written take space, so a write far into a heap costs what it costs in ergs and
//! a few kilobytes here, never the whole range.

use rustc_hash::FxHashMap;

use crate::state::{PageId, TaggedWord};

const CHUNK_WORDS: usize = 32;
/// Chunks below this index are found by indexing a vector; the rest (far offsets into a
/// heap, the bootloader's high slots) through a map, so a single far write never allocates
/// more than a chunk. 2048 chunks are 64Ki words: a whole stack, 2 MiB of heap.
const DIRECT_CHUNKS: u32 = 2048;

type Chunk = Box<[TaggedWord; CHUNK_WORDS]>;

/// One page of memory.
#[derive(Clone, Debug, Default)]
pub struct Page {
    direct: Vec<Option<Chunk>>,
    far: FxHashMap<u32, Chunk>,
    /// One past the highest word index written.
    len: u32,
    /// Some frame runs code from this page: writes to it invalidate decoded code.
    holds_code: bool,
}

impl Page {
    #[inline(always)]
    fn chunk(&self, chunk: u32) -> Option<&Chunk> {
        if chunk < DIRECT_CHUNKS {
            self.direct.get(chunk as usize)?.as_ref()
        } else {
            self.far_chunk(chunk)
        }
    }

    #[inline(never)]
    fn far_chunk(&self, chunk: u32) -> Option<&Chunk> {
        self.far.get(&chunk)
    }

    /// The word at `index`; words never written are zero.
    #[inline(always)]
    pub fn read(&self, index: u32) -> TaggedWord {
        match self.chunk(index / CHUNK_WORDS as u32) {
            Some(chunk) => chunk[index as usize % CHUNK_WORDS],
            None => TaggedWord::ZERO,
        }
    }

    /// Writes the word at `index`, growing the page's length to cover it.
    #[inline]
    pub fn write(&mut self, index: u32, word: TaggedWord) {
        self.len = self.len.max(index.saturating_add(1));
        let c = index / CHUNK_WORDS as u32;
        // The common case first: a chunk that is there already.
        if let Some(Some(chunk)) = self.direct.get_mut(c as usize) {
            chunk[index as usize % CHUNK_WORDS] = word;
        } else {
            self.write_new_chunk(c, index, word);
        }
    }

    #[cold]
    #[inline(never)]
    fn write_new_chunk(&mut self, c: u32, index: u32, word: TaggedWord) {
        let new_chunk = || Box::new([TaggedWord::ZERO; CHUNK_WORDS]);
        let chunk = if c < DIRECT_CHUNKS {
            let c = c as usize;
            if c >= self.direct.len() {
                self.direct.resize_with(c + 1, || None);
            }
            self.direct[c].get_or_insert_with(new_chunk)
        } else {
            self.far.entry(c).or_insert_with(new_chunk)
        };
        chunk[index as usize % CHUNK_WORDS] = word;
    }

    /// The words that are not zero (or carry a pointer tag), by index.
    pub fn nonzero_words(&self) -> Vec<(u32, TaggedWord)> {
        let direct = self
            .direct
            .iter()
            .enumerate()
            .filter_map(|(c, chunk)| Some((c as u32, chunk.as_ref()?)));
        let far = self.far.iter().map(|(&c, chunk)| (c, chunk));
        let mut words: Vec<(u32, TaggedWord)> = direct
            .chain(far)
            .flat_map(|(chunk, words)| {
                words.iter().enumerate().filter_map(move |(i, w)| {
                    (*w != TaggedWord::ZERO).then_some((chunk * CHUNK_WORDS as u32 + i as u32, *w))
                })
            })
            .collect();
        words.sort_by_key(|(i, _)| *i);
        words
    }
}

/// Pages with ids below this are found by indexing a vector (every page a run allocates
/// for its first 1,792 far calls); higher ids (deeper runs, and the wild page numbers that
/// precompile arguments name) through a map, so that one such write allocates one page, not
/// a vector up to it.
const DIRECT_PAGES: u32 = 1 << 14;

/// All pages of a VM instance.
#[derive(Clone, Debug, Default)]
pub struct Memory {
    direct: Vec<Option<Box<Page>>>,
    far: FxHashMap<u32, Page>,
    /// Bumped by every write to a page that holds code, so decoded code can be reused until
    /// its page changes.
    code_generation: u64,
    /// When tracing, every write in order.
    write_log: Option<Vec<(PageId, u32, TaggedWord)>>,
    /// While the VM holds snapshots: how to undo every write since the oldest, so that a
    /// snapshot costs what is written while it is held, not the size of memory.
    undo: Vec<MemoryUndo>,
    snapshots_held: u32,
}

/// How to undo one write.
#[derive(Clone, Debug)]
enum MemoryUndo {
    /// The page did not exist.
    PageCreated(PageId),
    /// The word held `previous` and the page's length was `len`.
    Word {
        page: PageId,
        index: u32,
        previous: TaggedWord,
        len: u32,
    },
}

/// Where memory was when the VM took a snapshot (see [`Memory::snapshot`]).
/// Not `Clone`: a snapshot is rolled back to, or forgotten, once.
#[derive(Debug)]
pub struct MemorySnapshot {
    undo: usize,
}

impl Memory {
    /// The word at `index` of `page`; pages and words never written are zero.
    #[inline(always)]
    pub fn read(&self, page: PageId, index: u32) -> TaggedWord {
        match self.page(page) {
            Some(p) => p.read(index),
            None => TaggedWord::ZERO,
        }
    }

    /// The page, if it exists (one that does not reads as zeros).
    #[inline(always)]
    pub fn page(&self, page: PageId) -> Option<&Page> {
        if page.0 < DIRECT_PAGES {
            self.direct.get(page.0 as usize)?.as_deref()
        } else {
            self.far_page(page)
        }
    }

    #[inline(never)]
    fn far_page(&self, page: PageId) -> Option<&Page> {
        self.far.get(&page.0)
    }

    #[inline]
    fn page_mut(&mut self, page: PageId) -> &mut Page {
        // Not `if let` on the fast path: that borrow would outlive the branch.
        let i = page.0 as usize;
        if matches!(self.direct.get(i), Some(Some(_))) {
            // The page is there: this only returns it.
            return self.direct[i].get_or_insert_with(Default::default);
        }
        self.new_page_mut(page)
    }

    #[cold]
    #[inline(never)]
    fn new_page_mut(&mut self, page: PageId) -> &mut Page {
        if page.0 < DIRECT_PAGES {
            let i = page.0 as usize;
            if i >= self.direct.len() {
                self.direct.resize_with(i + 1, || None);
            }
            self.direct[i].get_or_insert_with(Default::default)
        } else {
            self.far.entry(page.0).or_default()
        }
    }

    /// Writes the word at `index` of `page` (and records the write, when writes are being
    /// recorded for a step trace). True if the page holds code: code decoded from it is
    /// stale.
    #[inline]
    pub fn write(&mut self, page: PageId, index: u32, word: TaggedWord) -> bool {
        if let Some(log) = self.write_log.as_mut() {
            log.push((page, index, word));
        }
        self.write_from_host(page, index, word)
    }

    /// A write by the host (the operator), which the VM's write log does not record; true
    /// if the page holds code.
    #[inline]
    pub fn write_from_host(&mut self, page: PageId, index: u32, word: TaggedWord) -> bool {
        if self.snapshots_held > 0 {
            self.log_before_write(page, index);
        }
        let p = self.page_mut(page);
        p.write(index, word);
        let holds_code = p.holds_code;
        if holds_code {
            self.code_generation += 1;
        }
        holds_code
    }

    #[inline(never)]
    fn log_before_write(&mut self, page: PageId, index: u32) {
        let undo = match self.page(page) {
            None => MemoryUndo::PageCreated(page),
            Some(p) => MemoryUndo::Word {
                page,
                index,
                previous: p.read(index),
                len: p.len,
            },
        };
        self.undo.push(undo);
    }

    /// Starts logging writes, to undo them on [`Memory::rollback`]. Every snapshot must end
    /// in a rollback or [`Memory::forget`] (until then, writes are logged).
    pub fn snapshot(&mut self) -> MemorySnapshot {
        self.snapshots_held += 1;
        MemorySnapshot {
            undo: self.undo.len(),
        }
    }

    /// Undoes every write since `snapshot`, newest first. Pages created since are gone.
    pub fn rollback(&mut self, snapshot: MemorySnapshot) {
        while self.undo.len() > snapshot.undo {
            match self.undo.pop() {
                Some(MemoryUndo::PageCreated(page)) => self.remove_page(page),
                Some(MemoryUndo::Word {
                    page,
                    index,
                    previous,
                    len,
                }) => {
                    let p = self.page_mut(page);
                    p.write(index, previous);
                    p.len = len;
                }
                None => break,
            }
        }
        // Code pages may have changed back: decoded code must not be trusted.
        self.code_generation += 1;
        self.forget(snapshot);
    }

    /// Drops a snapshot without rolling back.
    pub fn forget(&mut self, _snapshot: MemorySnapshot) {
        self.snapshots_held = self.snapshots_held.saturating_sub(1);
        if self.snapshots_held == 0 {
            self.undo.clear();
        }
    }

    fn remove_page(&mut self, page: PageId) {
        if page.0 < DIRECT_PAGES {
            if let Some(slot) = self.direct.get_mut(page.0 as usize) {
                *slot = None;
            }
        } else {
            self.far.remove(&page.0);
        }
    }

    /// Changes whenever a page that holds code is written.
    pub fn code_generation(&self) -> u64 {
        self.code_generation
    }

    /// The words of a page that code runs from (up to the last one written), marking it so
    /// that later writes to it are noticed.
    pub fn code_words(&mut self, page: PageId) -> Vec<primitive_types::U256> {
        // A 16-bit PC reaches 2^14 words; whatever lies beyond cannot run.
        const REACHABLE_WORDS: u32 = 1 << 14;
        let p = self.page_mut(page);
        p.holds_code = true;
        (0..p.len.min(REACHABLE_WORDS))
            .map(|i| p.read(i).value)
            .collect()
    }

    /// Starts (or stops) recording writes, for step traces.
    pub fn record_writes(&mut self, on: bool) {
        self.write_log = on.then(Vec::new);
    }

    /// The writes recorded since the last call.
    pub fn take_writes(&mut self) -> Vec<(PageId, u32, TaggedWord)> {
        self.write_log
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Fills a page with words from index 0 on (code, calldata).
    pub fn fill(&mut self, page: PageId, words: impl IntoIterator<Item = primitive_types::U256>) {
        for (i, w) in words.into_iter().enumerate() {
            self.write(page, i as u32, TaggedWord::integer(w));
        }
    }

    /// Reads `length` bytes from byte `start` of a page, as the heap sees them (big-endian
    /// words), at most `limit` bytes.
    pub fn read_bytes(&self, page: PageId, start: u32, length: u32, limit: usize) -> Vec<u8> {
        let len = (length as usize).min(limit);
        let mut out = Vec::with_capacity(len);
        let mut buf = [0u8; 32];
        let mut cached_word = u32::MAX;
        for i in 0..len as u64 {
            let addr = start as u64 + i;
            let word = (addr / 32) as u32;
            if word != cached_word {
                self.read(page, word).value.to_big_endian(&mut buf);
                cached_word = word;
            }
            out.push(buf[(addr % 32) as usize]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every page's words that are not zero, and its length.
    fn contents(m: &Memory) -> Vec<(u32, u32, Vec<(u32, TaggedWord)>)> {
        let mut pages: Vec<_> = m
            .direct
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((i as u32, p.as_deref()?)))
            .chain(m.far.iter().map(|(&i, p)| (i, p)))
            .map(|(i, p)| (i, p.len, p.nonzero_words()))
            .filter(|(_, len, words)| *len > 0 || !words.is_empty())
            .collect();
        pages.sort_by_key(|p| p.0);
        pages
    }

    fn write(m: &mut Memory, rng: &mut u64, n: usize) {
        for _ in 0..n {
            *rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = *rng >> 24;
            // Near and far pages, near and far chunks.
            let page = [1, 2, 7, DIRECT_PAGES + 5][(r % 4) as usize];
            let index = [3, 40, 5000, 1 << 20][(r >> 2) as usize % 4] + (r >> 4) as u32 % 8;
            let word = TaggedWord {
                value: primitive_types::U256::from(r >> 8 & 7),
                is_pointer: r & 1 == 1,
            };
            m.write(PageId(page), index, word);
        }
    }

    #[test]
    fn a_rollback_restores_what_a_copy_would_hold() {
        for seed in 0..200u64 {
            let mut rng = seed;
            let mut m = Memory::default();
            write(&mut m, &mut rng, 10);
            let at_outer = contents(&m);
            let outer = m.snapshot();
            write(&mut m, &mut rng, 20);
            let at_inner = contents(&m);
            let inner = m.snapshot();
            write(&mut m, &mut rng, 20);
            if seed % 2 == 0 {
                m.rollback(inner);
                assert_eq!(contents(&m), at_inner, "seed {seed}: inner rollback");
            } else {
                m.forget(inner);
            }
            write(&mut m, &mut rng, 10);
            m.rollback(outer);
            assert_eq!(contents(&m), at_outer, "seed {seed}: outer rollback");
            assert!(m.undo.is_empty(), "no snapshot held, nothing logged");
        }
    }
}
