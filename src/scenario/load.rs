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
        return Err(ScenarioError::TooLarge {
            file: file.into(),
            bytes: text.len(),
            limit: limits::MAX_FILE_BYTES,
        });
    }
    let scenario: Scenario = ron_options()
        .from_str(text)
        .map_err(|e| syntax_error(file, e))?;
    super::validate::validate(file, &scenario)?;
    Ok(scenario)
}

fn syntax_error(file: &str, e: ron::error::SpannedError) -> ScenarioError {
    ScenarioError::Syntax {
        file: file.into(),
        line: e.span.start.line,
        col: e.span.start.col,
        message: describe(&e.code),
    }
}

/// ron's messages, made to say what was expected in the scenario's own terms.
fn describe(code: &ron::Error) -> String {
    match code {
        ron::Error::NoSuchStructField {
            expected,
            found,
            outer,
        } => format!(
            "unknown field `{found}`{}; valid fields: {}",
            outer
                .as_ref()
                .map(|o| format!(" in {o}"))
                .unwrap_or_default(),
            expected.join(", ")
        ),
        ron::Error::NoSuchEnumVariant {
            expected,
            found,
            outer,
        } => format!(
            "unknown variant `{found}`{}; expected one of: {}",
            outer
                .as_ref()
                .map(|o| format!(" for {o}"))
                .unwrap_or_default(),
            expected.join(", ")
        ),
        ron::Error::ExceededRecursionLimit => {
            format!("nesting deeper than {} levels", limits::MAX_NESTING)
        }
        other => other.to_string(),
    }
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
