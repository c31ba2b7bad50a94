//! `eradiff bench`: the same workloads on eravm and on zk_evm, in one process.
//!
//! Every workload is first run through the differential check (both VMs must agree on it),
//! then timed on each VM with no observation: eravm's own run loop, and zk_evm's `cycle` with
//! a tracer that does nothing. The table gives EraVM instructions (cycles) per second and
//! the ratio. `--fuzz` also times each fuzz target: the harness's full differential run
//! against the same generated cases on zk_evm alone.

use std::time::{Duration, Instant};

use eravm::{Condition, DstMode, Opcode, SrcMode, TaggedWord, U256};

use crate::asm::{op, Program};
use crate::backend::{run_zk_evm_bare, EraVm, ZkEvm};
use crate::case::{Address, Case};
use crate::differential::{check, Verdict};
use crate::generator::{generate_seeded_for, Settings, Target};
use crate::world::{Contract, World};

/// A named workload.
pub struct Workload {
    pub name: &'static str,
    pub case: Case,
}

/// A program from explicit instructions, run as a kernel bootloader with `registers`.
fn program(code: &[crate::asm::Op], registers: &[(u8, U256)]) -> Case {
    let mut p = Program::new();
    for &(r, v) in registers {
        p = p.register(r, TaggedWord::integer(v));
    }
    for &o in code {
        p = p.push(o);
    }
    let mut case = p.case(u32::MAX);
    case.max_cycles = u64::MAX;
    case
}

/// `sub.s! 1, r15, r15` (r15 - 1, flags set), then `jump.ne @target`.
fn count_down(target: u16) -> [crate::asm::Op; 2] {
    [
        op(Opcode::Sub).imm(1).src1(15).dst(15).m0().m1(),
        op(Opcode::Jump).imm(target).when(Condition::Ne),
    ]
}

/// The workloads; `scale` multiplies their iterations.
pub fn workloads(scale: u64) -> Vec<Workload> {
    let n = |k: u64| U256::from(k * scale);
    let ret = op(Opcode::RetOk);
    let [dec, loop0] = count_down(0);
    let mut out = Vec::new();
    out.push(Workload {
        name: "arithmetic loop",
        case: program(
            &[
                op(Opcode::Add).src0(1).src1(2).dst(3),
                op(Opcode::Xor).src0(3).src1(1).dst(1),
                op(Opcode::Mul).src0(1).src1(2).dst(4).dst1(5),
                dec,
                loop0,
                ret,
            ],
            &[(1, U256::from(7)), (2, U256::from(11)), (15, n(100_000))],
        ),
    });
    out.push(Workload {
        name: "heap loop",
        case: program(
            &[
                op(Opcode::HeapWrite).imm(64).src1(15),
                op(Opcode::HeapRead).imm(64).dst(3),
                op(Opcode::AuxHeapWrite).src0(3).src1(15),
                dec,
                loop0,
                ret,
            ],
            &[(15, n(100_000))],
        ),
    });
    out.push(Workload {
        name: "stack loop",
        case: program(
            &[
                op(Opcode::Add).src0(15).dst_mode(DstMode::StackPush, 1),
                op(Opcode::Add).src_mode(SrcMode::StackPop, 1).dst(3),
                op(Opcode::Add).src0(3).dst_mode(DstMode::StackAbsolute, 5),
                dec,
                loop0,
                ret,
            ],
            &[(15, n(100_000))],
        ),
    });
    out.push(Workload {
        name: "near calls",
        case: program(
            &[
                op(Opcode::NearCall).imm0(4).imm1(4),
                dec,
                loop0,
                ret,
                op(Opcode::RetOk), // 4: the callee
            ],
            &[(15, n(100_000))],
        ),
    });
    out.push(Workload {
        name: "storage and rollbacks",
        case: program(
            &[
                op(Opcode::NearCall).imm0(5).imm1(1), // revert lands on pc 1
                op(Opcode::StorageRead).src0(15).dst(3),
                dec,
                loop0,
                ret,
                op(Opcode::StorageWrite).src0(15).src1(15), // 5: the callee
                op(Opcode::RetRevert),
            ],
            &[(15, n(20_000))],
        ),
    });
    out.push(Workload {
        name: "far calls",
        case: far_calls(n(20_000)),
    });
    out.push(Workload {
        name: "keccak256",
        case: keccak(n(20_000)),
    });
    out
}

/// The bootloader far-calls a contract that returns at once. Far calls clear registers, so
/// the counter and the operands live on the stack.
fn far_calls(n: U256) -> Case {
    let callee = eravm::H160::from_low_u64_be(0x1_0000);
    let at = |k: u16| (SrcMode::StackAbsolute, k);
    let [dec, _] = count_down(0);
    let mut case = program(
        &[
            op(Opcode::Add).src0(5).dst_mode(DstMode::StackAbsolute, 1),
            op(Opcode::Add).src0(6).dst_mode(DstMode::StackAbsolute, 2),
            op(Opcode::Add).src0(15).dst_mode(DstMode::StackAbsolute, 0),
            op(Opcode::Add).src_mode(at(1).0, at(1).1).dst(1), // 3: the loop
            op(Opcode::Add).src_mode(at(2).0, at(2).1).dst(2),
            op(Opcode::FarCall).src0(1).src1(2).imm0(6),
            op(Opcode::Add).src_mode(at(0).0, at(0).1).dst(15),
            dec,
            op(Opcode::Add).src0(15).dst_mode(DstMode::StackAbsolute, 0),
            op(Opcode::Jump).imm(3).when(Condition::Ne),
            op(Opcode::RetOk),
        ],
        &[
            (5, U256([0, 0, 0, 10_000])),
            (6, U256::from_big_endian(callee.as_bytes())),
            (15, n),
        ],
    );
    case.world = Some(World {
        contracts: vec![Contract {
            address: Address(callee),
            code: crate::generator::pack(&[op(Opcode::RetOk).encode()]),
            constructing: false,
        }],
        ..World::default()
    });
    case
}

/// A frame at keccak256's address hashing 64 bytes of its heap.
fn keccak(n: U256) -> Case {
    let [dec, loop0] = count_down(0);
    let mut case = program(
        &[
            op(Opcode::PrecompileCall).src0(5).dst(3),
            dec,
            loop0,
            op(Opcode::RetOk),
        ],
        &[(5, U256([64u64 << 32, 4, 0, 0])), (15, n)],
    );
    case.frame.address = Address(eravm::H160::from_low_u64_be(
        eravm::precompiles::KECCAK256 as u64,
    ));
    case
}

/// Timings of one workload.
pub struct Timing {
    pub name: String,
    pub cycles: u64,
    pub eravm: Duration,
    pub zk_evm: Duration,
}

fn best_of<F: FnMut() -> u64>(runs: usize, mut f: F) -> (u64, Duration) {
    let mut best = Duration::MAX;
    let mut cycles = 0;
    for _ in 0..runs {
        let start = Instant::now();
        cycles = f();
        best = best.min(start.elapsed());
    }
    (cycles, best)
}

/// Times every workload on both VMs after checking that they agree on it.
pub fn run(scale: u64, runs: usize) -> Result<Vec<Timing>, String> {
    let mut out = Vec::new();
    for w in workloads(scale) {
        let mut checked = w.case.clone();
        checked.max_cycles = 200_000;
        if let Verdict::Disagree(f) = check(&checked, &EraVm, &ZkEvm) {
            return Err(format!("workload {:?}: the VMs disagree: {f:?}", w.name));
        }
        let world = w.case.resolved_world();
        let (cycles, eravm_time) = best_of(runs, || {
            let mut vm = eravm::Vm::with_storage(
                w.case.bootloader(),
                Box::new(world.eravm_storage()),
                world.chain_settings(),
            );
            let _ = vm.run(Some(w.case.max_cycles));
            vm.cycles()
        });
        let (zk_cycles, zk_time) = best_of(runs, || run_zk_evm_bare(&w.case));
        if zk_cycles != cycles {
            return Err(format!(
                "workload {:?}: eravm ran {cycles} cycles, zk_evm {zk_cycles}",
                w.name
            ));
        }
        out.push(Timing {
            name: w.name.to_string(),
            cycles,
            eravm: eravm_time,
            zk_evm: zk_time,
        });
    }
    Ok(out)
}

/// The table: cycles per second on each VM and the ratio, with the geometric mean.
pub fn table(timings: &[Timing]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| workload | cycles | eravm (M/s) | zk_evm (M/s) | eravm / zk_evm |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    let mut log_sum = 0.0;
    for t in timings {
        let e = t.cycles as f64 / t.eravm.as_secs_f64() / 1e6;
        let z = t.cycles as f64 / t.zk_evm.as_secs_f64() / 1e6;
        log_sum += (e / z).ln();
        let _ = writeln!(
            s,
            "| {} | {} | {e:.1} | {z:.1} | {:.1}× |",
            t.name,
            t.cycles,
            e / z
        );
    }
    let mean = (log_sum / timings.len().max(1) as f64).exp();
    let _ = writeln!(s, "| geometric mean | | | | {mean:.1}× |");
    s
}

/// For each fuzz target: executions per second of the full differential run, and of the
/// same generated cases on zk_evm alone.
pub fn fuzz_overhead(iterations: u64) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| target | eradiff fuzz (execs/s) | zk_evm alone (execs/s) | share |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|");
    // Not batches: `run_bare` hosts no operator, so zk_evm alone would run an empty batch.
    for target in [Target::Opcodes, Target::Calls, Target::Precompiles] {
        let cases: Vec<Case> = (0..iterations)
            .map(|i| generate_seeded_for(target, 1, i, &Settings::default()))
            .collect();
        let start = Instant::now();
        for c in &cases {
            let _ = check(c, &EraVm, &ZkEvm);
        }
        let full = iterations as f64 / start.elapsed().as_secs_f64();
        let start = Instant::now();
        for c in &cases {
            let _ = run_zk_evm_bare(c);
        }
        let alone = iterations as f64 / start.elapsed().as_secs_f64();
        let _ = writeln!(
            s,
            "| {target:?} | {full:.0} | {alone:.0} | {:.0} % |",
            100.0 * full / alone
        );
    }
    s
}
