//! The instruction set of EraVM 1.5: opcodes, operand modes, conditions and the static
//! properties (price, kernel-only, allowed in static frames) the VM checks before it runs one.

use std::fmt;

use crate::ergs::prices;

/// Every opcode variant of EraVM 1.5, flattened: the family is a method, not a nesting level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Opcode {
    Invalid,
    Nop,
    Add,
    Sub,
    Mul,
    Div,
    Jump,
    Xor,
    And,
    Or,
    Shl,
    Shr,
    Rol,
    Ror,
    PtrAdd,
    PtrSub,
    PtrPack,
    PtrShrink,
    NearCall,
    This,
    Caller,
    CodeAddress,
    Meta,
    ErgsLeft,
    Sp,
    GetContextU128,
    SetContextU128,
    AuxMutating0,
    IncrementTxNumber,
    StorageRead,
    StorageWrite,
    ToL1Message,
    Event,
    PrecompileCall,
    Decommit,
    TransientStorageRead,
    TransientStorageWrite,
    FarCall,
    FarCallDelegate,
    FarCallMimic,
    RetOk,
    RetRevert,
    RetPanic,
    HeapRead,
    HeapWrite,
    AuxHeapRead,
    AuxHeapWrite,
    FatPointerRead,
    StaticMemoryRead,
    StaticMemoryWrite,
}

/// The opcode families, as the reference groups them (one module of `instructions` each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Invalid,
    Nop,
    Add,
    Sub,
    Mul,
    Div,
    Jump,
    Binop,
    Shift,
    Ptr,
    NearCall,
    Context,
    Log,
    FarCall,
    Ret,
    HeapAccess,
}

impl Opcode {
    pub const ALL: [Opcode; 50] = [
        Opcode::Invalid,
        Opcode::Nop,
        Opcode::Add,
        Opcode::Sub,
        Opcode::Mul,
        Opcode::Div,
        Opcode::Jump,
        Opcode::Xor,
        Opcode::And,
        Opcode::Or,
        Opcode::Shl,
        Opcode::Shr,
        Opcode::Rol,
        Opcode::Ror,
        Opcode::PtrAdd,
        Opcode::PtrSub,
        Opcode::PtrPack,
        Opcode::PtrShrink,
        Opcode::NearCall,
        Opcode::This,
        Opcode::Caller,
        Opcode::CodeAddress,
        Opcode::Meta,
        Opcode::ErgsLeft,
        Opcode::Sp,
        Opcode::GetContextU128,
        Opcode::SetContextU128,
        Opcode::AuxMutating0,
        Opcode::IncrementTxNumber,
        Opcode::StorageRead,
        Opcode::StorageWrite,
        Opcode::ToL1Message,
        Opcode::Event,
        Opcode::PrecompileCall,
        Opcode::Decommit,
        Opcode::TransientStorageRead,
        Opcode::TransientStorageWrite,
        Opcode::FarCall,
        Opcode::FarCallDelegate,
        Opcode::FarCallMimic,
        Opcode::RetOk,
        Opcode::RetRevert,
        Opcode::RetPanic,
        Opcode::HeapRead,
        Opcode::HeapWrite,
        Opcode::AuxHeapRead,
        Opcode::AuxHeapWrite,
        Opcode::FatPointerRead,
        Opcode::StaticMemoryRead,
        Opcode::StaticMemoryWrite,
    ];

    pub const fn family(self) -> Family {
        use Opcode::*;
        match self {
            Invalid => Family::Invalid,
            Nop => Family::Nop,
            Add => Family::Add,
            Sub => Family::Sub,
            Mul => Family::Mul,
            Div => Family::Div,
            Jump => Family::Jump,
            Xor | And | Or => Family::Binop,
            Shl | Shr | Rol | Ror => Family::Shift,
            PtrAdd | PtrSub | PtrPack | PtrShrink => Family::Ptr,
            NearCall => Family::NearCall,
            This | Caller | CodeAddress | Meta | ErgsLeft | Sp | GetContextU128
            | SetContextU128 | AuxMutating0 | IncrementTxNumber => Family::Context,
            StorageRead
            | StorageWrite
            | ToL1Message
            | Event
            | PrecompileCall
            | Decommit
            | TransientStorageRead
            | TransientStorageWrite => Family::Log,
            FarCall | FarCallDelegate | FarCallMimic => Family::FarCall,
            RetOk | RetRevert | RetPanic => Family::Ret,
            HeapRead | HeapWrite | AuxHeapRead | AuxHeapWrite | FatPointerRead
            | StaticMemoryRead | StaticMemoryWrite => Family::HeapAccess,
        }
    }

    /// The ergs the instruction costs before it runs (memory growth, calls and storage add more).
    pub const fn price(self) -> u32 {
        use Opcode::*;
        match self {
            Invalid => prices::INVALID,
            Nop | Add | Sub | Mul | Div | Jump | Xor | And | Or | Shl | Shr | Rol | Ror
            | PtrAdd | PtrSub | PtrPack | PtrShrink => prices::RICH_ADDRESSING,
            NearCall => prices::NEAR_CALL,
            This | Caller | CodeAddress | Meta | ErgsLeft | Sp | GetContextU128
            | SetContextU128 | AuxMutating0 | IncrementTxNumber => prices::AVERAGE,
            RetOk | RetRevert | RetPanic => prices::AVERAGE,
            StorageRead => prices::STORAGE_READ,
            StorageWrite => prices::STORAGE_WRITE,
            ToL1Message => prices::L1_MESSAGE,
            Event => prices::EVENT,
            PrecompileCall => prices::PRECOMPILE_CALL,
            Decommit => prices::DECOMMIT,
            TransientStorageRead => prices::TRANSIENT_STORAGE_READ,
            TransientStorageWrite => prices::TRANSIENT_STORAGE_WRITE,
            FarCall | FarCallDelegate | FarCallMimic => prices::FAR_CALL,
            HeapRead | AuxHeapRead | FatPointerRead | StaticMemoryRead => prices::HEAP_READ,
            HeapWrite | AuxHeapWrite | StaticMemoryWrite => prices::HEAP_WRITE,
        }
    }

    /// Whether the instruction panics when the current frame is not a kernel (system) frame.
    pub const fn is_kernel_only(self) -> bool {
        use Opcode::*;
        matches!(
            self,
            SetContextU128
                | AuxMutating0
                | IncrementTxNumber
                | ToL1Message
                | Event
                | PrecompileCall
                | Decommit
                | FarCallMimic
                | StaticMemoryRead
                | StaticMemoryWrite
        )
    }

    /// Whether the instruction may run in a static (read-only) frame.
    pub const fn is_allowed_in_static_frame(self) -> bool {
        use Opcode::*;
        !matches!(
            self,
            SetContextU128
                | AuxMutating0
                | IncrementTxNumber
                | StorageWrite
                | ToL1Message
                | Event
                | TransientStorageWrite
        )
    }

    /// Whether the first source operand keeps its pointer tag outside kernel mode.
    pub const fn accepts_pointer_in_src0(self) -> bool {
        matches!(
            self.family(),
            Family::Ptr | Family::FarCall | Family::Ret | Family::HeapAccess
        )
    }

    /// Which of the two modifier bits the encoding carries mean what for this opcode.
    pub const fn modifiers(self) -> ModifierMeaning {
        match self.family() {
            Family::Add | Family::Mul | Family::Binop => ModifierMeaning::SetFlags,
            Family::Sub | Family::Div | Family::Shift => ModifierMeaning::SetFlagsAndSwap,
            Family::Ptr => ModifierMeaning::Swap,
            Family::HeapAccess => ModifierMeaning::Increment,
            Family::Ret => ModifierMeaning::ToLabel,
            Family::FarCall => ModifierMeaning::StaticAndShard,
            Family::Log if matches!(self, Opcode::ToL1Message | Opcode::Event) => {
                ModifierMeaning::First
            }
            _ => ModifierMeaning::None,
        }
    }

    /// The mnemonic used by the disassembler.
    pub const fn mnemonic(self) -> &'static str {
        use Opcode::*;
        match self {
            Invalid => "invalid",
            Nop => "nop",
            Add => "add",
            Sub => "sub",
            Mul => "mul",
            Div => "div",
            Jump => "jump",
            Xor => "xor",
            And => "and",
            Or => "or",
            Shl => "shl",
            Shr => "shr",
            Rol => "rol",
            Ror => "ror",
            PtrAdd => "ptr.add",
            PtrSub => "ptr.sub",
            PtrPack => "ptr.pack",
            PtrShrink => "ptr.shrink",
            NearCall => "near_call",
            This => "context.this",
            Caller => "context.caller",
            CodeAddress => "context.code_source",
            Meta => "context.meta",
            ErgsLeft => "context.ergs_left",
            Sp => "context.sp",
            GetContextU128 => "context.get_context_u128",
            SetContextU128 => "context.set_context_u128",
            AuxMutating0 => "context.aux_mutating0",
            IncrementTxNumber => "context.inc_tx_num",
            StorageRead => "log.sread",
            StorageWrite => "log.swrite",
            ToL1Message => "log.to_l1",
            Event => "log.event",
            PrecompileCall => "log.precompile",
            Decommit => "log.decommit",
            TransientStorageRead => "log.tread",
            TransientStorageWrite => "log.twrite",
            FarCall => "far_call",
            FarCallDelegate => "far_call.delegate",
            FarCallMimic => "far_call.mimic",
            RetOk => "ret.ok",
            RetRevert => "ret.revert",
            RetPanic => "ret.panic",
            HeapRead => "ld.1",
            HeapWrite => "st.1",
            AuxHeapRead => "ld.2",
            AuxHeapWrite => "st.2",
            FatPointerRead => "ld",
            StaticMemoryRead => "ld.static",
            StaticMemoryWrite => "st.static",
        }
    }
}

/// What the two modifier bits of an encoded instruction mean for its opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModifierMeaning {
    None,
    /// bit 0: set flags.
    SetFlags,
    /// bit 0: set flags, bit 1: swap operands.
    SetFlagsAndSwap,
    /// bit 0: swap operands.
    Swap,
    /// bit 0: increment the offset of the pointer operand by 32.
    Increment,
    /// bit 0: return to the label in imm0 instead of the saved return address.
    ToLabel,
    /// bit 0: static call, bit 1: shard id from the ABI.
    StaticAndShard,
    /// bit 0: first word of a multi-word event or message.
    First,
}

/// Where the first source operand comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SrcMode {
    Reg,
    /// `stack-=[reg+imm]`: SP decreases by reg+imm, then the slot at the new SP is read.
    StackPop,
    /// `stack[sp-(reg+imm)]`.
    StackRelative,
    /// `stack[reg+imm]`.
    StackAbsolute,
    /// The 16-bit immediate imm0.
    Imm,
    /// `code[reg+imm]`: a 32-byte word of the code page.
    CodePage,
}

impl SrcMode {
    pub const ALL: [SrcMode; 6] = [
        SrcMode::Reg,
        SrcMode::StackPop,
        SrcMode::StackRelative,
        SrcMode::StackAbsolute,
        SrcMode::Imm,
        SrcMode::CodePage,
    ];
}

/// Where the first destination operand goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DstMode {
    Reg,
    /// `stack+=[reg+imm]`: the slot at the old SP is written, then SP increases by reg+imm.
    StackPush,
    StackRelative,
    StackAbsolute,
}

impl DstMode {
    pub const ALL: [DstMode; 4] = [
        DstMode::Reg,
        DstMode::StackPush,
        DstMode::StackRelative,
        DstMode::StackAbsolute,
    ];
}

/// The predicate an instruction runs under; when it does not hold the instruction is a nop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Condition {
    Always,
    Gt,
    Lt,
    Eq,
    Ge,
    Le,
    Ne,
    GtOrLt,
}

impl Condition {
    pub const ALL: [Condition; 8] = [
        Condition::Always,
        Condition::Gt,
        Condition::Lt,
        Condition::Eq,
        Condition::Ge,
        Condition::Le,
        Condition::Ne,
        Condition::GtOrLt,
    ];

    pub const fn from_bits(bits: u8) -> Condition {
        Condition::ALL[(bits & 7) as usize]
    }

    pub const fn bits(self) -> u8 {
        self as u8
    }

    pub const fn suffix(self) -> &'static str {
        match self {
            Condition::Always => "",
            Condition::Gt => ".gt",
            Condition::Lt => ".lt",
            Condition::Eq => ".eq",
            Condition::Ge => ".ge",
            Condition::Le => ".le",
            Condition::Ne => ".ne",
            Condition::GtOrLt => ".gtlt",
        }
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mnemonic())
    }
}
