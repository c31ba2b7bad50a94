//! The memory host for `zk_evm`.
//!
//! The crate's own `SimpleMemory` refuses static memory (its comment: never used by system
//! contracts), but the static memory opcodes are part of EraVM 1.5, so the reference gets
//! this plain sparse memory instead: every page a map from word index to tagged word,
//! static memory a page like any other.

use rustc_hash::FxHashMap;
use zk_evm::zkevm_opcode_defs::ethereum_types::U256 as RefU256;
use zk_evm::zkevm_opcode_defs::FatPointer as RefFatPointer;
use zk_evm_abstractions::queries::MemoryQuery;
use zk_evm_abstractions::vm::Memory;

#[derive(Debug, Default, Clone)]
pub struct ReferenceMemory {
    pages: FxHashMap<u32, FxHashMap<u32, (RefU256, bool)>>,
    /// When tracing, every write in order: page, index, value, tag.
    pub write_log: Option<Vec<(u32, u32, RefU256, bool)>>,
}

impl ReferenceMemory {
    pub fn fill(&mut self, page: u32, words: impl IntoIterator<Item = RefU256>) {
        let p = self.pages.entry(page).or_default();
        for (i, w) in words.into_iter().enumerate() {
            p.insert(i as u32, (w, false));
        }
    }

    /// Writes one integer word from the host side (the operator), outside the write log.
    pub fn set(&mut self, page: u32, index: u32, value: RefU256) {
        self.pages
            .entry(page)
            .or_default()
            .insert(index, (value, false));
    }

    /// Writes one tagged word from the host side (a start state), outside the write log.
    pub fn set_tagged(&mut self, page: u32, index: u32, value: RefU256, is_pointer: bool) {
        self.pages
            .entry(page)
            .or_default()
            .insert(index, (value, is_pointer));
    }

    /// The bytes a fat pointer points at, at most `limit` of them.
    pub fn slice(&self, pointer: RefFatPointer, limit: usize) -> Vec<u8> {
        let start = pointer.start.wrapping_add(pointer.offset) as u64;
        let len = (pointer.length.saturating_sub(pointer.offset) as usize).min(limit);
        (start..start + len as u64)
            .map(|addr| {
                let (word, _) = self.read(pointer.memory_page, (addr / 32) as u32);
                word.byte(31 - (addr % 32) as usize)
            })
            .collect()
    }

    pub fn read(&self, page: u32, index: u32) -> (RefU256, bool) {
        self.pages
            .get(&page)
            .and_then(|p| p.get(&index))
            .copied()
            .unwrap_or((RefU256::zero(), false))
    }

    /// Words that are not zero (or are tagged), sorted by index.
    pub fn nonzero_words(&self, page: u32) -> Vec<(u32, RefU256, bool)> {
        let mut words: Vec<_> = self
            .pages
            .get(&page)
            .map(|p| {
                p.iter()
                    .filter(|(_, (v, tag))| !v.is_zero() || *tag)
                    .map(|(&i, &(v, tag))| (i, v, tag))
                    .collect()
            })
            .unwrap_or_default();
        words.sort_by_key(|(i, _, _)| *i);
        words
    }

    fn query(&mut self, mut query: MemoryQuery) -> MemoryQuery {
        let page = query.location.page.0;
        let index = query.location.index.0;
        if query.rw_flag {
            if let Some(log) = self.write_log.as_mut() {
                log.push((page, index, query.value, query.value_is_pointer));
            }
            self.pages
                .entry(page)
                .or_default()
                .insert(index, (query.value, query.value_is_pointer));
        } else {
            let (value, tag) = self.read(page, index);
            query.value = value;
            query.value_is_pointer = tag;
        }
        query
    }
}

impl Memory for ReferenceMemory {
    fn execute_partial_query(&mut self, _cycle: u32, query: MemoryQuery) -> MemoryQuery {
        self.query(query)
    }

    fn specialized_code_query(&mut self, _cycle: u32, query: MemoryQuery) -> MemoryQuery {
        self.query(query)
    }

    fn read_code_query(&self, _cycle: u32, mut query: MemoryQuery) -> MemoryQuery {
        let (value, tag) = self.read(query.location.page.0, query.location.index.0);
        query.value = value;
        query.value_is_pointer = tag;
        query
    }
}
