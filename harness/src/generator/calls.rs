//! Worlds of contracts that call each other: the `calls` target.
//!
//! Programs are built from actions (a storage write, a far call with its ABI, a near call
//! around a block that may revert, ...), each a few instructions that load what they need
//! from the constant pool first — far calls and returns clear registers, so nothing is
//! assumed to survive them. Keys come from a small key space so that warm and cold accesses,
//! initial and repeated writes and their rollbacks all happen often.

use arbitrary::{Result, Unstructured};
use eravm::{Condition, FatPointer, Instruction, Opcode, SrcMode, H160, U256};

use super::{imm, pick, value, Settings};
use crate::case::{Address, Bytes, Case, FrameSettings, RegisterValue, Word, CASE_FORMAT_VERSION};
use crate::world::{
    bytecode_hash, Contract, Slot, SlotKey, World, ACCOUNT_CODE_STORAGE, BASE_TOKEN, SYSTEM_CONTEXT,
};

/// A program under construction: instructions, a constant pool, and the loads to patch
/// once the code length is known.
#[derive(Default)]
struct Builder {
    code: Vec<Instruction>,
    constants: Vec<U256>,
    loads: Vec<(usize, usize)>,
    depth: u32,
    /// zk_evm asserts when one frame decommits a hash twice (a known divergence); programs
    /// decommit at most once and then never loop, so campaigns do not drown in it.
    decommits: bool,
    loops: bool,
}

impl Builder {
    fn pc(&self) -> u16 {
        self.code.len() as u16
    }

    fn push(&mut self, ins: Instruction) -> usize {
        self.code.push(ins);
        self.code.len() - 1
    }

    /// `add code[constant], r0, reg`.
    fn load(&mut self, value: U256, reg: u8) {
        let constant = self.constants.len();
        self.constants.push(value);
        let mut ins = Instruction::new(Opcode::Add);
        ins.src0_mode = SrcMode::CodePage;
        ins.dst0 = reg;
        let at = self.push(ins);
        self.loads.push((at, constant));
    }

    fn op(&mut self, opcode: Opcode, src0: u8, src1: u8, dst0: u8) -> usize {
        let mut ins = Instruction::new(opcode);
        ins.src0 = src0;
        ins.src1 = src1;
        ins.dst0 = dst0;
        self.push(ins)
    }

    fn finish(mut self) -> Vec<Word> {
        let words = self.code.len().div_ceil(4);
        for (at, constant) in &self.loads {
            self.code[*at].imm0 = (words + constant) as u16;
        }
        let raw: Vec<u64> = self
            .code
            .iter()
            .map(|i| i.encode().expect("builder emits valid instructions"))
            .collect();
        let mut out = super::pack(&raw);
        out.extend(self.constants.into_iter().map(Word));
        out
    }
}

/// What the generator knows of the world while it writes programs.
struct Plan {
    /// Addresses with code, and addresses worth calling without (default account, faults).
    callees: Vec<H160>,
    keys: Vec<U256>,
    hashes: Vec<U256>,
}

fn address(u: &mut Unstructured, i: usize) -> Result<H160> {
    Ok(H160::from_low_u64_be(match pick(u, &[10, 2, 1, 1, 1])? {
        0 => 0x1_0000 + 0x111 * i as u64,
        1 => 0x8100 + i as u64,
        2 => SYSTEM_CONTEXT,
        3 => BASE_TOKEN,
        _ => 0x8009, // the msg.value simulator address
    }))
}

/// A far call ABI word: the calldata slice in the low half, ergs and flags in the top 64 bits.
fn far_call_abi(u: &mut Unstructured, source: u8) -> Result<U256> {
    let pointer = FatPointer {
        offset: if pick(u, &[12, 1])? == 0 {
            0
        } else {
            u.int_in_range(1..=40)?
        },
        page: 0,
        start: *u.choose(&[0u32, 0, 32, 64, 100])?,
        length: *u.choose(&[0u32, 32, 64, 96, 5])?,
    };
    let ergs: u32 = match pick(u, &[3, 4, 4, 1])? {
        0 => 0,
        1 => u.int_in_range(100..=20_000)?,
        2 => u.int_in_range(20_000..=2_000_000)?,
        _ => u32::MAX,
    };
    let shard: u8 = if pick(u, &[20, 1])? == 0 { 0 } else { 1 };
    let constructor = pick(u, &[15, 1])? == 1;
    let system = pick(u, &[3, 1])? == 1;
    let high = ergs as u64
        | (source as u64) << 32
        | (shard as u64) << 40
        | (constructor as u64) << 48
        | (system as u64) << 56;
    Ok(pointer.to_u256() | U256([0, 0, 0, high]))
}

fn ret_abi(u: &mut Unstructured) -> Result<U256> {
    let pointer = FatPointer {
        offset: 0,
        page: 0,
        start: *u.choose(&[0u32, 32, 64])?,
        length: *u.choose(&[0u32, 32, 64, 7])?,
    };
    let source: u64 = if pick(u, &[5, 1])? == 0 { 0 } else { 2 };
    Ok(pointer.to_u256() | U256([0, 0, 0, source << 32]))
}

fn key(u: &mut Unstructured, plan: &Plan) -> Result<U256> {
    Ok(*u.choose(&plan.keys)?)
}

fn action(u: &mut Unstructured, b: &mut Builder, plan: &Plan, kernel: bool) -> Result<()> {
    // Events are kernel-only: in user code they are a panic, so keep them rare there.
    let events = if kernel { 4 } else { 0 };
    match pick(u, &[8, 6, 3, events, 2, 4, 9, 3, 2, 1, 1, 1])? {
        // Storage write.
        0 => {
            let k = key(u, plan)?;
            b.load(k, 3);
            let v = if pick(u, &[3, 1])? == 0 {
                U256::from(u.int_in_range(0..=3u64)?)
            } else {
                value(u)?
            };
            b.load(v, 4);
            b.op(Opcode::StorageWrite, 3, 4, 0);
        }
        // Storage read, kept on the heap.
        1 => {
            b.load(key(u, plan)?, 3);
            b.op(Opcode::StorageRead, 3, 0, 5);
            let mut st = Instruction::new(Opcode::HeapWrite);
            st.src0_mode = SrcMode::Imm;
            st.imm0 = *u.choose(&[0u16, 32, 64])?;
            st.src1 = 5;
            b.push(st);
        }
        // Transient storage.
        2 => {
            b.load(key(u, plan)?, 3);
            if u.arbitrary()? {
                b.load(value(u)?, 4);
                b.op(Opcode::TransientStorageWrite, 3, 4, 0);
            } else {
                b.op(Opcode::TransientStorageRead, 3, 0, 5);
            }
        }
        // Events and messages (kernel only: elsewhere they panic, which is a case too).
        3 => {
            b.load(key(u, plan)?, 3);
            b.load(value(u)?, 4);
            let opcode = if u.ratio(3, 4)? {
                Opcode::Event
            } else {
                Opcode::ToL1Message
            };
            let at = b.op(opcode, 3, 4, 0);
            b.code[at].modifiers[0] = u.arbitrary()?;
        }
        // Heap write, to give calls and returns something to pass.
        4 => {
            b.load(value(u)?, 4);
            let mut st = Instruction::new(if u.ratio(3, 4)? {
                Opcode::HeapWrite
            } else {
                Opcode::AuxHeapWrite
            });
            st.src0_mode = SrcMode::Imm;
            st.imm0 = *u.choose(&[0u16, 32, 64, 96, 3])?;
            st.src1 = 4;
            b.push(st);
        }
        // A plain instruction, for variety.
        5 => {
            let mut ins = Instruction::new(*u.choose(&[
                Opcode::Add,
                Opcode::Sub,
                Opcode::Xor,
                Opcode::ErgsLeft,
                Opcode::Meta,
                Opcode::Caller,
                Opcode::This,
                Opcode::CodeAddress,
                Opcode::GetContextU128,
            ])?);
            ins.src0 = u.int_in_range(0..=6)?;
            ins.src1 = u.int_in_range(0..=6)?;
            ins.dst0 = u.int_in_range(3..=6)?;
            b.push(ins);
        }
        // A far call.
        6 => far_call(u, b, plan, kernel)?,
        // A near call around a block that may roll back.
        7 if b.depth < 2 => {
            b.depth += 1;
            b.load(
                U256::from(if u.ratio(1, 2)? {
                    0u32
                } else {
                    u.int_in_range(100..=100_000u32)?
                }),
                7,
            );
            let call = b.op(Opcode::NearCall, 7, 0, 0);
            let skip = b.push(Instruction::new(Opcode::Jump));
            b.code[skip].src0_mode = SrcMode::Imm;
            b.code[call].imm0 = b.pc();
            let n = u.int_in_range(1..=4)?;
            for _ in 0..n {
                action(u, b, plan, kernel)?;
            }
            let end = *u.choose(&[Opcode::RetOk, Opcode::RetRevert, Opcode::RetPanic])?;
            b.push(Instruction::new(end));
            let after = b.pc();
            b.code[call].imm1 = after;
            b.code[skip].imm0 = after;
            b.depth -= 1;
        }
        // Set the context value for the next far call.
        8 if kernel => {
            b.load(U256::from(u.arbitrary::<u64>()?), 3);
            b.op(Opcode::SetContextU128, 3, 0, 0);
        }
        // Decommit a known bytecode onto the heap (kernel only).
        9 if kernel && !b.decommits && !b.loops => {
            b.decommits = true;
            b.load(*u.choose(&plan.hashes)?, 3);
            b.load(U256::from(u.int_in_range(0..=5_000u32)?), 4);
            b.op(Opcode::Decommit, 3, 4, 5);
        }
        // A new transaction: transient storage is cleared.
        10 if kernel => {
            b.push(Instruction::new(Opcode::IncrementTxNumber));
        }
        // Loop back to the start: bounded by ergs.
        11 if !b.decommits => {
            b.loops = true;
            let mut j = Instruction::new(Opcode::Jump);
            j.src0_mode = SrcMode::Imm;
            j.imm0 = 0;
            j.condition = *u.choose(&[Condition::Always, Condition::Lt, Condition::Ne])?;
            b.push(j);
        }
        _ => {
            b.load(key(u, plan)?, 3);
            b.op(Opcode::StorageRead, 3, 0, 5);
        }
    }
    Ok(())
}

fn far_call(u: &mut Unstructured, b: &mut Builder, plan: &Plan, kernel: bool) -> Result<()> {
    let callee = *u.choose(&plan.callees)?;
    let opcode = match pick(u, &[6, 3, if kernel { 3 } else { 1 }])? {
        0 => Opcode::FarCall,
        1 => Opcode::FarCallDelegate,
        _ => Opcode::FarCallMimic,
    };
    let source = match pick(u, &[6, 2, 2])? {
        0 => 0u8,
        1 => 2,
        _ => 1,
    };
    let abi = far_call_abi(u, source)?;
    if source == 1 {
        // Forward the calldata (r1) or the last return data (also r1): put the ABI's top
        // half on the pointer.
        b.load(abi & (U256::MAX << 128), 6);
        b.op(Opcode::PtrPack, 1, 6, 6);
    } else {
        b.load(abi, 6);
    }
    b.load(U256::from_big_endian(callee.as_bytes()), 7);
    if opcode == Opcode::FarCallMimic {
        b.load(U256::from(u.int_in_range(1..=0x2_0000u64)?), 15);
    }
    let at = b.op(opcode, 6, 7, 0);
    b.code[at].modifiers = [pick(u, &[4, 1])? == 1, pick(u, &[20, 1])? == 1];
    // Reverts and panics of the callee continue right after the call.
    b.code[at].imm0 = b.pc();
    if u.ratio(1, 3)? {
        // Read the return data.
        b.op(Opcode::FatPointerRead, 1, 0, 5);
    }
    Ok(())
}

fn program(
    u: &mut Unstructured,
    plan: &Plan,
    kernel: bool,
    max_actions: usize,
) -> Result<Vec<Word>> {
    let mut b = Builder::default();
    let n = u.int_in_range(1..=max_actions)?;
    for _ in 0..n {
        action(u, &mut b, plan, kernel)?;
    }
    match pick(u, &[12, 4, 2, 1, 1])? {
        0 => {
            b.load(ret_abi(u)?, 8);
            b.op(Opcode::RetOk, 8, 0, 0);
        }
        1 => {
            b.load(ret_abi(u)?, 8);
            b.op(Opcode::RetRevert, 8, 0, 0);
        }
        2 => {
            b.push(Instruction::new(Opcode::RetPanic));
        }
        3 => {
            // Return the calldata (or last return data) forwarded.
            b.load(U256([0, 0, 0, 1 << 32]), 6);
            b.op(Opcode::PtrPack, 1, 6, 8);
            b.op(Opcode::RetOk, 8, 0, 0);
        }
        _ => {} // fall off the end: the invalid opcode
    }
    Ok(b.finish())
}

/// A case whose bootloader calls into a world of 1–6 contracts.
pub fn generate(u: &mut Unstructured, settings: &Settings) -> Result<Case> {
    let n = u.int_in_range(1..=6usize)?;
    let mut contracts: Vec<H160> = Vec::new();
    for i in 0..n {
        let a = address(u, i)?;
        if !contracts.contains(&a) {
            contracts.push(a);
        }
    }
    let mut callees = contracts.clone();
    callees.push(H160::from_low_u64_be(0x5_0000)); // no code: the default account runs
    callees.push(H160::from_low_u64_be(0x8200)); // kernel without code: a fault
    let odd = H160::from_low_u64_be(0x6_0000); // an odd code hash, set below
    callees.push(odd);

    let mut keys = vec![U256::zero(), U256::one(), U256::from(2), U256::from(3)];
    keys.push(crate::world::bootloader_balance_key());
    let plan_without_hashes = Plan {
        callees: callees.clone(),
        keys: keys.clone(),
        hashes: vec![U256::zero()],
    };

    let max_actions = (settings.max_instructions / 4).clamp(2, 16);
    let mut world = World::default();
    for (i, &a) in contracts.iter().enumerate() {
        let kernel = eravm::state::is_kernel_address(&a);
        world.contracts.push(Contract {
            address: Address(a),
            code: program(u, &plan_without_hashes, kernel, max_actions)?,
            constructing: i > 0 && pick(u, &[12, 1])? == 1,
        });
    }
    world.default_account = program(u, &plan_without_hashes, false, 3)?;
    world.evm_emulator = program(u, &plan_without_hashes, false, 2)?;
    let odd_hash = match pick(u, &[2, 2, 1])? {
        // EVM bytecode: runs the emulator.
        0 => U256::from(2u64) << 248 | U256::from(u.arbitrary::<u64>()?),
        // A hash that is no known format.
        1 => U256::from(u.int_in_range(3..=255u64)?) << 248,
        // Being constructed.
        _ => bytecode_hash(&world.default_account, true),
    };
    world.storage.push(Slot {
        address: Address(H160::from_low_u64_be(ACCOUNT_CODE_STORAGE)),
        key: Word(U256::from_big_endian(odd.as_bytes())),
        value: Word(odd_hash),
    });
    // Some slots start non-zero, some were written in earlier batches.
    for &a in &contracts {
        for &k in &keys {
            if u.ratio(1, 4)? {
                world.storage.push(Slot {
                    address: Address(a),
                    key: Word(k),
                    value: Word(U256::from(u.int_in_range(1..=3u64)?)),
                });
            }
            if u.ratio(1, 3)? {
                world.enumerated.push(SlotKey {
                    address: Address(a),
                    key: Word(k),
                });
            }
        }
    }

    let hashes: Vec<U256> = world
        .contracts
        .iter()
        .map(|c| bytecode_hash(&c.code, c.constructing))
        .collect();
    let plan = Plan {
        callees,
        keys,
        hashes,
    };
    let code = program(u, &plan, true, max_actions)?;
    let ergs = match pick(u, &[1, 8, 2])? {
        0 => u.int_in_range(1_000..=100_000)?,
        1 => u.int_in_range(100_000..=20_000_000)?,
        _ => u32::MAX,
    };
    let calldata: Vec<u8> = (0..u.int_in_range(0..=64usize)?)
        .map(|_| u.arbitrary::<u8>())
        .collect::<Result<_>>()?;
    let pointer = FatPointer {
        offset: 0,
        page: eravm::BOOTLOADER_CALLDATA_PAGE.0,
        start: 0,
        length: calldata.len() as u32,
    };
    let mut frame = FrameSettings::default();
    if u.ratio(1, 4)? {
        frame.heap_bound = imm(u)? as u32;
        frame.aux_heap_bound = imm(u)? as u32;
    }
    Ok(Case {
        version: CASE_FORMAT_VERSION,
        code,
        ergs,
        registers: vec![RegisterValue {
            index: 1,
            value: Word(pointer.to_u256()),
            pointer: true,
        }],
        calldata: Bytes(calldata),
        frame,
        max_cycles: settings.max_cycles * 5,
        flags: Default::default(),
        note: String::new(),
        world: Some(world),
        start: None,
        batch: None,
    })
}
