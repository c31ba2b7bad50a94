//! Fat pointers: the 128-bit slice descriptors EraVM keeps in the low half of a tagged word.

use primitive_types::U256;

/// `offset` is relative to `start`; the slice is `[start, start + length)` of `page`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FatPointer {
    /// Where reading starts, from `start`.
    pub offset: u32,
    /// The memory page the slice is on.
    pub page: u32,
    /// The slice's first byte on the page.
    pub start: u32,
    /// The slice's length in bytes.
    pub length: u32,
}

impl FatPointer {
    /// Reads the low 128 bits of a word: offset, page, start, length from the least
    /// significant 32 bits up.
    pub const fn from_u256(value: &U256) -> FatPointer {
        FatPointer {
            offset: value.0[0] as u32,
            page: (value.0[0] >> 32) as u32,
            start: value.0[1] as u32,
            length: (value.0[1] >> 32) as u32,
        }
    }

    /// The pointer as a word with the high 128 bits zero.
    pub const fn to_u256(self) -> U256 {
        U256([
            self.offset as u64 | (self.page as u64) << 32,
            self.start as u64 | (self.length as u64) << 32,
            0,
            0,
        ])
    }

    /// Replaces the low 128 bits of `word` with this pointer, keeping the high 128 bits.
    pub const fn into_word_keeping_high_bits(self, word: &U256) -> U256 {
        let low = self.to_u256();
        U256([low.0[0], low.0[1], word.0[2], word.0[3]])
    }

    /// Whether `start + length` overflows: such a pointer reaches past the addressable heap.
    pub const fn overflows(&self) -> bool {
        self.start.checked_add(self.length).is_none()
    }

    /// A byte at `offset` can be read.
    pub const fn offset_in_bounds(&self) -> bool {
        self.offset < self.length
    }

    /// Valid as a (possibly empty) slice to pass on: the offset may equal the length.
    pub const fn is_valid_slice(&self) -> bool {
        self.offset <= self.length
    }
}

/// Clears the page and start of a pointer that reaches an instruction which must not see
/// them, keeping offset, length and the high 128 bits.
pub fn erase_pointer_metadata(value: &mut U256) {
    value.0[0] &= 0x0000_0000_ffff_ffff;
    value.0[1] &= 0xffff_ffff_0000_0000;
}
