//! A small builder for EraVM programs, for tests and hand-written corpus cases.
//!
//! ```
//! use eradiff::asm::{op, Program};
//! use eravm::Opcode;
//! let case = Program::new()
//!     .push(op(Opcode::Add).imm(5).src1(0).dst(1))
//!     .push(op(Opcode::RetOk))
//!     .case(10_000);
//! assert_eq!(case.code.len(), 1);
//! ```

use eravm::{Condition, DstMode, Instruction, Opcode, SrcMode, TaggedWord, U256};

use crate::case::{
    Case, FrameSettings, RegisterValue, Word, CASE_FORMAT_VERSION, DEFAULT_MAX_CYCLES,
};
use crate::generator::pack;

/// An instruction under construction.
#[derive(Clone, Copy, Debug)]
pub struct Op(pub Instruction);

/// Starts an instruction with register operands r0.
pub fn op(opcode: Opcode) -> Op {
    Op(Instruction::new(opcode))
}

impl Op {
    pub fn src0(mut self, r: u8) -> Op {
        self.0.src0 = r;
        self
    }
    pub fn src1(mut self, r: u8) -> Op {
        self.0.src1 = r;
        self
    }
    pub fn dst(mut self, r: u8) -> Op {
        self.0.dst0 = r;
        self
    }
    pub fn dst1(mut self, r: u8) -> Op {
        self.0.dst1 = r;
        self
    }
    /// Source operand: the immediate `value`.
    pub fn imm(mut self, value: u16) -> Op {
        self.0.src0_mode = SrcMode::Imm;
        self.0.imm0 = value;
        self
    }
    pub fn src_mode(mut self, mode: SrcMode, imm0: u16) -> Op {
        self.0.src0_mode = mode;
        self.0.imm0 = imm0;
        self
    }
    pub fn dst_mode(mut self, mode: DstMode, imm1: u16) -> Op {
        self.0.dst0_mode = mode;
        self.0.imm1 = imm1;
        self
    }
    pub fn imm0(mut self, value: u16) -> Op {
        self.0.imm0 = value;
        self
    }
    pub fn imm1(mut self, value: u16) -> Op {
        self.0.imm1 = value;
        self
    }
    /// Sets the first modifier (set flags, swap for ptr, increment, to-label).
    pub fn m0(mut self) -> Op {
        self.0.modifiers[0] = true;
        self
    }
    /// Sets the second modifier (swap for sub, div and shifts).
    pub fn m1(mut self) -> Op {
        self.0.modifiers[1] = true;
        self
    }
    pub fn when(mut self, condition: Condition) -> Op {
        self.0.condition = condition;
        self
    }
    pub fn encode(self) -> u64 {
        self.0
            .encode()
            .unwrap_or_else(|| panic!("not a valid instruction: {:?}", self.0))
    }
}

/// A program: instruction words, then constant words.
#[derive(Clone, Debug, Default)]
pub struct Program {
    words: Vec<u64>,
    constants: Vec<U256>,
    registers: Vec<RegisterValue>,
    frame: FrameSettings,
    calldata: Vec<u8>,
}

impl Program {
    pub fn new() -> Program {
        Program::default()
    }
    pub fn push(mut self, op: Op) -> Program {
        self.words.push(op.encode());
        self
    }
    /// A raw instruction word, valid or not.
    pub fn raw(mut self, word: u64) -> Program {
        self.words.push(word);
        self
    }
    pub fn constant(mut self, value: U256) -> Program {
        self.constants.push(value);
        self
    }
    pub fn register(mut self, index: u8, word: TaggedWord) -> Program {
        self.registers.push(RegisterValue {
            index,
            value: Word(word.value),
            pointer: word.is_pointer,
        });
        self
    }
    pub fn frame(mut self, frame: FrameSettings) -> Program {
        self.frame = frame;
        self
    }
    pub fn calldata(mut self, bytes: &[u8]) -> Program {
        self.calldata = bytes.to_vec();
        self
    }
    /// Word index where the first constant will be placed.
    pub fn constants_start(&self) -> usize {
        self.words.len().div_ceil(4)
    }
    pub fn case(self, ergs: u32) -> Case {
        let mut code = pack(&self.words);
        code.extend(self.constants.into_iter().map(Word));
        Case {
            version: CASE_FORMAT_VERSION,
            code,
            ergs,
            registers: self.registers,
            calldata: crate::case::Bytes(self.calldata),
            frame: self.frame,
            max_cycles: DEFAULT_MAX_CYCLES,
            flags: Default::default(),
            note: String::new(),
            world: None,
            start: None,
            batch: None,
        }
    }
}
