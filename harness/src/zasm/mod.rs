//! EraVM assembly as case input: the `.zasm` text zksolc's `--eravm-assembly` prints and
//! matter-labs' `zkevm-assembly` reads.
//!
//! The program is assembled by `zkevm-assembly` (pinned in `harness/Cargo.toml`; never a
//! dependency of `eravm`), so both VMs receive bytecode a third party encoded. Everything
//! else a case holds comes from header lines, one field each, the value written as in a case
//! file:
//!
//! ```text
//! ; eradiff: ergs = 100000
//! ; eradiff: calldata = "0x0102"
//! ; eradiff: frame = {"is_static": true}
//!     .text
//! __entry:
//!     add 5, r0, r1
//!     sstore r0, r1
//!     ret.ok r0
//! ```
//!
//! A field the header does not name takes the value below ([`DEFAULT_ERGS`], the case
//! format's default cycle limit, no world); `code` comes only from the assembly.

use std::path::Path;

use serde_json::{Map, Value};

use crate::case::{Case, CaseError, Word, CASE_FORMAT_VERSION, DEFAULT_MAX_CYCLES};

mod write;
pub use write::{write, WriteError};

/// What starts a header line.
pub const HEADER: &str = "; eradiff:";

/// The first frame's ergs when the header names none.
pub const DEFAULT_ERGS: u32 = 4_000_000;

/// Whether `path` names an assembly file rather than a JSON case.
pub fn is_zasm(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "zasm")
}

/// A case from assembly text: the header's fields, the assembled code page.
pub fn case_from_zasm(text: &str) -> Result<Case, CaseError> {
    let mut fields = header_fields(text)?;
    let code: Vec<Word> = assemble(text)?
        .iter()
        .map(|w| Word(eravm::U256::from_big_endian(w)))
        .collect();
    fields.insert("code".into(), serde_json::json!(code));
    for (field, value) in defaults() {
        fields.entry(field).or_insert(value);
    }
    Case::from_json(&Value::Object(fields).to_string())
}

/// The fields a `.zasm` file gives a case when its header does not name them.
fn defaults() -> [(&'static str, Value); 3] {
    [
        ("version", Value::from(CASE_FORMAT_VERSION)),
        ("ergs", Value::from(DEFAULT_ERGS)),
        ("max_cycles", Value::from(DEFAULT_MAX_CYCLES)),
    ]
}

/// The header's `field = value` lines, each value parsed as JSON.
fn header_fields(text: &str) -> Result<Map<String, Value>, CaseError> {
    let mut fields = Map::new();
    for (n, line) in text.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix(HEADER) else {
            continue;
        };
        let line_error = |message: String| CaseError::Field {
            field: format!("header line {}", n + 1),
            message,
        };
        let Some((field, value)) = rest.split_once('=') else {
            return Err(line_error(format!(
                "expected `{HEADER} field = value`, found `{}`",
                line.trim()
            )));
        };
        let field = field.trim();
        if field == "code" {
            return Err(line_error("`code` comes from the assembly".into()));
        }
        let value: Value = serde_json::from_str(value.trim()).map_err(|e| {
            line_error(format!(
                "the value of `{field}` is not JSON ({e}); write strings in quotes"
            ))
        })?;
        if fields.insert(field.to_string(), value).is_some() {
            return Err(line_error(format!("`{field}` is set twice")));
        }
    }
    Ok(fields)
}

/// The code page `zkevm-assembly` builds: the text section, its landing pads and padding,
/// then the constants, an odd number of words (no metadata hash is appended).
pub fn assemble(text: &str) -> Result<Vec<[u8; 32]>, CaseError> {
    let error = |message: String| CaseError::Field {
        field: "code".into(),
        message: format!("zkevm-assembly: {message}"),
    };
    // The assembler reads the white space before a trailing comment as part of the last
    // operand: cut both. It numbers lines after trimming leading empty ones: count them.
    let cut: String = text
        .lines()
        .map(|line| line.split(';').next().unwrap_or_default().trim_end())
        .collect::<Vec<_>>()
        .join("\n");
    let text = cut.trim_matches('\n');
    let first_line = cut.len() - cut.trim_start_matches('\n').len();
    // The assembler asserts on some malformed input; that is the input's fault, not ours.
    let outcome = crate::backend::catch_quietly(|| {
        let mut assembly = zkevm_assembly::Assembly::from_string(text.to_owned(), None)
            .map_err(|e| format!("{e:?}"))?;
        let code = assembly
            .compile_to_bytecode()
            .map_err(|e| format!("{e:?}"))?;
        Ok((code, assembly.pc_line_mapping))
    });
    let (code, assembled_lines) = match outcome {
        Ok(result) => result.map_err(error)?,
        Err(panic) => return Err(error(format!("the assembler gave up: {panic}"))),
    };
    let assembled: std::collections::HashSet<usize> = assembled_lines.into_values().collect();
    if instruction_lines(text).next().is_none() {
        return Err(error(
            "no instructions (a program is a `.text` section with a label such as `__entry:`)"
                .into(),
        ));
    }
    if let Some((n, line)) = instruction_lines(text).find(|(n, _)| !assembled.contains(n)) {
        return Err(error(format!(
            "line {}: `{line}` was not assembled (zkevm-assembly reads a text section only \
             when it holds a label: put one such as `__entry:` at its top)",
            first_line + n + 1
        )));
    }
    Ok(code)
}

/// The lines of text sections that hold an instruction, numbered from 0 (comments cut).
fn instruction_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut in_text = false;
    text.lines().enumerate().filter_map(move |(n, line)| {
        let line = line.trim();
        if let Some(directive) = line.strip_prefix('.') {
            if ["text", "rodata", "data"]
                .iter()
                .any(|s| directive.starts_with(s))
            {
                in_text = directive.starts_with("text");
            }
            return None;
        }
        (in_text && !line.is_empty() && !line.ends_with(':')).then_some((n, line))
    })
}
