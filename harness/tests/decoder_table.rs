//! eravm's decoder against the reference's own decoding table: all 2048 variant indices,
//! every condition, and the static properties the VM checks before execution.

use eravm::opcode::{DstMode, Opcode, SrcMode};
use eravm::Instruction;
use zkevm_opcode_defs::{
    ImmMemHandlerFlags as M, Opcode as R, Operand, RegOrImmFlags as RI, OPCODES_PRICES,
    OPCODES_TABLE,
};

fn reference_opcode(op: R) -> Opcode {
    use zkevm_opcode_defs::{
        BinopOpcode, ContextOpcode, FarCallOpcode, LogOpcode, PtrOpcode, RetOpcode, ShiftOpcode,
        UMAOpcode,
    };
    match op {
        R::Invalid(_) => Opcode::Invalid,
        R::Nop(_) => Opcode::Nop,
        R::Add(_) => Opcode::Add,
        R::Sub(_) => Opcode::Sub,
        R::Mul(_) => Opcode::Mul,
        R::Div(_) => Opcode::Div,
        R::Jump(_) => Opcode::Jump,
        R::Binop(BinopOpcode::Xor) => Opcode::Xor,
        R::Binop(BinopOpcode::And) => Opcode::And,
        R::Binop(BinopOpcode::Or) => Opcode::Or,
        R::Shift(ShiftOpcode::Shl) => Opcode::Shl,
        R::Shift(ShiftOpcode::Shr) => Opcode::Shr,
        R::Shift(ShiftOpcode::Rol) => Opcode::Rol,
        R::Shift(ShiftOpcode::Ror) => Opcode::Ror,
        R::Ptr(PtrOpcode::Add) => Opcode::PtrAdd,
        R::Ptr(PtrOpcode::Sub) => Opcode::PtrSub,
        R::Ptr(PtrOpcode::Pack) => Opcode::PtrPack,
        R::Ptr(PtrOpcode::Shrink) => Opcode::PtrShrink,
        R::NearCall(_) => Opcode::NearCall,
        R::Context(ContextOpcode::This) => Opcode::This,
        R::Context(ContextOpcode::Caller) => Opcode::Caller,
        R::Context(ContextOpcode::CodeAddress) => Opcode::CodeAddress,
        R::Context(ContextOpcode::Meta) => Opcode::Meta,
        R::Context(ContextOpcode::ErgsLeft) => Opcode::ErgsLeft,
        R::Context(ContextOpcode::Sp) => Opcode::Sp,
        R::Context(ContextOpcode::GetContextU128) => Opcode::GetContextU128,
        R::Context(ContextOpcode::SetContextU128) => Opcode::SetContextU128,
        R::Context(ContextOpcode::AuxMutating0) => Opcode::AuxMutating0,
        R::Context(ContextOpcode::IncrementTxNumber) => Opcode::IncrementTxNumber,
        R::Log(LogOpcode::StorageRead) => Opcode::StorageRead,
        R::Log(LogOpcode::StorageWrite) => Opcode::StorageWrite,
        R::Log(LogOpcode::ToL1Message) => Opcode::ToL1Message,
        R::Log(LogOpcode::Event) => Opcode::Event,
        R::Log(LogOpcode::PrecompileCall) => Opcode::PrecompileCall,
        R::Log(LogOpcode::Decommit) => Opcode::Decommit,
        R::Log(LogOpcode::TransientStorageRead) => Opcode::TransientStorageRead,
        R::Log(LogOpcode::TransientStorageWrite) => Opcode::TransientStorageWrite,
        R::FarCall(FarCallOpcode::Normal) => Opcode::FarCall,
        R::FarCall(FarCallOpcode::Delegate) => Opcode::FarCallDelegate,
        R::FarCall(FarCallOpcode::Mimic) => Opcode::FarCallMimic,
        R::Ret(RetOpcode::Ok) => Opcode::RetOk,
        R::Ret(RetOpcode::Revert) => Opcode::RetRevert,
        R::Ret(RetOpcode::Panic) => Opcode::RetPanic,
        R::UMA(UMAOpcode::HeapRead) => Opcode::HeapRead,
        R::UMA(UMAOpcode::HeapWrite) => Opcode::HeapWrite,
        R::UMA(UMAOpcode::AuxHeapRead) => Opcode::AuxHeapRead,
        R::UMA(UMAOpcode::AuxHeapWrite) => Opcode::AuxHeapWrite,
        R::UMA(UMAOpcode::FatPointerRead) => Opcode::FatPointerRead,
        R::UMA(UMAOpcode::StaticMemoryRead) => Opcode::StaticMemoryRead,
        R::UMA(UMAOpcode::StaticMemoryWrite) => Opcode::StaticMemoryWrite,
    }
}

fn src_mode(op: Operand) -> SrcMode {
    match op {
        Operand::RegOnly | Operand::Full(M::UseRegOnly) | Operand::RegOrImm(RI::UseRegOnly) => {
            SrcMode::Reg
        }
        Operand::Full(M::UseImm16Only) | Operand::RegOrImm(RI::UseImm16Only) => SrcMode::Imm,
        Operand::Full(M::UseStackWithPushPop) => SrcMode::StackPop,
        Operand::Full(M::UseStackWithOffset) => SrcMode::StackRelative,
        Operand::Full(M::UseAbsoluteOnStack) => SrcMode::StackAbsolute,
        Operand::Full(M::UseCodePage) => SrcMode::CodePage,
    }
}

fn dst_mode(op: Operand) -> DstMode {
    match op {
        Operand::RegOnly | Operand::Full(M::UseRegOnly) | Operand::RegOrImm(_) => DstMode::Reg,
        Operand::Full(M::UseStackWithPushPop) => DstMode::StackPush,
        Operand::Full(M::UseStackWithOffset) => DstMode::StackRelative,
        Operand::Full(M::UseAbsoluteOnStack) => DstMode::StackAbsolute,
        other => panic!("not a destination mode: {other:?}"),
    }
}

#[test]
fn every_variant_index_decodes_like_the_reference() {
    for index in 0..2048u64 {
        let reference = OPCODES_TABLE[index as usize];
        for condition in 0..8u64 {
            let raw = index | condition << 13 | 0x1234_5678_9abc_0000u64 & !0xffff;
            let ours = Instruction::decode(raw);
            let what = format!("index {index} ({reference:?})");
            assert_eq!(ours.opcode, reference_opcode(reference.opcode), "{what}");
            assert_eq!(
                ours.src0_mode,
                src_mode(reference.src0_operand_type),
                "{what}"
            );
            assert_eq!(
                ours.dst0_mode,
                dst_mode(reference.dst0_operand_type),
                "{what}"
            );
            assert_eq!(ours.modifiers, reference.flags, "{what}");
            assert_eq!(ours.condition.bits() as u64, condition);
            assert_eq!(
                ours.opcode.price(),
                OPCODES_PRICES[index as usize],
                "{what}"
            );
            assert_eq!(
                ours.opcode.is_kernel_only(),
                reference.requires_kernel_mode(),
                "{what}"
            );
            assert_eq!(
                ours.opcode.is_allowed_in_static_frame(),
                reference.can_be_used_in_static_context(),
                "{what}"
            );
            assert_eq!(ours.swap_operands(), reference.swap_operands(), "{what}");
            assert_eq!(
                ours.opcode.accepts_pointer_in_src0(),
                reference.opcode.src0_can_be_pointer(),
                "{what}"
            );
        }
    }
}

#[test]
fn fields_decode_like_the_reference() {
    use zkevm_opcode_defs::decoding::{EncodingModeProduction, VmEncodingMode};
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let (reference, _) =
            EncodingModeProduction::parse_preliminary_variant_and_absolute_number(x);
        let ours = Instruction::decode(x);
        assert_eq!(
            (ours.src0, ours.src1, ours.dst0, ours.dst1, ours.imm0, ours.imm1),
            (
                reference.src0_reg_idx,
                reference.src1_reg_idx,
                reference.dst0_reg_idx,
                reference.dst1_reg_idx,
                reference.imm_0,
                reference.imm_1
            ),
            "{x:#x}"
        );
        assert_eq!(
            ours.condition.bits() as usize,
            reference.condition.variant_index()
        );
    }
}

#[test]
fn encoding_round_trips_for_every_defined_variant() {
    for index in 0..1104u64 {
        let raw = index | 5 << 13 | 0x21 << 16 | 0x43 << 24 | 0xbeef << 32 | 0xcafe << 48;
        let ins = Instruction::decode(raw);
        let encoded = ins.encode().expect("every defined variant encodes");
        // Indices of semantically equal variants may differ only for the invalid opcode.
        assert_eq!(Instruction::decode(encoded), ins, "index {index}");
        if ins.opcode != Opcode::Invalid {
            assert_eq!(encoded, raw, "index {index}");
        }
    }
}
