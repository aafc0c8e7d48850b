//! Where every piece of configuration text came from.
//!
//! The preprocessor turns files into logical [`Line`]s. Each keeps the file and line
//! it was read from and, when it was produced by a parameter expansion or a
//! `~SEQ`/`~LST` block, the chain of places that produced it, so a diagnostic can
//! always point back at something the operator wrote.

use serde::Serialize;
use std::path::{Path, PathBuf};

/// Index of a file in the [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct FileId(pub u32);

/// A place in a source file: 1-based line, 1-based column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Origin {
    pub file: FileId,
    pub line: u32,
    pub col: u32,
}

/// One logical line after preprocessing.
#[derive(Debug, Clone)]
pub struct Line {
    /// Text after comment removal, conditionals and substitution.
    pub text: String,
    /// Where the line (or the use that expanded into it) was written.
    pub origin: Origin,
    /// True when `text` is exactly the source text starting at `origin` (columns map 1:1).
    pub verbatim: bool,
    /// For expanded lines: the definition sites it came through, innermost first.
    pub expanded_from: Vec<Origin>,
    /// Not configuration: a copy of a source line kept only so a diagnostic about it
    /// (an include that failed, a line too long) can show it.
    pub anchor: bool,
}

/// Position of a token: a line of the preprocessed stream and a byte range in its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
pub struct Span {
    pub line: u32,
    pub start: u32,
    pub end: u32,
}

#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    fn new(path: PathBuf, text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            path,
            text,
            line_starts,
        }
    }

    /// The text of 1-based line `n`, without its newline.
    pub fn line(&self, n: u32) -> Option<&str> {
        let idx = (n as usize).checked_sub(1)?;
        let start = *self.line_starts.get(idx)?;
        let end = self
            .line_starts
            .get(idx + 1)
            .map(|e| e - 1)
            .unwrap_or(self.text.len());
        self.text.get(start..end.max(start))
    }
}

/// All files read and all logical lines produced from them.
#[derive(Debug, Default)]
pub struct SourceMap {
    pub files: Vec<SourceFile>,
    pub lines: Vec<Line>,
}

impl SourceMap {
    pub fn add_file(&mut self, path: PathBuf, text: String) -> FileId {
        self.files.push(SourceFile::new(path, text));
        FileId(self.files.len() as u32 - 1)
    }

    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn path(&self, id: FileId) -> &Path {
        &self.file(id).path
    }

    pub fn line(&self, span: Span) -> Option<&Line> {
        self.lines.get(span.line as usize)
    }

    /// The source position of the start of `span`: file, line and 1-based column.
    pub fn resolve(&self, span: Span) -> Option<Origin> {
        let line = self.line(span)?;
        let mut o = line.origin;
        if line.verbatim {
            let prefix = line.text.get(..span.start as usize).unwrap_or("");
            o.col += prefix.chars().count() as u32;
        }
        Some(o)
    }
}
