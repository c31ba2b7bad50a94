#!/usr/bin/env bash
# Instruction counts of the benchmark workloads under valgrind (callgrind), compared to the
# checked-in baseline ci/bench-baseline.json.
#
#   ci/bench-counts.sh            count, print the table, exit 1 on a regression
#   ci/bench-counts.sh --update   count and rewrite the baseline
#
# Each (workload, VM) runs once as `eradiff bench --one WORKLOAD --vm VM`, so callgrind sees
# exactly that run; the same run of the `empty` workload (a bootloader that returns at once)
# on the same VM is subtracted, which leaves the workload's own instructions (process
# start-up, zk_evm's decoding tables and the like cancel out). A count more than
# BENCH_THRESHOLD percent (default 2) above the baseline is a regression; one as far below
# it is reported, to be re-baselined with --update.
#
# Counts repeat exactly for eravm. zk_evm and vm2 build zkevm_opcode_defs' decoding tables
# in a std HashMap with a random seed, which moves their counts by a few hundred
# instructions from run to run (well under 0.01 %); the repeat check allows that much.
#
# Environment: BENCH_SCALE (default 0.1, the `--scale` of the workloads), BENCH_THRESHOLD,
# BENCH_NO_BUILD=1 to use the binary as built, ERADIFF (the binary to run). Without a build
# here, make sure the binary comes from `cargo build --release -p eradiff --features vm2`:
# one left by `cargo test --release` has eravm's fault-injection checks compiled in (a
# dev-dependency feature) and counts 1-2 % more on eravm.
set -euo pipefail

cd "$(dirname "$0")/.."
update=0
for arg in "$@"; do
    case "$arg" in
        --update) update=1 ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

scale="${BENCH_SCALE:-0.1}"
threshold="${BENCH_THRESHOLD:-2}"
baseline=ci/bench-baseline.json
bin="${ERADIFF:-target/release/eradiff}"
workloads=(arith heap stack near-calls storage far-calls keccak256 batch)
vms=(eravm zk_evm vm2)

command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
if [[ "${BENCH_NO_BUILD:-}" != 1 ]]; then
    cargo build --release -p eradiff --features vm2 --quiet
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Prints the instructions (Ir) of one run, or "n/a" if the VM cannot run the workload.
count() {
    local workload="$1" vm="$2" out="$work/callgrind.out"
    local status=0
    valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$bin" bench --one "$workload" --vm "$vm" --scale "$scale" \
        >"$work/stdout" 2>"$work/stderr" || status=$?
    if [[ $status -eq 3 ]]; then
        echo n/a
    elif [[ $status -ne 0 ]]; then
        echo "$workload on $vm failed (exit $status):" >&2
        cat "$work/stderr" >&2
        exit 2
    else
        awk '/^totals:/ {print $2}' "$out"
    fi
}

declare -A empty
for vm in "${vms[@]}"; do
    empty[$vm]="$(count empty "$vm")"
done

# The counts must repeat: the same run twice.
repeat_ok=1
for vm in "${vms[@]}"; do
    a="$(count arith "$vm")"
    b="$(count arith "$vm")"
    diff=$(( a > b ? a - b : b - a ))
    net=$(( a - empty[$vm] ))
    # Allow 1 instruction in 10,000 of the workload's own count.
    if (( diff * 10000 > net )); then
        echo "counts do not repeat on $vm: $a then $b" >&2
        repeat_ok=0
    fi
    echo "repeat check $vm: $a, $b (differ by $diff)" >&2
done

results="$work/results.tsv"
: >"$results"
for w in "${workloads[@]}"; do
    for vm in "${vms[@]}"; do
        total="$(count "$w" "$vm")"
        if [[ "$total" == n/a ]]; then
            printf '%s\t%s\tn/a\n' "$w" "$vm" >>"$results"
        else
            printf '%s\t%s\t%s\n' "$w" "$vm" $(( total - empty[$vm] )) >>"$results"
        fi
    done
done

python3 - "$results" "$baseline" "$threshold" "$update" "$scale" <<'EOF'
import json, sys
results, baseline_path, threshold, update, scale = sys.argv[1:]
threshold, update = float(threshold), update == "1"
counts = {}
for line in open(results):
    w, vm, n = line.rstrip("\n").split("\t")
    counts.setdefault(w, {})[vm] = None if n == "n/a" else int(n)
try:
    baseline = json.load(open(baseline_path))
except FileNotFoundError:
    baseline = {}
same_scale = str(baseline.get("scale")) == scale
old = baseline.get("counts", {}) if same_scale else {}
if baseline and not same_scale and not update:
    print(f"the baseline was counted at scale {baseline.get('scale')}, not {scale}: nothing to compare")
regressions = []
print(f"Instructions (callgrind Ir) per workload, start-up subtracted, scale {scale}:\n")
print("| workload | VM | Ir | baseline | change |")
print("|---|---|---:|---:|---:|")
for w, by_vm in counts.items():
    for vm, n in by_vm.items():
        b = old.get(w, {}).get(vm)
        if n is None:
            print(f"| {w} | {vm} | n/a | | |")
            continue
        if b is None:
            change = "new"
        else:
            pct = 100.0 * (n - b) / b
            change = f"{pct:+.2f} %"
            if pct > threshold:
                regressions.append(f"{w} on {vm}: {b} -> {n} ({pct:+.2f} %)")
                change += " REGRESSION"
            elif pct < -threshold:
                change += " (faster: re-baseline with --update)"
        print(f"| {w} | {vm} | {n:,} | {'' if b is None else f'{b:,}'} | {change} |")
ratios = []
for w, by_vm in counts.items():
    e, z = by_vm.get("eravm"), by_vm.get("zk_evm")
    if e and z:
        ratios.append(f"{w} {z / e:.2f}")
print("\nzk_evm / eravm instructions: " + ", ".join(ratios))
if update:
    json.dump({"scale": float(scale) if "." in scale else int(scale), "counts": counts},
              open(baseline_path, "w"), indent=2, sort_keys=True)
    open(baseline_path, "a").write("\n")
    print(f"\n{baseline_path} rewritten")
elif regressions:
    print(f"\n{len(regressions)} regression(s) over {threshold} %:")
    for r in regressions:
        print("  " + r)
    sys.exit(1)
EOF
[[ $repeat_ok == 1 ]] || exit 1
