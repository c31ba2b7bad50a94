//! Groundwork of the operator: hooks raised by the bootloader's heap writes, and snapshots.

mod common;

use eradiff::asm::{op, Program};
use eradiff::generator::{generate_seeded_for, Settings, Target};
use eravm::operator::{layout, pubdata, Hook};
use eravm::{Opcode, SrcMode, Vm, U256};

/// Writes three parameters below the hook slot and `value` to it, then returns.
fn raise(value: u64, heap: Opcode) -> eradiff::case::Case {
    let constants = [
        U256::from(layout::HOOK_PARAMS as u64 * 32),
        U256::from((layout::HOOK_PARAMS as u64 + 1) * 32),
        U256::from((layout::HOOK_PARAMS as u64 + 2) * 32),
        U256::from(layout::HOOK as u64 * 32),
    ];
    let mut p = Program::new();
    // 3 parameter writes (2 instructions each), the hook write (2), ret: 9 slots, 3 words.
    for i in 0..3u16 {
        p = p
            .push(op(Opcode::Add).src_mode(SrcMode::CodePage, 3 + i).dst(1))
            .push(op(Opcode::HeapWrite).src0(1).src1(2 + i as u8));
    }
    p = p
        .push(op(Opcode::Add).src_mode(SrcMode::CodePage, 6).dst(1))
        .push(op(heap).src0(1).src1(5))
        .push(op(Opcode::RetOk));
    for c in constants {
        p = p.constant(c);
    }
    for (r, v) in [(2u8, 111u64), (3, 222), (4, 333), (5, value)] {
        p = p.register(r, eravm::TaggedWord::integer(U256::from(v)));
    }
    p.case(1_000_000)
}

fn hooks_of(case: &eradiff::case::Case) -> Vec<eravm::operator::HookCall> {
    let mut vm = Vm::new(case.bootloader());
    let mut hooks = Vec::new();
    while !vm.has_ended() {
        vm.step().expect("runs");
        hooks.extend(vm.take_hook());
    }
    hooks
}

#[test]
fn a_heap_write_to_the_hook_slot_raises_the_hook() {
    let case = raise(10, Opcode::HeapWrite);
    common::agree(&case);
    let hooks = hooks_of(&case);
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].hook(), Some(Hook::PostResult));
    assert_eq!(hooks[0].params, [111.into(), 222.into(), 333.into()]);
}

#[test]
fn other_writes_raise_nothing() {
    assert!(hooks_of(&raise(10, Opcode::AuxHeapWrite)).is_empty());
    let unknown = hooks_of(&raise(13, Opcode::HeapWrite));
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].hook(), None, "13 is no hook");
}

/// Rolling back to a snapshot and running on gives exactly what the first run gave.
#[test]
fn rollback_restores_everything_a_run_changes() {
    let mut moved = 0;
    for i in 0..40 {
        let case = generate_seeded_for(Target::Calls, 5, i, &Settings::default());
        let world = case.resolved_world();
        let mut vm = Vm::with_storage(
            case.bootloader(),
            Box::new(world.eravm_storage()),
            world.chain_settings(),
        );
        let _ = vm.run(Some(12));
        let snapshot = vm.snapshot();
        let digest = |vm: &Vm| {
            let mut storage: Vec<_> = vm
                .world()
                .storage_changes
                .iter()
                .map(|(k, v)| (*k, *v))
                .collect();
            storage.sort();
            (
                vm.registers().clone(),
                vm.flags(),
                vm.current_frame().pc,
                vm.cycles(),
                storage,
                vm.world().events.clone(),
                vm.pubdata(),
                vm.memory()
                    .page(eravm::BOOTLOADER_BASE_PAGE.heap())
                    .map(|p| p.nonzero_words()),
            )
        };
        let at_snapshot = digest(&vm);
        let first = vm.run(Some(case.max_cycles));
        let after_first = digest(&vm);
        moved += (after_first != at_snapshot) as u32;
        vm.rollback(snapshot);
        assert_eq!(
            digest(&vm),
            at_snapshot,
            "case {i}: rollback restores the snapshot"
        );
        let second = vm.run(Some(case.max_cycles));
        assert_eq!(first, second, "case {i}");
        assert_eq!(
            digest(&vm),
            after_first,
            "case {i}: the rerun ends the same"
        );
    }
    assert!(moved > 8, "only {moved} cases ran on after the snapshot");
}

/// Our bootloader runs transactions through eravm's operator: results, refunds, pubdata.
#[test]
fn the_operator_runs_a_batch() {
    use eradiff::case::Address;
    use eradiff::world::{Contract, World};
    use eravm::operator::{ExecutionMode, OperatorVm, SimpleTransaction, Stop, Transaction};
    // A contract that stores its calldata length's word 0 and returns 32 bytes of heap.
    let ok = eravm::H160::from_low_u64_be(0x1_0000);
    let reverts = eravm::H160::from_low_u64_be(0x1_0001);
    let ret_abi = eravm::FatPointer {
        offset: 0,
        page: 0,
        start: 0,
        length: 32,
    }
    .to_u256();
    let returning = Program::new()
        .push(op(Opcode::FatPointerRead).src0(1).dst(2))
        .push(op(Opcode::Add).imm(1).dst(3))
        .push(op(Opcode::StorageWrite).src0(3).src1(2))
        .push(op(Opcode::HeapWrite).imm(0).src1(2))
        .push(op(Opcode::Add).src_mode(SrcMode::CodePage, 2).dst(1))
        .push(op(Opcode::RetOk).src0(1))
        .constant(ret_abi)
        .case(0)
        .code;
    let reverting = Program::new().push(op(Opcode::RetRevert)).case(0).code;
    let world = World {
        contracts: vec![
            Contract {
                address: Address(ok),
                code: returning,
                constructing: false,
            },
            Contract {
                address: Address(reverts),
                code: reverting,
                constructing: false,
            },
        ],
        ..World::default()
    }
    .resolve();
    let mut operator = OperatorVm::new(
        Box::new(world.eravm_storage()),
        world.chain_settings(),
        10_000_000,
    );
    let txs = [
        Transaction::Simple(SimpleTransaction {
            to: ok,
            gas_limit: 100_000,
            calldata: vec![7; 40],
        }),
        Transaction::Simple(SimpleTransaction {
            to: reverts,
            gas_limit: 100_000,
            calldata: vec![],
        }),
        Transaction::Simple(SimpleTransaction {
            to: ok,
            gas_limit: 100_000,
            calldata: vec![9; 3],
        }),
    ];
    for tx in &txs {
        operator.push_transaction(tx).unwrap();
    }
    let stop = operator.run(ExecutionMode::Batch, 1_000_000).unwrap();
    assert_eq!(stop, Stop::Finished);
    let results = &operator.bootloader_state.results;
    assert_eq!(
        results.iter().map(|r| r.success).collect::<Vec<_>>(),
        [true, false, true]
    );
    assert_eq!(results[0].return_data, [7u8; 32]);
    let pubdata = operator
        .bootloader_state
        .pubdata
        .clone()
        .expect("pubdata was requested");
    // No logs, messages or bytecodes; one state diff (slot 1 of the contract, last written
    // by the third transaction), an initial write.
    assert_eq!(pubdata::summarize(&pubdata), Some([0, 0, 0, 1, 1]));
    let input = operator.pubdata_input();
    let diff = input.state_diffs[0];
    assert_eq!((diff.address, diff.key), (ok, U256::one()));
    assert_eq!((diff.initial, diff.enumeration_index), (U256::zero(), 0));
    let mut last_word = [0u8; 32];
    last_word[..3].copy_from_slice(&[9; 3]);
    assert_eq!(diff.final_value, U256::from_big_endian(&last_word));
    // In the heap from the word after the region's start: the validator, the offset of the
    // bytes, their length, then the bytes.
    let heap = operator
        .vm
        .memory()
        .page(eravm::BOOTLOADER_BASE_PAGE.heap())
        .unwrap();
    let at = |i: u32| heap.read(layout::L1_MESSENGER_PUBDATA + i).value;
    assert_eq!(at(0), U256::zero());
    assert_eq!(
        at(1),
        U256::from_big_endian(pubdata::L2_DA_VALIDATOR.as_bytes())
    );
    assert_eq!(at(2), U256::from(0x40));
    // The bytes (selector, four hashes, the body's offset and length, the body) are padded.
    let length = at(3).low_u64() as usize;
    assert_eq!(length.div_ceil(32) * 32, pubdata.len() - 96);
    assert_eq!(length % 32, 4, "the selector and whole words");
    assert_eq!(
        at(4) >> 224,
        U256::from_big_endian(&pubdata::validate_pubdata_selector())
    );
}

/// One transaction run alone ends where the whole batch's first transaction ends: same
/// result and hooks so far, on both VMs.
#[test]
fn one_tx_mode_stops_after_the_first_transaction_of_the_batch() {
    use eradiff::case::BatchMode;
    use eradiff::differential::{Judge, Verdict};
    let mut compared = 0;
    for i in 0..30 {
        let mut case = generate_seeded_for(Target::Batches, 3, i, &Settings::default());
        case.batch.as_mut().unwrap().mode = BatchMode::Batch;
        let Verdict::Agree(whole) = Judge::default().check(&case) else {
            panic!("case {i}: the batch diverges");
        };
        case.batch.as_mut().unwrap().mode = BatchMode::OneTx;
        let Verdict::Agree(first) = Judge::default().check(&case) else {
            panic!("case {i}: the first transaction diverges");
        };
        let (whole, first) = (whole.state.batch.unwrap(), first.state.batch.unwrap());
        if whole.results.is_empty() {
            continue;
        }
        compared += 1;
        assert_eq!(first.results, whole.results[..1], "case {i}");
        assert_eq!(first.hooks, whole.hooks[..first.hooks.len()], "case {i}");
        assert_eq!(
            first.hooks.last().map(|h| h.hook.as_str()),
            Some("TxHasEnded")
        );
        assert_eq!(first.pubdata, None);
    }
    assert!(compared > 20, "only {compared} batches reached a result");
}

/// Committing a sealed batch: the next batch starts from its final values, so running the
/// same transactions again publishes only what they change anew, and rewrites are repeated
/// writes.
#[test]
fn a_committed_batch_is_where_the_next_one_starts() {
    use eravm::operator::{ExecutionMode, OperatorVm, Stop};
    let mut carried = 0;
    for i in 0..20 {
        let case = generate_seeded_for(Target::Batches, 5, i, &Settings::default());
        let world = case.resolved_world();
        let batch = case.batch.as_ref().unwrap();
        let run = |storage: eravm::InMemoryStorage| {
            let mut op = OperatorVm::new(Box::new(storage), world.chain_settings(), u32::MAX);
            op.write_batch_env(&batch.info.to_operator(), batch.closing_block());
            for tx in &batch.transactions {
                op.push_transaction(&tx.to_operator()).expect("fits");
            }
            let stop = op.run(ExecutionMode::Batch, case.max_cycles).expect("runs");
            (stop, op)
        };
        let mut storage = world.eravm_storage();
        let (stop, mut first) = run(storage.clone());
        if stop != Stop::Finished || !first.vm.has_ended() {
            continue;
        }
        let changes = first.final_storage_changes();
        storage.commit(&changes);
        let (_, mut second) = run(storage.clone());
        for (key, value) in &changes {
            assert_eq!(storage.values.get(key), Some(value), "case {i}");
            assert!(storage.enumerated.contains_key(key), "case {i}");
        }
        // Whatever the second batch changes, it changes relative to the committed values.
        for (key, value) in second.final_storage_changes() {
            assert_ne!(
                storage.values.get(&key).copied().unwrap_or_default(),
                value,
                "case {i}"
            );
        }
        carried += changes.len();
    }
    assert!(carried > 10, "only {carried} slots were committed");
}

/// What a run leaves behind, without what only records the path it took (the history of
/// every cycle, the calls made).
fn outcome(s: &eradiff::observe::FinalState) -> impl PartialEq + std::fmt::Debug {
    (
        (
            s.end,
            s.cycles,
            s.return_data.clone(),
            s.registers,
            s.tx_number,
        ),
        (s.heap.clone(), s.aux_heap.clone(), s.stack.clone()),
        (
            s.world.storage.clone(),
            s.world.transient.clone(),
            s.world.events.clone(),
            s.world.l2_to_l1_logs.clone(),
        ),
        (
            s.world.pubdata,
            s.world.pubdata_costs.clone(),
            s.world.refunds.clone(),
            s.world.decommitted.clone(),
        ),
        s.batch.clone(),
    )
}

/// A transaction the operator rolls back (snapshot before pushing it, rollback once it has
/// ended) leaves no trace on either VM: the batch ends exactly as it does without it, while
/// keeping the same transaction changes the outcome.
#[test]
fn a_rolled_back_transaction_leaves_no_trace() {
    use eradiff::backend::{Backend, EraVm, ZkEvm};
    use eradiff::case::BatchMode;
    let mut changed_by_keeping = 0;
    let mut compared = 0;
    for i in 0..24u64 {
        let mut without = generate_seeded_for(Target::Batches, 7, i, &Settings::default());
        // Room for the rolled-back transaction's cycles too (a rollback takes the count back,
        // but the transaction must reach its end first).
        without.max_cycles *= 4;
        let batch = without.batch.as_mut().unwrap();
        batch.mode = BatchMode::Batch;
        for tx in &mut batch.transactions {
            tx.rollback = false;
        }
        let n = batch.transactions.len();
        if n == 0 {
            continue;
        }
        let at = (i as usize * 7) % (n + 1);
        let mut extra = batch.transactions[i as usize % n].clone();
        extra.rollback = true;
        let mut with = without.clone();
        with.batch.as_mut().unwrap().transactions.insert(at, extra);
        let mut kept = with.clone();
        kept.batch.as_mut().unwrap().transactions[at].rollback = false;
        common::agree(&with);
        // Step by step too (the traces explain findings): the rollbacks keep both in step.
        if i % 6 == 0 {
            let trace = |b: &dyn Backend| b.run(&with, true).expect("runs").trace.unwrap();
            let step = eradiff::compare::first_step_difference(&trace(&EraVm), &trace(&ZkEvm));
            assert!(step.is_none(), "case {i}: {step:?}");
        }
        for backend in [&EraVm as &dyn Backend, &ZkEvm] {
            let run = |case| backend.run(case, false).expect("runs").state;
            let (a, b, k) = (run(&without), run(&with), run(&kept));
            if a.end == eradiff::observe::RunEnd::CycleLimit {
                continue;
            }
            assert_eq!(outcome(&a), outcome(&b), "case {i} on {}", backend.name());
            changed_by_keeping += (outcome(&k) != outcome(&a)) as u32;
        }
        compared += 1;
    }
    assert!(compared >= 20, "only {compared} batches compared");
    assert!(
        changed_by_keeping > compared,
        "keeping the transaction changed only {changed_by_keeping} runs"
    );
}

/// Both VMs publish the L1 messenger's logs, messages and bytecodes in generated batches,
/// and what they publish reads back.
#[test]
fn generated_batches_publish_logs_messages_and_bytecodes() {
    let mut totals = [0u32; 5];
    for i in 0..40 {
        let mut case = generate_seeded_for(Target::Batches, 9, i, &Settings::default());
        case.batch.as_mut().unwrap().mode = eradiff::case::BatchMode::Batch;
        let run = common::agree(&case);
        let Some(hex) = run.state.batch.and_then(|b| b.pubdata) else {
            continue;
        };
        let counts = pubdata::summarize(&hex::decode(hex).unwrap()).expect("reads back");
        for (t, c) in totals.iter_mut().zip(counts) {
            *t += c;
        }
    }
    let [logs, messages, bytecodes, _, diffs] = totals;
    assert!(
        logs > 5 && messages > 5 && bytecodes > 5 && diffs > 20,
        "{totals:?}"
    );
}
