//! The query lexer: operators, field names, words, phrases and regexes, with the byte
//! offset of each token for error carets.

use super::QueryError;
use super::ast::Field;
use super::parser::{DEFAULT_NEAR, MAX_NEAR};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok<'a> {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Near(u32),
    Field(Field),
    Bare(&'a str),
    Phrase(&'a str),
    Regex(&'a str, bool),
    Eof,
}

impl Tok<'_> {
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::And => "`AND`".into(),
            Tok::Or => "`OR`".into(),
            Tok::Not => "`NOT`".into(),
            Tok::Near(_) => "`NEAR`".into(),
            Tok::Field(f) => format!("`{}:`", f.name()),
            Tok::Bare(w) => format!("`{w}`"),
            Tok::Phrase(p) => format!("`\"{p}\"`"),
            Tok::Regex(..) => "a regex".into(),
            Tok::Eof => "the end of the query".into(),
        }
    }

    pub(super) fn starts_term(&self) -> bool {
        matches!(
            self,
            Tok::LParen | Tok::Not | Tok::Field(_) | Tok::Bare(_) | Tok::Phrase(_) | Tok::Regex(..)
        )
    }
}

#[derive(Debug, Clone)]
pub(super) struct Token<'a> {
    pub(super) tok: Tok<'a>,
    pub(super) offset: usize,
}

pub(super) fn err(query: &str, offset: usize, message: impl Into<String>) -> QueryError {
    QueryError {
        query: query.to_string(),
        offset,
        message: message.into(),
    }
}

/// 1-based column of a byte offset, in characters.
pub(crate) fn column(query: &str, offset: usize) -> usize {
    query.get(..offset).map_or(0, |s| s.chars().count()) + 1
}

pub(super) fn lex(q: &str) -> Result<Vec<Token<'_>>, QueryError> {
    let mut toks = Vec::new();
    let mut it = q.char_indices().peekable();
    while let Some(&(i, c)) = it.peek() {
        if c.is_whitespace() {
            it.next();
            continue;
        }
        let (tok, end) = match c {
            '(' => (Tok::LParen, i + 1),
            ')' => (Tok::RParen, i + 1),
            '"' => {
                let body = i + 1;
                match q[body..].find('"') {
                    Some(n) => (Tok::Phrase(&q[body..body + n]), body + n + 1),
                    None => {
                        let col = column(q, i);
                        return Err(err(
                            q,
                            q.len(),
                            format!(
                                "unterminated phrase: expected `\"` to close the `\"` at column {col}"
                            ),
                        ));
                    }
                }
            }
            '/' => lex_regex(q, i)?,
            _ => lex_bare(q, i)?,
        };
        toks.push(Token { tok, offset: i });
        while it.peek().is_some_and(|&(j, _)| j < end) {
            it.next();
        }
    }
    toks.push(Token {
        tok: Tok::Eof,
        offset: q.len(),
    });
    Ok(toks)
}

fn lex_regex(q: &str, start: usize) -> Result<(Tok<'_>, usize), QueryError> {
    let body = start + 1;
    let mut chars = q[body..].char_indices();
    let mut close = None;
    while let Some((j, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '/' => {
                close = Some(body + j);
                break;
            }
            _ => {}
        }
    }
    let Some(close) = close else {
        let col = column(q, start);
        return Err(err(
            q,
            q.len(),
            format!("unterminated regex: expected `/` to close the `/` at column {col}"),
        ));
    };
    let flags_start = close + 1;
    let flags_len = q[flags_start..]
        .bytes()
        .take_while(u8::is_ascii_alphabetic)
        .count();
    let flags = &q[flags_start..flags_start + flags_len];
    let ci = match flags {
        "" => false,
        "i" => true,
        _ => {
            return Err(err(
                q,
                flags_start,
                format!(
                    "unknown regex flag `{flags}`: the only flag is `i` (case-insensitive), as in `/csto/i`"
                ),
            ));
        }
    };
    Ok((Tok::Regex(&q[body..close], ci), flags_start + flags_len))
}

fn lex_bare(q: &str, start: usize) -> Result<(Tok<'_>, usize), QueryError> {
    let mut end = q.len();
    for (j, c) in q[start..].char_indices() {
        if c.is_whitespace() || matches!(c, '(' | ')' | '"') {
            end = start + j;
            break;
        }
        if c == ':' {
            let name = &q[start..start + j];
            if !name.is_empty() && name.chars().all(char::is_alphabetic) {
                return match Field::from_name(name) {
                    Some(f) => Ok((Tok::Field(f), start + j + 1)),
                    None => {
                        let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
                        Err(err(
                            q,
                            start,
                            format!("unknown field `{name}`: fields are {}", names.join(", ")),
                        ))
                    }
                };
            }
        }
    }
    let text = &q[start..end];
    let tok = match text {
        "AND" => Tok::And,
        "OR" => Tok::Or,
        "NOT" => Tok::Not,
        "NEAR" => Tok::Near(DEFAULT_NEAR),
        _ => match text.strip_prefix("NEAR/") {
            Some(d) => match d.parse::<u32>() {
                Ok(n) if n <= MAX_NEAR && d.bytes().all(|b| b.is_ascii_digit()) => Tok::Near(n),
                _ => {
                    return Err(err(
                        q,
                        start,
                        format!(
                            "bad NEAR distance `{d}`: write a whole number of words from 0 to {MAX_NEAR}, as in `NEAR/5`"
                        ),
                    ));
                }
            },
            None => Tok::Bare(text),
        },
    };
    Ok((tok, end))
}
