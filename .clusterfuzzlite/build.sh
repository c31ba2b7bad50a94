#!/bin/bash -eu
# Builds every cargo-fuzz target with the sanitizer flags the platform sets and copies the
# binaries, with their seed corpora, where the platform looks for them.
cd "$SRC/eradiff"
cargo fuzz build -O
for target in opcodes calls precompiles batches; do
  cp "fuzz/target/x86_64-unknown-linux-gnu/release/$target" "$OUT/"
  # Seed corpora are raw fuzzer inputs; the JSON cases under corpus/ are for people and tests.
  if [ -d "fuzz/corpus/$target" ]; then
    (cd "fuzz/corpus/$target" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
  fi
done
