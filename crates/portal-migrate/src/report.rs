//! What a migration could not convert, and what it converted differently.

/// Refusals and notes, each with its source (`policy/rule`, a VAP's name, a file).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// What was not converted, and why.
    pub refused: Vec<(String, String)>,
    /// What a converted rule does differently from its source, or what was left out of it.
    pub notes: Vec<(String, String)>,
}

impl Report {
    pub fn refuse(&mut self, source: &str, reason: &str) {
        self.refused.push((source.to_owned(), reason.to_owned()));
    }

    pub fn note(&mut self, source: &str, note: &str) {
        self.notes.push((source.to_owned(), note.to_owned()));
    }
}
