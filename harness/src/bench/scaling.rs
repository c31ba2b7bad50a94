//! `eradiff bench --scaling`: time against the size of a workload, on eravm and zk_evm.
//!
//! Each dimension grows one thing (program length, near call depth, far call depth, storage
//! slots written, transactions in a batch, fed all at once or one at a time with snapshots)
//! over four sizes; the table gives the time per unit next to the total, so that a cost
//! growing faster than linearly shows as a growing time per unit.

use std::time::Duration;

use eravm::{Condition, Opcode, SrcMode, H160, U256};

use super::{
    batch, best_of, check_vm2, check_workload, program, run_eravm, run_on, run_zk_evm, BenchVm,
    Workload,
};
use crate::asm::{op, Program};
use crate::case::Address;
use crate::world::{Contract, World};

/// One thing to grow.
pub struct Dimension {
    pub name: &'static str,
    /// What one unit of size is.
    pub unit: &'static str,
    pub sizes: [u64; 4],
    pub build: fn(u64) -> crate::case::Case,
}

pub fn dimensions() -> Vec<Dimension> {
    vec![
        Dimension {
            name: "program length",
            unit: "instruction",
            sizes: [1_000, 4_000, 16_000, 64_000],
            build: straight_line,
        },
        Dimension {
            name: "near call depth",
            unit: "call",
            sizes: [250, 500, 1_000, 2_000],
            build: near_depth,
        },
        Dimension {
            name: "far call depth",
            unit: "call",
            sizes: [25, 50, 100, 200],
            build: far_depth,
        },
        Dimension {
            name: "storage slots written",
            unit: "slot",
            sizes: [1_000, 4_000, 16_000, 64_000],
            build: slots,
        },
        Dimension {
            name: "transactions per batch",
            unit: "tx",
            sizes: [25, 100, 400, 1_600],
            build: |n| batch(n as usize),
        },
        Dimension {
            name: "transactions fed one at a time",
            unit: "tx",
            sizes: [25, 100, 400, 1_600],
            build: fed_one_at_a_time,
        },
    ]
}

/// The batch of `n` transactions fed as a state keeper feeds them: a snapshot before each,
/// every fourth rolled back. Snapshots must cost what a transaction changes, not what the
/// batch holds so far.
fn fed_one_at_a_time(n: u64) -> crate::case::Case {
    let mut case = batch(n as usize);
    if let Some(b) = case.batch.as_mut() {
        for (i, tx) in b.transactions.iter_mut().enumerate() {
            tx.rollback = i % 4 == 3;
        }
    }
    case
}

/// `n` instructions run once, top to bottom (`n - 1` additions, then the return).
fn straight_line(n: u64) -> crate::case::Case {
    let add = op(Opcode::Add).src0(1).src1(2).dst(1);
    let mut code = vec![add; n as usize - 1];
    code.push(op(Opcode::RetOk));
    program(&code, &[(1, U256::from(3)), (2, U256::from(5))])
}

/// `n` nested near calls, each to the start of the program, then `n` returns.
fn near_depth(n: u64) -> crate::case::Case {
    program(
        &[
            op(Opcode::Sub).imm(1).src1(15).dst(15).m0().m1(),
            op(Opcode::Jump).imm(3).when(Condition::Eq),
            op(Opcode::NearCall).imm0(0).imm1(3),
            op(Opcode::RetOk),
        ],
        &[(15, U256::from(n))],
    )
}

/// Where the far-call recursion's contract lives (a kernel address, free to set the context
/// register, which carries the remaining depth from frame to frame).
const RECURSIVE: u64 = 0x9001;

/// `n` nested far calls: the bootloader calls a contract that calls itself until the depth
/// the context register carries runs out.
fn far_depth(n: u64) -> crate::case::Case {
    let callee = H160::from_low_u64_be(RECURSIVE);
    // Every frame passes as many ergs as it may (63/64 of what it has).
    let abi = U256([0, 0, 0, u32::MAX as u64]);
    let address = U256::from_big_endian(callee.as_bytes());
    let load = |k: u16, r: u8| op(Opcode::Add).src_mode(SrcMode::CodePage, k).dst(r);
    // Its constants (the ABI, then its own address) follow its eight instructions.
    let body = |k: u16| {
        Program::new()
            .push(load(k, 5))
            .push(load(k + 1, 6))
            .push(op(Opcode::GetContextU128).dst(2))
            .push(op(Opcode::Sub).imm(1).src1(2).dst(2).m0().m1())
            .push(op(Opcode::Jump).imm(7).when(Condition::Eq))
            .push(op(Opcode::SetContextU128).src0(2))
            .push(op(Opcode::FarCall).src0(5).src1(6).imm0(7))
            .push(op(Opcode::RetOk))
    };
    let k = body(0).constants_start() as u16;
    let body = body(k).constant(abi).constant(address);
    let callee_code = body.case(0).code;
    let mut case = program(
        &[
            op(Opcode::SetContextU128).src0(15),
            op(Opcode::FarCall).src0(5).src1(6).imm0(2),
            op(Opcode::RetOk),
        ],
        &[(5, abi), (6, address), (15, U256::from(n))],
    );
    case.world = Some(World {
        contracts: vec![Contract {
            address: Address(callee),
            code: callee_code,
            constructing: false,
        }],
        ..World::default()
    });
    case
}

/// `n` storage writes, each to a slot not written before.
fn slots(n: u64) -> crate::case::Case {
    program(
        &[
            op(Opcode::StorageWrite).src0(15).src1(15),
            op(Opcode::Sub).imm(1).src1(15).dst(15).m0().m1(),
            op(Opcode::Jump).imm(0).when(Condition::Ne),
            op(Opcode::RetOk),
        ],
        &[(15, U256::from(n))],
    )
}

/// One measured size.
pub struct Point {
    pub size: u64,
    pub cycles: u64,
    pub eravm: Duration,
    pub zk_evm: Duration,
    /// Or why vm2 was not timed.
    pub vm2: Result<Duration, String>,
}

/// Checks and times every size of every dimension.
pub fn run(runs: usize) -> Result<Vec<(Dimension, Vec<Point>)>, String> {
    let mut out = Vec::new();
    for d in dimensions() {
        let mut points = Vec::new();
        for &size in &d.sizes {
            let w = Workload {
                id: "scaling",
                name: d.name,
                case: (d.build)(size),
            };
            let cycles = check_workload(&w).map_err(|e| format!("{e} (size {size})"))?;
            let (_, eravm) = best_of(runs, || run_eravm(&w.case));
            let (_, zk_evm) = best_of(runs, || run_zk_evm(&w.case));
            let vm2 = check_vm2(&w)
                .map(|()| best_of(runs, || run_on(BenchVm::Vm2, &w.case).unwrap_or(0)).1);
            points.push(Point {
                size,
                cycles,
                eravm,
                zk_evm,
                vm2,
            });
        }
        out.push((d, points));
    }
    Ok(out)
}

/// One table: each dimension's sizes, total times and times per unit; vm2's columns only in
/// builds that have it.
pub fn table(results: &[(Dimension, Vec<Point>)]) -> String {
    use std::fmt::Write;
    let with_vm2 = true;
    let mut s = String::new();
    let _ = write!(
        s,
        "| dimension | size | cycles | eravm (ms) | eravm per unit (µs) | zk_evm (ms) | zk_evm per unit (µs) | eravm / zk_evm |"
    );
    if with_vm2 {
        let _ = write!(s, " vm2 (ms) | vm2 per unit (µs) | eravm / vm2 |");
    }
    let _ = writeln!(s);
    let _ = write!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    if with_vm2 {
        let _ = write!(s, "---:|---:|---:|");
    }
    let _ = writeln!(s);
    for (d, points) in results {
        for p in points {
            let ms = |t: Duration| t.as_secs_f64() * 1e3;
            let per = |t: Duration| t.as_secs_f64() * 1e6 / p.size as f64;
            let _ = write!(
                s,
                "| {} | {} {}s | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.1}× |",
                d.name,
                p.size,
                d.unit,
                p.cycles,
                ms(p.eravm),
                per(p.eravm),
                ms(p.zk_evm),
                per(p.zk_evm),
                p.zk_evm.as_secs_f64() / p.eravm.as_secs_f64()
            );
            if with_vm2 {
                let _ = match &p.vm2 {
                    Ok(t) => write!(
                        s,
                        " {:.3} | {:.3} | {:.2}× |",
                        ms(*t),
                        per(*t),
                        t.as_secs_f64() / p.eravm.as_secs_f64()
                    ),
                    Err(why) => write!(s, " n/a ({why}) | | |"),
                };
            }
            let _ = writeln!(s);
        }
    }
    s
}
