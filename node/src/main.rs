//! `eradiff-node`: zksync-era's own operators as an oracle for eradiff.
//!
//! One request per line on stdin, one outcome per line on stdout, so that one child process
//! serves a whole campaign. A request names the VM (`vm1`: `vm_latest`, the node's operator
//! on zk_evm 0.153.8; `fast`: `vm_fast`, on zksync_vm2 0.5.0) and holds a real batch as the
//! harness sees it: the base system contracts, the batch information, the storage at the
//! start by derived key, the bytecodes, and the protocol transactions of each L2 block with
//! the ones to roll back. The node builds its own `Transaction`s from those fields and runs
//! them through its own operator, as a state keeper does: a snapshot before every
//! transaction, rolled back when the bootloader rejects it (or the request asks), and in
//! batch mode the block tip. A panic in the node is an outcome too (`crash`), and the
//! process goes on serving. See the harness's `docs/node-oracle.md`.

mod request;
mod run;

use std::io::{BufRead, Write};

/// `vm_latest/utils/l2_blocks.rs:41`: the path from the crate's `src/`, without the
/// registry's folders, and the line.
fn short_location(location: &std::panic::Location<'_>) -> String {
    let file = location.file();
    let file = file.rsplit_once("/src/").map_or(file, |(_, rest)| rest);
    format!("{file}:{}", location.line())
}

fn main() {
    // A panic is reported as the outcome of its request, with where it was raised (an
    // assert_eq! says nothing of which one failed); the default hook would also print it to
    // stderr, which the harness passes on.
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(short_location).unwrap_or_default();
        run::PANIC_AT.with(|cell| *cell.borrow_mut() = at);
    }));
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let outcome = match serde_json::from_str::<request::Request>(&line) {
            Ok(request) => run::serve(request),
            Err(e) => run::Outcome::input_error(format!("request: {e}")),
        };
        let text = serde_json::to_string(&outcome).expect("an outcome serialises");
        if writeln!(stdout, "{text}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
    }
}
