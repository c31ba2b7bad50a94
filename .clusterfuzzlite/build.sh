#!/bin/bash -eu
# Builds every cargo-fuzz target with the sanitizer flags the platform sets and copies the
# binaries, with their seed corpora, where the platform looks for them.
cd "$SRC/eradiff"
# The reference must run as a node runs it: no debug assertions, no overflow checks. cargo
# fuzz adds neither with -O, but the OSS-Fuzz image's compile step puts -Cdebug-assertions
# (and may put -Coverflow_checks) into RUSTFLAGS, which cargo fuzz passes on and which would
# reach zk_evm; take them out (fuzz/build.rs refuses a build that still has them).
RUSTFLAGS=$(printf '%s' "${RUSTFLAGS:-}" | sed -E 's/-C ?(debug[-_]assertions|overflow[-_]checks)(=[a-z]+)?//g')
export RUSTFLAGS
cargo fuzz build -O
for target in opcodes calls precompiles batches case; do
  cp "fuzz/target/x86_64-unknown-linux-gnu/release/$target" "$OUT/"
  # Seed corpora are raw fuzzer inputs; the JSON cases under corpus/ are for people and tests.
  if [ -d "fuzz/corpus/$target" ]; then
    (cd "fuzz/corpus/$target" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
  fi
done
