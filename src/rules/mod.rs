//! The watch-rule language: [`Query`] (parse and canonical print) and the one-pass
//! matcher over all rules ([`RuleSet`]).
//!
//! The language is described for users in docs/rules.md. Submodules: `ast` (the tree
//! and its canonical print), `parser` (lexer, parser, errors), `matcher` (all rules
//! compiled into one word index), `reference` (a deliberately simple evaluator the
//! matcher is tested and benchmarked against).

use std::fmt;

mod ast;
mod lexer;
mod matcher;
mod parser;
#[doc(hidden)]
pub mod reference;

#[cfg(test)]
mod hostile_proptests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use ast::{Field, Node, Pattern, Term};
pub use parser::{DEFAULT_NEAR, MAX_NEAR, REGEX_SIZE_LIMIT};

/// A parsed query. `Display` prints the canonical form, which parses back to the same tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    root: Node,
}

impl Query {
    /// Parses a query; never panics.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        parser::parse(text).map(|root| Query { root })
    }

    /// The query tree.
    pub fn root(&self) -> &Node {
        &self.root
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.root, f)
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
    ///
    /// ```text
    /// rule `csto-watch`: expected `)` to close the `(` at column 1
    ///   (CSTO OR SCO
    ///               ^
    /// ```
    ///
    /// The caret column counts characters, not bytes, so it lines up under Cyrillic
    /// text; line breaks and tabs in the query are shown as spaces to keep it on one line.
    pub fn render(&self, rule: &str) -> String {
        let shown: String = self
            .query
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .collect();
        let pad = " ".repeat(lexer::column(&self.query, self.offset) - 1);
        format!("rule `{rule}`: {}\n  {shown}\n  {pad}^\n", self.message)
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

impl<'a> Document<'a> {
    /// Number of values of a field: 1 for single-valued fields, the list length for
    /// authors and categories.
    pub fn field_len(&self, field: Field) -> usize {
        match field {
            Field::Author => self.authors.len(),
            Field::Category => self.categories.len(),
            _ => 1,
        }
    }

    /// The `i`th value of a field.
    pub fn field_value(&self, field: Field, i: usize) -> Option<&'a str> {
        match field {
            Field::Title => (i == 0).then_some(self.title),
            Field::Summary => (i == 0).then_some(self.summary),
            Field::Content => (i == 0).then_some(self.content),
            Field::Link => (i == 0).then_some(self.link),
            Field::Feed => (i == 0).then_some(self.feed),
            Field::Author => self.authors.get(i).map(String::as_str),
            Field::Category => self.categories.get(i).map(String::as_str),
        }
    }

    /// Every value of a field. Each value is matched on its own: a phrase or `NEAR`
    /// never spans two categories.
    pub fn field_values(&self, field: Field) -> impl Iterator<Item = &'a str> + use<'a> {
        let doc = *self;
        (0..doc.field_len(field)).filter_map(move |i| doc.field_value(field, i))
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

pub use matcher::RuleSet;
