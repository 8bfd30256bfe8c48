//! Errors as values. Every failure the user can cause is an [`Error`] with a message that
//! names the file, line and column, the key, what was expected and what was found; the
//! binary prints it and exits with [`Error::exit_code`].

use std::fmt;
use std::path::PathBuf;

/// A problem with an input: scenario file, command-line value, results directory.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError {
    /// The file (or `--set KEY` for command-line overrides).
    pub file: String,
    /// 1-based line, where known.
    pub line: Option<usize>,
    /// 1-based column, where known.
    pub column: Option<usize>,
    /// Dotted key, e.g. `fleet.web.policy`.
    pub key: Option<String>,
    /// What was expected and what was found.
    pub message: String,
    /// The offending source line and a caret under the span, where known.
    pub excerpt: Option<String>,
}

/// Writes `FILE[:LINE[:COL]]`: the one form of a location in a message (errors and
/// warnings alike).
pub fn write_location(
    f: &mut fmt::Formatter<'_>,
    file: &str,
    line: Option<usize>,
    column: Option<usize>,
) -> fmt::Result {
    write!(f, "{file}")?;
    if let Some(l) = line {
        write!(f, ":{l}")?;
        if let Some(c) = column {
            write!(f, ":{c}")?;
        }
    }
    Ok(())
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_location(f, &self.file, self.line, self.column)?;
        write!(f, ": ")?;
        if let Some(k) = &self.key {
            write!(f, "key `{k}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(x) = &self.excerpt {
            write!(f, "\n{x}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong in a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input (exit code 2).
    #[error("{0}")]
    Input(Box<InputError>),
    /// Bad command-line usage (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// A file could not be read or written (exit code 2).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The simulator itself failed an invariant or liveness check: a bug (exit code 3).
    #[error("the simulator failed a self-check (a bug: please report it with this scenario and seed): {0}")]
    Simulator(String),
    /// Standard output was closed by its reader (`| head`): the command ends quietly with
    /// status 0.
    #[error("standard output closed")]
    BrokenPipe,
    /// The run was interrupted (Ctrl-C); nothing partial was left behind (exit code 130).
    #[error("interrupted: {0}")]
    Interrupted(String),
}

impl Error {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Interrupted(_) => 130,
            Error::Simulator(_) => 3,
            Error::BrokenPipe => 0,
            _ => 2,
        }
    }

    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An input error with only a file and message.
    pub fn input(file: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Input(Box::new(InputError {
            file: file.into(),
            line: None,
            column: None,
            key: None,
            message: message.into(),
            excerpt: None,
        }))
    }
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Self {
        Error::Input(Box::new(e))
    }
}

/// Attaches `path` to an I/O result's error.
pub(crate) fn io_at<T>(path: &std::path::Path, r: std::io::Result<T>) -> Result<T> {
    r.map_err(|e| Error::io(path, e))
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
