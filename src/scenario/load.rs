//! Parsing a scenario file into [`Scenario`], with errors that name the file, line and column.

use super::limits;
use super::schema::Scenario;
use ron::extensions::Extensions;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{file}: file is {bytes} bytes; the limit is {limit} bytes")]
    TooLarge {
        file: String,
        bytes: usize,
        limit: usize,
    },
    #[error("{file}:{line}:{col}: {message}")]
    Syntax {
        file: String,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("{file}: {path}: {message}")]
    Invalid {
        file: String,
        path: String,
        message: String,
    },
}

impl ScenarioError {
    pub fn invalid(
        file: &str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::Invalid {
            file: file.into(),
            path: path.into(),
            message: message.into(),
        }
    }
}

/// RON options used everywhere: `Some(..)` may be omitted around optional values.
pub fn ron_options() -> ron::Options {
    ron::Options::default()
        .with_default_extension(Extensions::IMPLICIT_SOME)
        .with_recursion_limit(limits::MAX_NESTING)
}

/// Parses and validates scenario text. `file` is only used in error messages.
pub fn from_str(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    if text.len() > limits::MAX_FILE_BYTES {
        return Err(too_large(file, text.len()));
    }
    // Some editors start UTF-8 files with a byte-order mark; it is not part of the text.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let scenario: Scenario = ron_options()
        .from_str(text)
        .map_err(|e| syntax_error(file, text, e))?;
    super::validate::validate(file, &scenario)?;
    Ok(scenario)
}

/// Like [`from_str`] for raw file contents: text that is not UTF-8 is a syntax error at the
/// first bad byte.
pub fn from_bytes(file: &str, bytes: &[u8]) -> Result<Scenario, ScenarioError> {
    if bytes.len() > limits::MAX_FILE_BYTES {
        return Err(too_large(file, bytes.len()));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => from_str(file, text),
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            // Everything before the bad byte is valid UTF-8, so this cannot fail.
            let before = std::str::from_utf8(valid).unwrap_or_default();
            let (line, col) = end_position(before);
            Err(ScenarioError::Syntax {
                file: file.into(),
                line,
                col,
                message: format!(
                    "not UTF-8 text (byte 0x{:02x}); save the file as UTF-8",
                    bytes[e.valid_up_to()]
                ),
            })
        }
    }
}

fn too_large(file: &str, bytes: usize) -> ScenarioError {
    ScenarioError::TooLarge {
        file: file.into(),
        bytes,
        limit: limits::MAX_FILE_BYTES,
    }
}

/// The 1-based line and column just after `text`.
fn end_position(text: &str) -> (usize, usize) {
    let line = 1 + text.matches('\n').count();
    let col = 1 + text.rsplit('\n').next().map_or(0, |l| l.chars().count());
    (line, col)
}

fn syntax_error(file: &str, text: &str, e: ron::error::SpannedError) -> ScenarioError {
    // ron places an unexpected end of file where the unfinished value began; the end of the
    // text is where something is missing.
    let code = if ends_early(text, &e) {
        ron::Error::Eof
    } else {
        e.code
    };
    let (line, col) = match code {
        ron::Error::Eof => end_position(text),
        _ => skip_whitespace(text, e.span.start.line, e.span.start.col),
    };
    let mut message = super::describe::describe(&code);
    // `count: 1.5` stops after `1` with "expected a comma"; say what really went wrong.
    if code == ron::Error::ExpectedComma && char_at(text, line, col) == Some('.') {
        message = "expected a whole number here, not a fraction".into();
    }
    ScenarioError::Syntax {
        file: file.into(),
        line,
        col,
        message,
    }
}

/// Whether ron wanted a separator or a closing bracket where the text simply ran out.
fn ends_early(text: &str, e: &ron::error::SpannedError) -> bool {
    use ron::Error as E;
    let wants_more = matches!(
        e.code,
        E::ExpectedComma
            | E::ExpectedStructLikeEnd
            | E::ExpectedArrayEnd
            | E::ExpectedMapEnd
            | E::ExpectedOptionEnd
    );
    wants_more
        && offset(text, e.span.end.line, e.span.end.col)
            .is_some_and(|at| text[at..].trim().is_empty())
}

/// The byte offset of a 1-based line and column, if it lies within (or just after) the text.
fn offset(text: &str, line: usize, col: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += text[start..].find('\n')? + 1;
    }
    let this = &text[start..];
    let this = &this[..this.find('\n').unwrap_or(this.len())];
    match this.char_indices().nth(col.checked_sub(1)?) {
        Some((i, _)) => Some(start + i),
        None if this.chars().count() + 1 == col => Some(start + this.len()),
        None => None,
    }
}

/// ron sometimes places an error on the whitespace before the offending text; point at the
/// text itself (when there is any). Linear in the text, whatever the whitespace.
fn skip_whitespace(text: &str, line: usize, col: usize) -> (usize, usize) {
    let Some(at) = offset(text, line, col) else {
        return (line, col);
    };
    let rest = &text[at..];
    let skipped = rest.len() - rest.trim_start().len();
    if skipped == 0 || skipped == rest.len() {
        return (line, col);
    }
    end_position(&text[..at + skipped])
}

/// The character at a 1-based line and column.
fn char_at(text: &str, line: usize, col: usize) -> Option<char> {
    text[offset(text, line, col)?..].chars().next()
}

/// Writes a scenario as pretty RON (the GUI saves with this).
pub fn to_string(scenario: &Scenario) -> String {
    let pretty = ron::ser::PrettyConfig::new()
        .depth_limit(8)
        .struct_names(false);
    ron::Options::default()
        .with_default_extension(Extensions::IMPLICIT_SOME)
        .to_string_pretty(scenario, pretty)
        .unwrap_or_else(|e| format!("// could not serialise scenario: {e}\n"))
}
