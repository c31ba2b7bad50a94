//! Our bootloader: a small EraVM program that follows the protocol's heap layout and hooks.
//!
//! It loops over the transaction descriptions the operator wrote; for each one it reads the
//! transaction (our simplified encoding, see [`TxEncoding`]), far-calls its target with its
//! calldata and gas limit inside a near call that catches reverts and panics, reports the
//! result (PostResult), stores it in the result slot, asks for and notifies the refund
//! (AskOperatorForRefund, NotifyAboutRefund), says the transaction has ended (TxHasEnded) and
//! starts the next transaction number. At the end it raises FinalBatchInfo (with the batch
//! timestamp, number and operator it reads from the batch information) and
//! PubdataRequested and returns.
//!
//! Differences from the production bootloader: no validation, fees, nonces, paymasters, L2
//! blocks, compressed bytecodes or L1 messenger call (the pubdata the operator writes on
//! PubdataRequested, in the protocol's form, stays in the heap unread); transactions are not
//! ABI-encoded structs but the four-word form below; the refund asked for is what the
//! operator offers. There are no system contracts: a contract deployed at 0x8008 stands for
//! the L1 messenger and emits its events itself, not through the event writer.

use primitive_types::U256;

use super::{layout, SimpleTransaction};
use crate::decoder::Instruction;
use crate::opcode::{Condition, DstMode, Opcode, SrcMode};

/// How a transaction sits in the transaction data area, in 32-byte words from its start:
/// target address, gas limit, calldata length in bytes, then the calldata.
pub struct TxEncoding;

impl TxEncoding {
    /// The address the transaction calls.
    pub const TO: u32 = 0;
    /// The ergs it may spend.
    pub const GAS_LIMIT: u32 = 1;
    /// The calldata's length in bytes.
    pub const CALLDATA_LENGTH: u32 = 2;
    /// The first word of calldata.
    pub const CALLDATA: u32 = 3;

    /// The words of `tx`, from its start.
    pub fn words(tx: &SimpleTransaction) -> Vec<U256> {
        let mut words = vec![
            U256::from_big_endian(tx.to.as_bytes()),
            U256::from(tx.gas_limit),
            U256::from(tx.calldata.len()),
        ];
        words.extend(super::words_of_bytes(&tx.calldata));
        words
    }
}

/// Hook numbers the program raises.
const POST_RESULT: u64 = 10;
const ASK_OPERATOR_FOR_REFUND: u64 = 8;
const NOTIFY_ABOUT_REFUND: u64 = 9;
const TX_HAS_ENDED: u64 = 4;
const FINAL_BATCH_INFO: u64 = 11;
const PUBDATA_REQUESTED: u64 = 12;

/// A tiny assembler: instructions, a constant pool loaded with `code[...]` operands, and jump
/// targets patched once known.
#[derive(Default)]
struct Asm {
    code: Vec<Instruction>,
    constants: Vec<U256>,
    loads: Vec<(usize, usize)>,
}

impl Asm {
    fn pc(&self) -> u16 {
        self.code.len() as u16
    }

    fn emit(&mut self, opcode: Opcode, f: impl FnOnce(&mut Instruction)) -> usize {
        let mut ins = Instruction::new(opcode);
        f(&mut ins);
        self.code.push(ins);
        self.code.len() - 1
    }

    /// `add code[constant], r(src1), r(dst)`: dst = constant + src1.
    fn add_constant(&mut self, value: U256, src1: u8, dst: u8) {
        let k = self.constants.len();
        self.constants.push(value);
        let at = self.emit(Opcode::Add, |i| {
            i.src0_mode = SrcMode::CodePage;
            i.src1 = src1;
            i.dst0 = dst;
        });
        self.loads.push((at, k));
    }

    /// `add imm, r(src1), r(dst)`.
    fn add_imm(&mut self, imm: u16, src1: u8, dst: u8) {
        self.emit(Opcode::Add, |i| {
            i.src0_mode = SrcMode::Imm;
            i.imm0 = imm;
            i.src1 = src1;
            i.dst0 = dst;
        });
    }

    /// `shl.s imm, r(src), r(dst)`: dst = src << imm.
    fn shl(&mut self, imm: u16, src: u8, dst: u8) {
        self.emit(Opcode::Shl, |i| {
            i.src0_mode = SrcMode::Imm;
            i.imm0 = imm;
            i.src1 = src;
            i.dst0 = dst;
            i.modifiers = [false, true];
        });
    }

    fn load_heap(&mut self, address: u8, dst: u8) {
        self.emit(Opcode::HeapRead, |i| {
            i.src0 = address;
            i.dst0 = dst;
        });
    }

    fn store_heap(&mut self, address: u8, value: u8) {
        self.emit(Opcode::HeapWrite, |i| {
            i.src0 = address;
            i.src1 = value;
        });
    }

    /// Writes up to three parameters (registers) below the hook slot, then the hook.
    fn hook(&mut self, number: u64, params: &[u8]) {
        self.add_constant(U256::from(layout::HOOK_PARAMS as u64 * 32), 0, 13);
        for (k, &p) in params.iter().enumerate() {
            if k > 0 {
                self.add_imm(32, 13, 13);
            }
            self.store_heap(13, p);
        }
        self.add_constant(U256::from(layout::HOOK as u64 * 32), 0, 13);
        self.add_imm(number as u16, 0, 14);
        self.store_heap(13, 14);
    }

    /// The loop counter lives in stack slot 0: far calls clear the registers.
    fn load_index(&mut self, dst: u8) {
        self.emit(Opcode::Add, |i| {
            i.src0_mode = SrcMode::StackAbsolute;
            i.dst0 = dst;
        });
    }

    fn store_index(&mut self, src: u8) {
        self.emit(Opcode::Add, |i| {
            i.src0 = src;
            i.dst0_mode = DstMode::StackAbsolute;
        });
    }

    fn jump(&mut self, condition: Condition) -> usize {
        self.emit(Opcode::Jump, |i| {
            i.src0_mode = SrcMode::Imm;
            i.condition = condition;
        })
    }

    fn finish(mut self) -> Vec<U256> {
        let words = self.code.len().div_ceil(4);
        for (at, k) in &self.loads {
            self.code[*at].imm0 = (words + k) as u16;
        }
        let raw: Vec<u64> = self
            .code
            .iter()
            .map(|i| i.encode().expect("the bootloader uses valid instructions"))
            .collect();
        let mut out: Vec<U256> = raw
            .chunks(4)
            .map(|c| {
                let mut limbs = [0u64; 4];
                for (i, &r) in c.iter().enumerate() {
                    limbs[3 - i] = r;
                }
                U256(limbs)
            })
            .collect();
        out.extend(self.constants);
        out
    }
}

/// The bootloader's code page.
pub fn program() -> Vec<U256> {
    let mut a = Asm::default();
    // Registers: r2 index, r3 description address, r5 data address, r6 target, r7 gas,
    // r8 calldata length, r9 far call ABI, r10 success, r1 return data (set by far returns).
    let top = a.pc();
    a.load_index(2);
    a.shl(6, 2, 3);
    a.add_constant(U256::from(layout::TX_DESCRIPTIONS as u64 * 32), 3, 3);
    a.load_heap(3, 4);
    a.emit(Opcode::Sub, |i| {
        i.src0 = 4;
        i.modifiers = [true, false];
    });
    let to_end = a.jump(Condition::Eq);
    a.add_imm(32, 3, 3);
    a.load_heap(3, 5);
    a.load_heap(5, 6);
    a.add_imm(32, 5, 5);
    a.load_heap(5, 7);
    a.add_imm(32, 5, 5);
    a.load_heap(5, 8);
    a.add_imm(32, 5, 5);
    // ABI: start (bits 64..96) and length (96..128) of the heap slice, gas in bits 192..224.
    a.shl(64, 5, 9);
    a.shl(96, 8, 8);
    a.emit(Opcode::Or, |i| {
        i.src0 = 8;
        i.src1 = 9;
        i.dst0 = 9;
    });
    a.shl(192, 7, 7);
    a.emit(Opcode::Or, |i| {
        i.src0 = 7;
        i.src1 = 9;
        i.dst0 = 9;
    });
    let call = a.emit(Opcode::NearCall, |_| {});
    a.add_imm(1, 0, 10);
    let to_post = a.jump(Condition::Always);
    let failed = a.pc();
    a.add_imm(0, 0, 10);
    let post = a.pc();
    a.hook(POST_RESULT, &[10, 1]);
    a.load_index(2);
    a.shl(5, 2, 3);
    a.add_constant(U256::from(layout::TX_RESULTS as u64 * 32), 3, 3);
    a.store_heap(3, 10);
    a.hook(ASK_OPERATOR_FOR_REFUND, &[0, 0, 0]);
    a.load_index(2);
    a.shl(5, 2, 3);
    a.add_constant(U256::from(layout::OPERATOR_REFUNDS as u64 * 32), 3, 3);
    a.load_heap(3, 11);
    a.hook(NOTIFY_ABOUT_REFUND, &[11]);
    a.hook(TX_HAS_ENDED, &[]);
    a.emit(Opcode::IncrementTxNumber, |_| {});
    a.load_index(2);
    a.add_imm(1, 2, 2);
    a.store_index(2);
    let back = a.jump(Condition::Always);
    let end = a.pc();
    // The batch timestamp, number and operator (slots 2, 3 and 0) go out with FinalBatchInfo.
    for (slot, register) in [(2u16, 6u8), (3, 7), (0, 8)] {
        a.add_imm(slot * 32, 0, register);
        a.load_heap(register, register);
    }
    a.hook(FINAL_BATCH_INFO, &[6, 7, 8]);
    a.hook(PUBDATA_REQUESTED, &[]);
    a.emit(Opcode::RetOk, |_| {});
    // Near-called for each transaction: the far call, then back with its outcome.
    let call_tx = a.pc();
    let far_call = a.emit(Opcode::FarCall, |i| {
        i.src0 = 9;
        i.src1 = 6;
    });
    a.emit(Opcode::RetOk, |_| {});
    let reverted = a.pc();
    a.emit(Opcode::RetRevert, |_| {});

    a.code[to_end].imm0 = end;
    a.code[to_post].imm0 = post;
    a.code[back].imm0 = top;
    a.code[call].imm0 = call_tx;
    a.code[call].imm1 = failed;
    a.code[far_call].imm0 = reverted;
    a.finish()
}
