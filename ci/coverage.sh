#!/usr/bin/env bash
# Coverage of eravm by the corpus.
#
# 1. Opcode-variant and behaviour coverage (always): which variants the JSON cases under
#    corpus/ execute on eravm and the list no case reaches; the behaviour corners
#    (docs/behaviour-coverage.md) none reaches.
# 2. Line and branch coverage (when LLVM tools matching rustc's LLVM are installed, e.g.
#    Debian's llvm-22 at /usr/lib/llvm-22/bin, or LLVM_BIN=...): `cargo fuzz coverage -O` over
#    the libFuzzer corpus, summarised with llvm-cov, HTML in target/coverage/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p eradiff >&2
for target in opcodes calls precompiles batches instructions; do
  [ -d "corpus/$target" ] || continue
  echo "== opcode variants and behaviour corners reached by corpus/$target =="
  ./target/release/eradiff coverage "corpus/$target" --target "$target" \
    | sed -n '/no case reaches/,/^$/p; /^behaviour corners reached/,$p'
done

llvm_bin=${LLVM_BIN:-/usr/lib/llvm-22/bin}
if [ ! -x "$llvm_bin/llvm-cov" ] || ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "(line coverage skipped: needs cargo-fuzz and llvm-cov/llvm-profdata matching rustc's LLVM in $llvm_bin)"
  exit 0
fi
for target in opcodes calls precompiles; do
  [ -d "fuzz/corpus/$target" ] || continue
  cargo fuzz coverage "$target" -O -s none "fuzz/corpus/$target" --llvm-path "$llvm_bin"
  bin=$(find fuzz/target -path "*coverage*" -name "$target" -type f -perm -u+x | head -1)
  prof="fuzz/coverage/$target/coverage.profdata"
  "$llvm_bin/llvm-cov" report "$bin" -instr-profile="$prof" --ignore-filename-regex='/.cargo/|rustc/' \
    | grep -E "vm/src|TOTAL"
  mkdir -p "target/coverage/$target"
  "$llvm_bin/llvm-cov" show "$bin" -instr-profile="$prof" -format=html \
    --ignore-filename-regex='/.cargo/|rustc/' -output-dir="target/coverage/$target"
  echo "HTML: target/coverage/$target/index.html"
done
