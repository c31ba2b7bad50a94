//! `eradiff bench`: the same workloads on eravm, on zk_evm and (with the `vm2` feature) on
//! matter-labs' vm2, in one process.
//!
//! Every workload is first run through the differential check (eravm and zk_evm must agree
//! on it, and vm2 must end the same way), then timed on each VM with no observation: eravm's
//! own run loop, zk_evm's `cycle` with a tracer that does nothing, vm2's `run` with the empty
//! tracer. Batch workloads run through the operators (eravm's `OperatorVm`, our reference
//! operator on zk_evm). The table gives EraVM instructions (cycles) per second and the
//! ratios. `--fuzz` also times each fuzz target: generating and checking cases as `eradiff
//! fuzz` does, against the same cases on zk_evm alone and on eravm alone. `--one` runs one
//! workload once on one VM, for instruction counting under valgrind (`ci/bench-counts.sh`);
//! `--scaling` times workloads against their size.

use std::time::{Duration, Instant};

use eravm::{Condition, DstMode, Opcode, SrcMode, TaggedWord, H160, U256};

use crate::asm::{op, Program};
use crate::backend::{run_eravm_bare, run_zk_evm_bare};
use crate::case::{
    Address, Batch, BatchInfo, BatchMode, Bytes, Case, FrameSettings, Transaction, Word,
};
use crate::differential::{Judge, Verdict};
use crate::generator::{generate_seeded_for, Settings, Target};
use crate::world::{Contract, Slot, World};

pub mod scaling;
pub mod vm2;

/// A named workload.
#[derive(Clone)]
pub struct Workload {
    /// Short name for `--one` and criterion.
    pub id: &'static str,
    pub name: &'static str,
    pub case: Case,
}

/// A VM the benchmarks can run on: any backend.
pub use crate::backend::BackendName as BenchVm;

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

/// `k` iterations times `scale`, at least one.
fn scaled(k: u64, scale: f64) -> u64 {
    ((k as f64 * scale).round() as u64).max(1)
}

/// The workloads; `scale` multiplies their iterations (and the batch's transactions).
pub fn workloads(scale: f64) -> Vec<Workload> {
    let n = |k: u64| U256::from(scaled(k, scale));
    let ret = op(Opcode::RetOk);
    let [dec, loop0] = count_down(0);
    let mut out = Vec::new();
    out.push(Workload {
        id: "arith",
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
        id: "heap",
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
        id: "stack",
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
        id: "near-calls",
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
        id: "storage",
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
        id: "far-calls",
        name: "far calls",
        case: far_calls(n(20_000)),
    });
    out.push(Workload {
        id: "keccak256",
        name: "keccak256",
        case: keccak(n(20_000)),
    });
    out.push(Workload {
        id: "batch",
        name: "batch through the operators",
        case: batch(scaled(50, scale) as usize),
    });
    out
}

/// A bootloader that returns at once: what `--one` subtracts as start-up.
pub fn empty() -> Workload {
    Workload {
        id: "empty",
        name: "empty",
        case: program(&[op(Opcode::RetOk)], &[]),
    }
}

/// The workload called `id` (`empty` included).
pub fn workload(id: &str, scale: f64) -> Option<Workload> {
    if id == "empty" {
        return Some(empty());
    }
    workloads(scale).into_iter().find(|w| w.id == id)
}

/// Where the batch workload's storage writers live (kernel addresses, so that they may send
/// messages).
const WRITERS: u64 = 0xa000;

/// Our bootloader running `transactions` transactions through the operator, each to one of
/// three storage writers (every other one sending a message), whose slots start partly set.
pub fn batch(transactions: usize) -> Case {
    let writers: Vec<H160> = (0..3).map(|i| H160::from_low_u64_be(WRITERS + i)).collect();
    let mut world = World::default();
    for (i, &address) in writers.iter().enumerate() {
        world.contracts.push(Contract {
            address: Address(address),
            code: crate::generator::batches::storage_writer(i % 2 == 1),
            constructing: false,
        });
        for key in (0..8u64).step_by(3) {
            world.storage.push(Slot {
                address: Address(address),
                key: Word(U256::from(key)),
                value: Word(U256::from(1 + key % 3)),
            });
        }
    }
    let transactions = (0..transactions)
        .map(|i| {
            let mut calldata = vec![0u8; 32];
            calldata[28..].copy_from_slice(&[(i / 7) as u8, (i / 5) as u8, (i / 3) as u8, i as u8]);
            Transaction {
                to: Address(writers[i % writers.len()]),
                gas_limit: 1_000_000,
                calldata: Bytes(calldata),
                rollback: false,
            }
        })
        .collect();
    let mut case = Program::new().case(u32::MAX);
    case.code = eravm::operator::bootloader::program()
        .into_iter()
        .map(Word)
        .collect();
    case.frame = FrameSettings::default();
    case.max_cycles = u64::MAX;
    case.world = Some(world);
    case.batch = Some(Batch {
        blocks: Vec::new(),
        transactions,
        mode: BatchMode::Batch,
        info: BatchInfo {
            operator: Address(H160::from_low_u64_be(0x0e7a)),
            previous_batch_hash: Word(U256::from(0x1234_5678u64)),
            timestamp: 1_750_000_000,
            number: 42,
            fair_pubdata_price: 1_000,
            fair_l2_gas_price: 100_000,
            expected_base_fee: 100_000,
        },
    });
    case
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
        // Output: one word at word 4 (vm2 writes no more than the ABI's output length).
        &[(5, U256([64u64 << 32, 4 | 1 << 32, 0, 0])), (15, n)],
    );
    case.frame.address = Address(eravm::H160::from_low_u64_be(
        eravm::precompiles::KECCAK256 as u64,
    ));
    case
}

/// Runs a workload once on eravm with no observation (batches through `OperatorVm`);
/// returns the cycles run.
pub fn run_eravm(case: &Case) -> u64 {
    run_eravm_bare(case)
}

/// Runs a workload once on zk_evm with no observation (batches through our reference
/// operator); returns the cycles run.
pub fn run_zk_evm(case: &Case) -> u64 {
    run_zk_evm_bare(case)
}

/// Runs a workload once on `vm`: the cycles run, or why that VM cannot run it.
pub fn run_on(vm: BenchVm, case: &Case) -> Result<u64, String> {
    match vm {
        BenchVm::Eravm => Ok(run_eravm(case)),
        BenchVm::ZkEvm => Ok(run_zk_evm(case)),
        BenchVm::Vm2 => vm2::run(case),
        BenchVm::NodeVm1 | BenchVm::NodeFast => {
            Err("the node's operators are not benchmarked in process".into())
        }
    }
}

/// Timings of one workload.
pub struct Timing {
    pub name: String,
    pub cycles: u64,
    pub eravm: Duration,
    pub zk_evm: Duration,
    /// Or why vm2 was not timed.
    pub vm2: Result<Duration, String>,
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

/// Checks a workload: eravm and zk_evm agree on its first cycles (the differential check)
/// and run the same number of cycles in all. Returns that number.
pub fn check_workload(w: &Workload) -> Result<u64, String> {
    let mut checked = w.case.clone();
    checked.max_cycles = 200_000;
    if let Verdict::Disagree(f) = Judge::default().check(&checked) {
        return Err(format!("workload {:?}: the VMs disagree: {f:?}", w.name));
    }
    let cycles = run_eravm(&w.case);
    let zk_cycles = run_zk_evm(&w.case);
    if zk_cycles != cycles {
        return Err(format!(
            "workload {:?}: eravm ran {cycles} cycles, zk_evm {zk_cycles}",
            w.name
        ));
    }
    Ok(cycles)
}

/// Whether vm2 ends the workload as eravm does; `Err` says why vm2 is not timed on it.
pub(crate) fn check_vm2(w: &Workload) -> Result<(), String> {
    let mut checked = w.case.clone();
    checked.max_cycles = checked.max_cycles.min(200_000);
    vm2::check(&checked)
}

/// A real batch: the first case the realbatches target generates from seed 1 on
/// `settings.bundle` (production bootloader, genesis, signed transactions, deploys, the
/// block tip) that the node's operators can run too (see
/// [`crate::case::Batch::keeps_a_legacy_tx_without_chain_id`]).
pub fn real_batch(settings: &crate::generator::Settings) -> Workload {
    use crate::generator::{generate_seeded_for, Target};
    let case = (0..)
        .map(|i| generate_seeded_for(Target::Realbatches, 1, i, settings))
        .find(|c| {
            c.batch
                .as_ref()
                .is_some_and(|b| !b.keeps_a_legacy_tx_without_chain_id())
        })
        .expect("some batch of seed 1 has no legacy transaction without a chain id");
    Workload {
        id: "real-batch",
        name: "real batch (production bootloader)",
        case,
    }
}

/// The real batch on the node's operators beside eravm and zk_evm (`timing`): each node
/// operator's best of `runs`, timed inside its process, or why it was not timed.
pub fn node_table(timing: &Timing, real: &Workload, runs: usize) -> String {
    use crate::backend::node::{timed, NODE_FAST, NODE_VM1};
    use crate::backend::Backend;
    use std::fmt::Write;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut s = String::new();
    let _ = writeln!(s, "| real batch on | ms | cycles | eravm is faster by |");
    let _ = writeln!(s, "|---|---:|---:|---:|");
    let _ = writeln!(
        s,
        "| eravm | {:.1} | {} | |",
        ms(timing.eravm),
        timing.cycles
    );
    let _ = writeln!(
        s,
        "| zk_evm (our operator) | {:.1} | {} | {:.2}× |",
        ms(timing.zk_evm),
        timing.cycles,
        timing.zk_evm.as_secs_f64() / timing.eravm.as_secs_f64()
    );
    for node in [NODE_VM1, NODE_FAST] {
        let name = node.name();
        let best = (0..runs.max(1))
            .map(|_| timed(&real.case, node.0))
            .min_by_key(|r| r.as_ref().map_or(Duration::MAX, |(d, _)| *d));
        match best {
            Some(Ok((d, cycles))) => {
                let ratio = d.as_secs_f64() / timing.eravm.as_secs_f64();
                // vm_fast keeps no cycle count.
                let cycles = if cycles == 0 {
                    "–".to_string()
                } else {
                    cycles.to_string()
                };
                let _ = writeln!(s, "| {name} | {:.1} | {cycles} | {ratio:.2}× |", ms(d));
            }
            Some(Err(e)) => {
                let _ = writeln!(s, "| {name} | not timed: {e} | | |");
            }
            None => {}
        }
    }
    s
}

/// Times every workload on every VM after checking that they agree on it.
pub fn run(workloads: Vec<Workload>, runs: usize) -> Result<Vec<Timing>, String> {
    let mut out = Vec::new();
    for w in workloads {
        let cycles = check_workload(&w)?;
        let (_, eravm_time) = best_of(runs, || run_eravm(&w.case));
        let (_, zk_time) = best_of(runs, || run_zk_evm(&w.case));
        let vm2 =
            check_vm2(&w).map(|()| best_of(runs, || run_on(BenchVm::Vm2, &w.case).unwrap_or(0)).1);
        out.push(Timing {
            name: w.name.to_string(),
            cycles,
            eravm: eravm_time,
            zk_evm: zk_time,
            vm2,
        });
    }
    Ok(out)
}

/// The table: cycles per second on each VM and the ratios, with geometric means.
pub fn table(timings: &[Timing]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| workload | cycles | eravm (M/s) | zk_evm (M/s) | vm2 (M/s) | eravm / zk_evm | eravm / vm2 |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
    let rate = |d: Duration, cycles: u64| cycles as f64 / d.as_secs_f64() / 1e6;
    let (mut zk_logs, mut vm2_logs) = (Vec::new(), Vec::new());
    for t in timings {
        let e = rate(t.eravm, t.cycles);
        let z = rate(t.zk_evm, t.cycles);
        zk_logs.push((e / z).ln());
        let (v, ev) = match &t.vm2 {
            Ok(d) => {
                let v = rate(*d, t.cycles);
                vm2_logs.push((e / v).ln());
                (format!("{v:.1}"), format!("{:.2}×", e / v))
            }
            Err(why) => (format!("n/a ({why})"), "–".to_string()),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {e:.1} | {z:.1} | {v} | {:.1}× | {ev} |",
            t.name,
            t.cycles,
            e / z
        );
    }
    let mean = |logs: &[f64]| (logs.iter().sum::<f64>() / logs.len().max(1) as f64).exp();
    let vm2_mean = if vm2_logs.is_empty() {
        "–".to_string()
    } else {
        format!("{:.2}×", mean(&vm2_logs))
    };
    let _ = writeln!(
        s,
        "| geometric mean | | | | | {:.1}× | {vm2_mean} |",
        mean(&zk_logs)
    );
    s
}

/// For each fuzz target: executions per second of the full differential run, and of the
/// same generated cases on zk_evm alone and on eravm alone. The share is the differential
/// run's rate over zk_evm's alone; the bound is what it would be if observing, comparing and
/// generating cost nothing (both VMs still run every case).
pub fn fuzz_overhead(iterations: u64) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| target | eradiff fuzz (execs/s) | zk_evm alone (execs/s) | eravm alone (execs/s) | share | bound |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
    // A batch runs a hundred times longer than a program: fewer of them.
    for (target, iterations) in [
        (Target::Opcodes, iterations),
        (Target::Calls, iterations),
        (Target::Precompiles, iterations),
        (Target::Batches, (iterations / 50).max(20)),
    ] {
        // What `eradiff fuzz` does per execution: generate, then check on both VMs.
        let start = Instant::now();
        let cases: Vec<Case> = (0..iterations)
            .map(|i| {
                let case = generate_seeded_for(target, 1, i, &Settings::default());
                let _ = Judge::default().check(&case);
                case
            })
            .collect();
        let full = iterations as f64 / start.elapsed().as_secs_f64();
        let start = Instant::now();
        for c in &cases {
            let _ = run_zk_evm_bare(c);
        }
        let alone = iterations as f64 / start.elapsed().as_secs_f64();
        let start = Instant::now();
        for c in &cases {
            let _ = run_eravm(c);
        }
        let eravm = iterations as f64 / start.elapsed().as_secs_f64();
        let bound = 1.0 / (1.0 + alone / eravm);
        let _ = writeln!(
            s,
            "| {target:?} | {full:.0} | {alone:.0} | {eravm:.0} | {:.0} % | {:.0} % |",
            100.0 * full / alone,
            100.0 * bound
        );
    }
    s
}
