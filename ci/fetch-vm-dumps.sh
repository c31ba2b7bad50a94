#!/usr/bin/env bash
# Obtains zksync-era's two VM dumps from the zksync_multivm package on crates.io with
# `cargo fetch` (they are never committed: they hold third-party bytecode) and prints the
# folder that holds them, for ERADIFF_VM_DUMPS. Exit status 1 when they cannot be fetched.
set -euo pipefail
cd "$(dirname "$0")/.."
package=zksync_multivm-29.13.0-non-semver-compat
cargo fetch --quiet --manifest-path ci/vm-dumps/Cargo.toml >&2
registry="${CARGO_HOME:-$HOME/.cargo}/registry/src"
for dir in "$registry"/*/"$package"/tests/vm_dumps; do
  if [ -f "$dir/estimate_fee_for_transfer_to_self.json" ]; then
    echo "$dir"
    exit 0
  fi
done
echo "fetch-vm-dumps: $package was fetched but its tests/vm_dumps is not under $registry" >&2
exit 1
