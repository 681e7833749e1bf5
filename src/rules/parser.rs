//! Recursive-descent parser for queries.
//!
//! Grammar (see docs/rules.md):
//!
//! ```text
//! query   = or
//! or      = and { "OR" and }
//! and     = unary { [ "AND" ] unary }
//! unary   = "NOT" unary | near
//! near    = primary [ NEAR primary ]
//! primary = "(" or ")" | FIELD ":" ( "(" or ")" | term ) | term
//! term    = WORD | WORD "*" | PHRASE | REGEX
//! ```
//!
//! Every failure is a [`QueryError`] pointing at the offending byte; nothing panics, and
//! nesting is bounded so hostile input cannot exhaust the stack.

use regex::RegexBuilder;

use super::QueryError;
use super::ast::{Field, Node, Pattern, Term};
use super::lexer::{Tok, Token, column, err, lex};
use crate::text;

/// Compiled-program limit for one regex; also bounds its lazy DFA cache, which matters
/// when thousands of rules are loaded.
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;
/// Largest `NEAR/N` distance.
pub const MAX_NEAR: u32 = 100;
/// Distance of a bare `NEAR`.
pub const DEFAULT_NEAR: u32 = 10;
/// Deepest nesting of parentheses and `NOT`s.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    q: &'a str,
    toks: Vec<Token<'a>>,
    i: usize,
    depth: usize,
}

/// Parses a query into its canonical tree.
pub(crate) fn parse(q: &str) -> Result<Node, QueryError> {
    let toks = lex(q)?;
    let mut p = Parser {
        q,
        toks,
        i: 0,
        depth: 0,
    };
    if p.peek().tok == Tok::Eof {
        return Err(err(q, 0, "the query is empty: write at least one word"));
    }
    let root = p.parse_or(None)?;
    let t = p.peek().clone();
    if t.tok != Tok::Eof {
        // Only a `)` can stop the top-level `or` early.
        return Err(err(
            q,
            t.offset,
            "unexpected `)`: there is no `(` for it to close",
        ));
    }
    if root.when_nothing_occurs() {
        return Err(err(
            q,
            0,
            "this rule would match nearly everything: it is true for an item that contains none of its terms; add a term that must occur, as in `CSTO AND NOT sport`",
        ));
    }
    Ok(root)
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token<'a> {
        // `lex` always ends with Eof and the parser never moves past it.
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token<'a> {
        let t = self.peek().clone();
        if t.tok != Tok::Eof {
            self.i += 1;
        }
        t
    }

    fn prev(&self) -> Option<&Tok<'a>> {
        self.i.checked_sub(1).map(|j| &self.toks[j].tok)
    }

    fn err(&self, offset: usize, message: impl Into<String>) -> QueryError {
        err(self.q, offset, message)
    }

    fn enter(&mut self, offset: usize) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(
                offset,
                format!("the query is nested too deeply (more than {MAX_DEPTH} levels of parentheses and NOT)"),
            ));
        }
        Ok(())
    }

    fn parse_or(&mut self, scope: Option<Field>) -> Result<Node, QueryError> {
        let mut v = Vec::new();
        push_flat(&mut v, self.parse_and(scope)?, true);
        while self.peek().tok == Tok::Or {
            self.bump();
            push_flat(&mut v, self.parse_and(scope)?, true);
        }
        Ok(collapse(v, Node::Or))
    }

    fn parse_and(&mut self, scope: Option<Field>) -> Result<Node, QueryError> {
        let mut v = Vec::new();
        push_flat(&mut v, self.parse_unary(scope)?, false);
        loop {
            let t = self.peek().clone();
            match t.tok {
                Tok::And => {
                    self.bump();
                }
                Tok::Near(_) => {
                    return Err(self.err(
                        t.offset,
                        "NEAR joins exactly two words or phrases, as in `Lavrov NEAR/5 Kyrgyzstan`; combine several with AND",
                    ));
                }
                ref tok if tok.starts_term() => {}
                _ => break,
            }
            push_flat(&mut v, self.parse_unary(scope)?, false);
        }
        Ok(collapse(v, Node::And))
    }

    fn parse_unary(&mut self, scope: Option<Field>) -> Result<Node, QueryError> {
        let t = self.peek().clone();
        if t.tok == Tok::Not {
            self.bump();
            self.enter(t.offset)?;
            let n = self.parse_unary(scope)?;
            self.depth -= 1;
            return Ok(Node::Not(Box::new(n)));
        }
        self.parse_near(scope)
    }

    fn parse_near(&mut self, scope: Option<Field>) -> Result<Node, QueryError> {
        let left_at = self.peek().offset;
        let (left, left_plain) = self.parse_primary(scope)?;
        let t = self.peek().clone();
        let Tok::Near(distance) = t.tok else {
            return Ok(left);
        };
        self.bump();
        let right_at = self.peek().offset;
        let (right, right_plain) = self.parse_primary(scope)?;
        let operand = |n: Node, plain: bool, at: usize| {
            match n {
            Node::Term { term, .. } if plain => Ok(term),
            _ => Err(self.err(
                at,
                "NEAR needs a word, prefix or phrase on each side; to scope it to a field write `title:(Lavrov NEAR/5 Kyrgyzstan)`",
            )),
        }
        };
        let left = operand(left, left_plain, left_at)?;
        let right = operand(right, right_plain, right_at)?;
        let next = self.peek().clone();
        if let Tok::Near(_) = next.tok {
            return Err(self.err(
                next.offset,
                "NEAR joins exactly two words or phrases, as in `Lavrov NEAR/5 Kyrgyzstan`; combine several with AND",
            ));
        }
        Ok(Node::Near {
            field: scope,
            left,
            right,
            distance,
        })
    }

    /// Returns the node and whether it was a bare word/prefix/phrase (a NEAR operand).
    fn parse_primary(&mut self, scope: Option<Field>) -> Result<(Node, bool), QueryError> {
        let prev = self.prev().cloned();
        let t = self.bump();
        match t.tok {
            Tok::LParen => Ok((self.parse_group(scope, t.offset)?, false)),
            Tok::Field(f) => {
                if let Some(outer) = scope {
                    return Err(self.err(
                        t.offset,
                        format!(
                            "field scopes cannot be nested: `{}:` is inside `{}:(…)`",
                            f.name(),
                            outer.name()
                        ),
                    ));
                }
                let next = self.bump();
                match next.tok {
                    Tok::LParen => Ok((self.parse_group(Some(f), next.offset)?, false)),
                    Tok::Bare(_) | Tok::Phrase(_) | Tok::Regex(..) => {
                        Ok((self.leaf(next, Some(f))?, false))
                    }
                    other => Err(self.err(
                        next.offset,
                        format!(
                            "expected a word, phrase, regex or `(` after `{}:`, found {}",
                            f.name(),
                            other.describe()
                        ),
                    )),
                }
            }
            Tok::Bare(_) | Tok::Phrase(_) => {
                let plain = true;
                Ok((self.leaf(t, scope)?, plain))
            }
            Tok::Regex(..) => Ok((self.leaf(t, scope)?, false)),
            other => Err(self.expected_term(prev, other, t.offset)),
        }
    }

    fn parse_group(&mut self, scope: Option<Field>, open: usize) -> Result<Node, QueryError> {
        self.enter(open)?;
        let n = self.parse_or(scope)?;
        self.depth -= 1;
        let t = self.peek().clone();
        if t.tok != Tok::RParen {
            let col = column(self.q, open);
            return Err(self.err(
                t.offset,
                format!("expected `)` to close the `(` at column {col}"),
            ));
        }
        self.bump();
        Ok(n)
    }

    fn expected_term(&self, prev: Option<Tok<'_>>, got: Tok<'_>, at: usize) -> QueryError {
        let op = match &prev {
            Some(p @ (Tok::And | Tok::Or | Tok::Not | Tok::Near(_))) => Some(p.describe()),
            _ => None,
        };
        let msg = match (&got, op) {
            (Tok::Eof, Some(op)) => format!("expected a term after {op}"),
            (Tok::Eof, None) => "expected a term after `(`".to_string(),
            (Tok::RParen, None) if prev == Some(Tok::LParen) => {
                "empty parentheses: expected a term inside `()`".to_string()
            }
            (Tok::RParen, None) => "unexpected `)`: there is no `(` for it to close".to_string(),
            (_, Some(op)) => format!("expected a term after {op}, found {}", got.describe()),
            (_, None) => format!("{} needs a term before it", got.describe()),
        };
        self.err(at, msg)
    }

    fn leaf(&self, t: Token<'_>, field: Option<Field>) -> Result<Node, QueryError> {
        let term = match t.tok {
            Tok::Bare(w) => {
                if let Some(body) = w.strip_suffix('*') {
                    let body = body.trim_end_matches('*');
                    let ws = text::words(body);
                    match <[String; 1]>::try_from(ws) {
                        Ok([p]) => Term::Prefix(p),
                        Err(_) => {
                            return Err(self.err(
                                t.offset,
                                format!("`{w}`: a prefix must be one word followed by `*`, as in `Kyrgyz*`"),
                            ));
                        }
                    }
                } else {
                    words_term(text::words(w)).ok_or_else(|| {
                        self.err(t.offset, format!("`{w}` has no letters or digits to match"))
                    })?
                }
            }
            Tok::Phrase(p) => {
                if p.contains('*') {
                    return Err(self.err(
                        t.offset,
                        "`*` does not work inside a phrase: it matches prefixes of single words, as in `Kyrgyz*`",
                    ));
                }
                words_term(text::words(p)).ok_or_else(|| {
                    self.err(
                        t.offset,
                        "empty phrase: put at least one word between the quotes",
                    )
                })?
            }
            Tok::Regex(source, ci) => {
                return Ok(Node::Regex {
                    field,
                    pattern: self.compile_regex(source, ci, t.offset)?,
                });
            }
            _ => return Err(self.err(t.offset, "expected a term")),
        };
        Ok(Node::Term { field, term })
    }

    fn compile_regex(&self, source: &str, ci: bool, at: usize) -> Result<Pattern, QueryError> {
        if source.is_empty() {
            return Err(self.err(
                at,
                "empty regex: put a pattern between the slashes, as in `/Kyrgyz(stan|ia)/`",
            ));
        }
        let built = RegexBuilder::new(source)
            .case_insensitive(ci)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build();
        match built {
            Ok(regex) => Ok(Pattern {
                source: source.to_string(),
                case_insensitive: ci,
                regex,
            }),
            Err(regex::Error::CompiledTooBig(_)) => Err(self.err(
                at,
                format!("regex is too large: it compiles to more than {} KiB; simplify it or split the rule", REGEX_SIZE_LIMIT / 1024),
            )),
            Err(e) => {
                let full = e.to_string();
                let why = full
                    .lines()
                    .find_map(|l| l.strip_prefix("error: "))
                    .unwrap_or("not valid Rust regex syntax");
                Err(self.err(at, format!("invalid regex: {why}")))
            }
        }
    }
}

fn words_term(mut ws: Vec<String>) -> Option<Term> {
    match ws.len() {
        0 => None,
        1 => ws.pop().map(Term::Word),
        _ => Some(Term::Phrase(ws)),
    }
}

fn push_flat(v: &mut Vec<Node>, n: Node, or: bool) {
    match n {
        Node::Or(kids) if or => v.extend(kids),
        Node::And(kids) if !or => v.extend(kids),
        n => v.push(n),
    }
}

fn collapse(mut v: Vec<Node>, make: fn(Vec<Node>) -> Node) -> Node {
    if v.len() == 1
        && let Some(n) = v.pop()
    {
        return n;
    }
    make(v)
}
