//! The watch-rule language: [`Query`] (parse and canonical print) and the one-pass
//! matcher over all rules.
//!
//! (Stub: the API below is the contract other stages use; the implementation lands with
//! the rule-language work.)

use std::fmt;

/// A parsed query. `Display` prints the canonical form, which parses back to the same tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Query;

impl Query {
    /// Parses a query; never panics.
    pub fn parse(_text: &str) -> Result<Query, QueryError> {
        Ok(Query)
    }
}

impl fmt::Display for Query {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

/// Why a query did not parse, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryError {
    /// The query text.
    pub query: String,
    /// Byte offset of the fault in `query`.
    pub offset: usize,
    /// What was expected, e.g. "expected `)` to close the `(` at column 3".
    pub message: String,
}

impl QueryError {
    /// Multi-line rendering naming the rule, with the query and a caret under the fault.
    pub fn render(&self, rule: &str) -> String {
        format!("rule `{rule}`: {}\n  {}\n", self.message, self.query)
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QueryError {}

/// The fields of an item a query can look at, as plain text (HTML already reduced).
#[derive(Debug, Clone, Copy, Default)]
pub struct Document<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub content: &'a str,
    pub authors: &'a [String],
    pub categories: &'a [String],
    pub link: &'a str,
    /// The feed's configured name.
    pub feed: &'a str,
}

impl<'a> Document<'a> {
    pub fn from_item(item: &'a crate::model::Item, feed: &'a str) -> Document<'a> {
        Document {
            title: &item.title,
            summary: &item.summary,
            content: &item.content,
            authors: &item.authors,
            categories: &item.categories,
            link: item.link.as_deref().unwrap_or(""),
            feed,
        }
    }
}

/// One rule that matched one document.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleMatch {
    /// Index of the rule in the slice given to [`RuleSet::new`].
    pub rule: usize,
    /// The words and phrases that matched, as they appear in the text, deduplicated,
    /// in order of first appearance.
    pub matched: Vec<String>,
}

/// All rules compiled together: each document's text is scanned once, and only rules
/// whose terms occurred are evaluated.
#[derive(Debug, Default)]
pub struct RuleSet;

impl RuleSet {
    pub fn new(_queries: &[&Query]) -> RuleSet {
        RuleSet
    }

    /// The rules that match `doc`, among those for which `applies(rule index)` is true.
    pub fn matches(&self, _doc: &Document<'_>, _applies: &dyn Fn(usize) -> bool) -> Vec<RuleMatch> {
        Vec::new()
    }
}
