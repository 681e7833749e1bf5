//! The query tree and its canonical print.
//!
//! Words are stored folded (see [`crate::text`]), so `Lavrov` and `LAVROV` parse to the
//! same tree. `AND`/`OR` are n-ary and flattened, a one-word phrase is a word, and a
//! field scope is pushed down onto each term: the tree has one spelling per meaning, and
//! the canonical print parses back to it.

use std::fmt;

use regex::Regex;

/// A field of an item a term can be scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Title,
    Summary,
    Content,
    Author,
    Category,
    Link,
    Feed,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Title,
        Field::Summary,
        Field::Content,
        Field::Author,
        Field::Category,
        Field::Link,
        Field::Feed,
    ];

    /// The fields an unscoped term looks at.
    pub const DEFAULT: [Field; 4] = [
        Field::Title,
        Field::Summary,
        Field::Content,
        Field::Category,
    ];

    /// The name used in queries (`title:`).
    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Content => "content",
            Field::Author => "author",
            Field::Category => "category",
            Field::Link => "link",
            Field::Feed => "feed",
        }
    }

    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// Bit mask of the fields a term with this scope looks at.
    pub(crate) fn mask(scope: Option<Field>) -> u8 {
        match scope {
            Some(f) => f.bit(),
            None => Field::DEFAULT.iter().fold(0, |m, f| m | f.bit()),
        }
    }
}

/// A word-level term. Words are folded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Term {
    Word(String),
    /// Two or more words, consecutive within one field.
    Phrase(Vec<String>),
    /// Any word starting with this (folded) prefix.
    Prefix(String),
}

/// A compiled regular expression with the text it was written as.
#[derive(Clone)]
pub struct Pattern {
    /// The pattern between the slashes, exactly as written (`\/` included).
    pub source: String,
    /// Written with the `/i` flag.
    pub case_insensitive: bool,
    pub regex: Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.source == other.source && self.case_insensitive == other.case_insensitive
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = if self.case_insensitive { "i" } else { "" };
        write!(f, "/{}/{flag}", self.source)
    }
}

/// A node of the query tree. `field: None` means the default fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Term {
        field: Option<Field>,
        term: Term,
    },
    /// `left NEAR/distance right`: at most `distance` words between them, either order,
    /// in one field.
    Near {
        field: Option<Field>,
        left: Term,
        right: Term,
        distance: u32,
    },
    Regex {
        field: Option<Field>,
        pattern: Pattern,
    },
    /// Two or more operands, none of them an `And`.
    And(Vec<Node>),
    /// Two or more operands, none of them an `Or`.
    Or(Vec<Node>),
    Not(Box<Node>),
}

impl Node {
    /// The value of the node when none of its terms occur.
    pub(crate) fn when_nothing_occurs(&self) -> bool {
        match self {
            Node::Term { .. } | Node::Near { .. } | Node::Regex { .. } => false,
            Node::And(v) => v.iter().all(Node::when_nothing_occurs),
            Node::Or(v) => v.iter().any(Node::when_nothing_occurs),
            Node::Not(n) => !n.when_nothing_occurs(),
        }
    }

    fn print(&self, f: &mut fmt::Formatter<'_>, level: Level) -> fmt::Result {
        match self {
            Node::Term { field, term } => {
                print_field(f, *field)?;
                print_term(f, term)
            }
            Node::Near {
                field,
                left,
                right,
                distance,
            } => {
                if let Some(field) = field {
                    write!(f, "{}:(", field.name())?;
                }
                print_term(f, left)?;
                write!(f, " NEAR/{distance} ")?;
                print_term(f, right)?;
                if field.is_some() {
                    f.write_str(")")?;
                }
                Ok(())
            }
            Node::Regex { field, pattern } => {
                print_field(f, *field)?;
                write!(f, "{pattern}")
            }
            Node::And(v) => print_list(f, v, " AND ", level > Level::And, Level::And),
            Node::Or(v) => print_list(f, v, " OR ", level > Level::Or, Level::Or),
            Node::Not(n) => {
                f.write_str("NOT ")?;
                n.print(f, Level::Not)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Or,
    And,
    Not,
}

fn print_list(
    f: &mut fmt::Formatter<'_>,
    nodes: &[Node],
    sep: &str,
    parens: bool,
    level: Level,
) -> fmt::Result {
    if parens {
        f.write_str("(")?;
    }
    for (i, n) in nodes.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        n.print(f, level)?;
    }
    if parens {
        f.write_str(")")?;
    }
    Ok(())
}

fn print_field(f: &mut fmt::Formatter<'_>, field: Option<Field>) -> fmt::Result {
    match field {
        Some(field) => write!(f, "{}:", field.name()),
        None => Ok(()),
    }
}

fn print_term(f: &mut fmt::Formatter<'_>, term: &Term) -> fmt::Result {
    match term {
        Term::Word(w) => f.write_str(w),
        Term::Phrase(ws) => write!(f, "\"{}\"", ws.join(" ")),
        Term::Prefix(p) => write!(f, "{p}*"),
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.print(f, Level::Or)
    }
}
