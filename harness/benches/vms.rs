//! `cargo bench -p eradiff --bench vms`: one criterion group per benchmark workload (those of
//! `eradiff bench`), with eravm, zk_evm and vm2. The workloads are
//! checked before they are timed, as `eradiff bench` checks them; the scale is small so that
//! each iteration stays short (BENCH_SCALE overrides it).

// criterion_group! defines a public function we cannot put a doc comment on.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use eradiff::bench::{check_workload, run_on, workloads, BenchVm};

fn vms(c: &mut Criterion) {
    let scale = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.05);
    for w in workloads(scale) {
        let cycles = check_workload(&w).unwrap_or_else(|e| panic!("{e}"));
        let mut group = c.benchmark_group(w.id);
        group.sample_size(20);
        group.throughput(Throughput::Elements(cycles));
        let vm2 = eradiff::bench::vm2::check(&w.case).is_ok();
        let on = [BenchVm::Eravm, BenchVm::ZkEvm, BenchVm::Vm2]
            .into_iter()
            .filter(|&vm| vm != BenchVm::Vm2 || vm2);
        for vm in on {
            let name = match vm {
                BenchVm::Eravm => "eravm",
                BenchVm::ZkEvm => "zk_evm",
                BenchVm::Vm2 => "vm2",
            };
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| run_on(vm, std::hint::black_box(&w.case)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, vms);
criterion_main!(benches);
