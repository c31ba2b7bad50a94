#!/usr/bin/env bash
# The nightly campaign: every fuzz target for its share of the budget on all cores, then one
# deduplicated report of everything found (each finding already minimised by the campaign).
#
#   ci/nightly.sh [--budget SECONDS] [--out DIR] [--libfuzzer] [--inject-fault NAME]
#
# --budget        total wall-clock seconds for fuzzing (default 3600), split between targets
# --out           findings folder (default findings/nightly); the report goes to
#                 DIR/report.md and DIR/report.json, with the behaviour corners no target
#                 reached (docs/behaviour-coverage.md)
# --libfuzzer     also run the cargo-fuzz targets in fork mode, with the persistent corpus
#                 in fuzz/corpus/<target> (needs cargo-fuzz; half of each target's share;
#                 built with -O, as fuzz/build.rs demands: zk_evm as a node runs it)
# ERADIFF_CONTRACTS (and ERADIFF_PROTOCOL) name a contract bundle: the realbatches target
# then runs too, with the node's own operators beside our VMs (node-vm1, node-fast:
# docs/node-oracle.md) when the node binary builds.
#
# --inject-fault  build eravm with a deliberate bug (add-off-by-one, free-heap-growth,
#                 events-survive-revert, writes-cost-no-pubdata) to check that the campaign
#                 and the report catch it
#
# Exit status: 0 if nothing new was found, 1 if the report holds a divergence that is not on
# the known-divergence list, 2 on a usage or build error.
set -euo pipefail
cd "$(dirname "$0")/.."

budget=3600
out=findings/nightly
libfuzzer=0
fault=""
while [ $# -gt 0 ]; do
  case "$1" in
    --budget) budget="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --libfuzzer) libfuzzer=1; shift ;;
    --inject-fault) fault="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

targets=(opcodes calls precompiles batches instructions)
# Real batches need a contract bundle, which is never committed (docs/contracts.md).
if [ -n "${ERADIFF_CONTRACTS:-}" ]; then
  targets+=(realbatches)
  echo "nightly: real batches on ${ERADIFF_CONTRACTS} (${ERADIFF_PROTOCOL:-v26})"
else
  echo "nightly: ERADIFF_CONTRACTS is not set: no real batches tonight (docs/contracts.md)"
fi
jobs=$(nproc 2>/dev/null || echo 2)
share=$(( budget / ${#targets[@]} ))
[ "$share" -ge 1 ] || share=1

features=()
if [ -n "$fault" ]; then
  features=(--features fault-injection)
  export ERADIFF_FAULT="$fault"
  echo "nightly: injecting fault '$fault' into eravm"
fi
cargo build --release -p eradiff "${features[@]}" >&2
eradiff=./target/release/eradiff
node_flag=()
if [ -n "${ERADIFF_CONTRACTS:-}" ]; then
  if cargo build --release --manifest-path node/Cargo.toml >&2; then
    node_flag=(--node)
    echo "nightly: real batches also on the node's operators"
  else
    echo "nightly: the node binary did not build: real batches without the node"
  fi
fi

rm -rf "$out"
mkdir -p "$out"
seed_base=$(date -u +%Y%m%d)

for target in "${targets[@]}"; do
  in_process=$share
  if [ "$libfuzzer" = 1 ] && command -v cargo-fuzz >/dev/null 2>&1; then
    in_process=$(( share / 2 ))
    mkdir -p "fuzz/corpus/$target" "$out/$target/libfuzzer"
    echo "nightly: $target: libFuzzer, $jobs jobs, $(( share - in_process ))s"
    ERADIFF_FINDINGS="$out/$target/libfuzzer" \
      cargo fuzz run "$target" -O -s none "fuzz/corpus/$target" -- \
        -fork="$jobs" -ignore_crashes=1 -timeout=30 -max_total_time=$(( share - in_process )) \
        > "$out/$target/libfuzzer/log.txt" 2>&1 || true
  fi
  echo "nightly: $target: in-process, $jobs jobs, ${in_process}s"
  mkdir -p "$out/$target"
  # One campaign on every core: one findings folder, one summary.
  flags=()
  [ "$target" = realbatches ] && flags=("${node_flag[@]}")
  "$eradiff" "${flags[@]}" fuzz --target "$target" --seed "$seed_base" --jobs "$jobs" \
    --duration "${in_process}s" --out "$out/$target/campaign" --no-progress \
    > "$out/$target/campaign.log" 2>&1 || true
done

# libFuzzer findings are case files without a summary: fold them into one.
for dir in "$out"/*/libfuzzer; do
  [ -d "$dir" ] || continue
  ls "$dir"/*.json >/dev/null 2>&1 || continue
  "$eradiff" triage "$dir" --target "$(basename "$(dirname "$dir")")" >/dev/null || true
done

"$eradiff" report "$out" --format md > "$out/report.md"
"$eradiff" report "$out" --format json > "$out/report.json"
echo "nightly: report written to $out/report.md and $out/report.json"
sed -n '1,20p' "$out/report.md"

new=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["new_groups"])' "$out/report.json")
if [ "$new" -gt 0 ]; then
  echo "nightly: $new new divergence group(s)"
  exit 1
fi
echo "nightly: nothing new"
