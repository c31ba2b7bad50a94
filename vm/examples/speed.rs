//! A quick eravm-only timing loop for working on the interpreter (`cargo run --release -p
//! eravm --example speed`). The comparison with zk_evm and vm2 is `eradiff bench`.

use std::time::Instant;

use eravm::{Bootloader, Condition, DstMode, Instruction, Opcode, SrcMode, TaggedWord, Vm, U256};

fn ins(opcode: Opcode) -> Instruction {
    Instruction::new(opcode)
}

fn pack(code: &[Instruction]) -> Vec<U256> {
    code.chunks(4)
        .map(|c| {
            let mut w = [0u64; 4];
            for (i, ins) in c.iter().enumerate() {
                w[3 - i] = ins.encode().expect("a valid instruction");
            }
            U256(w)
        })
        .collect()
}

fn run(name: &str, code: &[Instruction], count: u64) {
    let only = std::env::args().nth(1);
    if only.as_deref().is_some_and(|o| o != name) {
        return;
    }
    let runs = if only.is_some() { 1 } else { 5 };
    let mut best = f64::MAX;
    let mut cycles = 0;
    for _ in 0..runs {
        let mut boot = Bootloader::new(pack(code), u32::MAX);
        boot.registers[14] = TaggedWord::integer(U256::from(count));
        boot.registers[0] = TaggedWord::integer(U256::from(7));
        boot.registers[1] = TaggedWord::integer(U256::from(11));
        let mut vm = Vm::new(boot);
        let t = Instant::now();
        vm.run(None).expect("runs");
        best = best.min(t.elapsed().as_secs_f64());
        cycles = vm.cycles();
    }
    println!(
        "{name:<16} {cycles:>9} cycles {:>8.1} M/s",
        cycles as f64 / best / 1e6
    );
}

fn main() {
    let dec = Instruction {
        src0_mode: SrcMode::Imm,
        imm0: 1,
        src1: 15,
        dst0: 15,
        modifiers: [true, true],
        ..ins(Opcode::Sub)
    };
    let back = Instruction {
        src0_mode: SrcMode::Imm,
        imm0: 0,
        condition: Condition::Ne,
        ..ins(Opcode::Jump)
    };
    let reg = |op, s0, s1, d0| Instruction {
        src0: s0,
        src1: s1,
        dst0: d0,
        ..ins(op)
    };
    run(
        "arithmetic",
        &[
            reg(Opcode::Add, 1, 2, 3),
            reg(Opcode::Xor, 3, 1, 1),
            Instruction {
                dst1: 5,
                ..reg(Opcode::Mul, 1, 2, 4)
            },
            dec,
            back,
            ins(Opcode::RetOk),
        ],
        200_000,
    );
    run(
        "heap",
        &[
            Instruction {
                src0_mode: SrcMode::Imm,
                imm0: 64,
                src1: 15,
                ..ins(Opcode::HeapWrite)
            },
            Instruction {
                src0_mode: SrcMode::Imm,
                imm0: 64,
                dst0: 3,
                ..ins(Opcode::HeapRead)
            },
            reg(Opcode::AuxHeapWrite, 3, 15, 0),
            dec,
            back,
            ins(Opcode::RetOk),
        ],
        200_000,
    );
    run(
        "stack",
        &[
            Instruction {
                dst0_mode: DstMode::StackPush,
                imm1: 1,
                ..reg(Opcode::Add, 15, 0, 0)
            },
            Instruction {
                src0_mode: SrcMode::StackPop,
                imm0: 1,
                ..reg(Opcode::Add, 0, 0, 3)
            },
            Instruction {
                dst0_mode: DstMode::StackAbsolute,
                imm1: 5,
                ..reg(Opcode::Add, 3, 0, 0)
            },
            dec,
            back,
            ins(Opcode::RetOk),
        ],
        200_000,
    );
    run(
        "near calls",
        &[
            Instruction {
                imm0: 4,
                imm1: 4,
                ..ins(Opcode::NearCall)
            },
            dec,
            back,
            ins(Opcode::RetOk),
            ins(Opcode::RetOk),
        ],
        200_000,
    );
}
