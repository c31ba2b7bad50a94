fn main() {
    let path = std::env::args().nth(1).unwrap();
    let case = eradiff::case::Case::load(std::path::Path::new(&path)).unwrap();
    let world = case.resolved_world();
    let mut vm = eravm::Vm::with_storage(
        case.bootloader(),
        Box::new(world.eravm_storage()),
        world.chain_settings(),
    );
    while !vm.has_ended() && vm.cycles() < case.max_cycles {
        let f = *vm.current_frame();
        let pc = f.pc;
        vm.step().unwrap();
        let ins = vm.last_instruction().to_string();
        if ins.starts_with("far_call") || ins.starts_with("ret") || ins.starts_with("log.event") {
            println!(
                "{:>5} depth {} addr {:?} pc {pc}: {ins} -> ergs {}",
                vm.cycles(),
                vm.call_depth(),
                f.this_address,
                vm.current_frame().ergs
            );
        }
    }
    println!("{:?}", vm.far_exits());
}
