//! A deliberately simple evaluator of one query against one document: recursive over the
//! tree, re-tokenizing every field for every term. It defines what a query means; the
//! compiled [`super::RuleSet`] is property-tested against it and the benchmark uses it
//! as a baseline. Not for production use: it is slow on purpose.

use super::{Document, Field, Node, Query, Term};
use crate::text;

/// Whether `q` matches `doc`.
pub fn matches(q: &Query, doc: &Document<'_>) -> bool {
    eval(q.root(), doc)
}

fn fields(field: &Option<Field>) -> &[Field] {
    match field {
        Some(f) => std::slice::from_ref(f),
        None => &Field::DEFAULT,
    }
}

fn values<'a>(field: &Option<Field>, doc: &Document<'a>) -> Vec<&'a str> {
    fields(field)
        .iter()
        .flat_map(|&f| doc.field_values(f))
        .collect()
}

fn eval(n: &Node, doc: &Document<'_>) -> bool {
    match n {
        Node::Term { field, term } => values(field, doc)
            .into_iter()
            .any(|t| !spans(term, &text::words(t)).is_empty()),
        Node::Near {
            field,
            left,
            right,
            distance,
        } => values(field, doc).into_iter().any(|t| {
            let ws = text::words(t);
            let (a, b) = (spans(left, &ws), spans(right, &ws));
            a.iter().any(|&(a0, a1)| {
                b.iter().any(|&(b0, b1)| {
                    let gap = if a1 < b0 {
                        b0 - a1 - 1
                    } else if b1 < a0 {
                        a0 - b1 - 1
                    } else {
                        return false;
                    };
                    gap <= *distance as usize
                })
            })
        }),
        Node::Regex { field, pattern } => values(field, doc)
            .into_iter()
            .any(|t| pattern.regex.is_match(t)),
        Node::And(v) => v.iter().all(|n| eval(n, doc)),
        Node::Or(v) => v.iter().any(|n| eval(n, doc)),
        Node::Not(n) => !eval(n, doc),
    }
}

/// First and last word position of every occurrence of `term` in `ws`.
fn spans(term: &Term, ws: &[String]) -> Vec<(usize, usize)> {
    match term {
        Term::Word(w) => (0..ws.len())
            .filter(|&i| ws[i] == *w)
            .map(|i| (i, i))
            .collect(),
        Term::Prefix(p) => (0..ws.len())
            .filter(|&i| ws[i].starts_with(p.as_str()))
            .map(|i| (i, i))
            .collect(),
        Term::Phrase(p) if p.is_empty() => Vec::new(),
        Term::Phrase(p) => ws
            .windows(p.len())
            .enumerate()
            .filter(|(_, w)| *w == p.as_slice())
            .map(|(i, _)| (i, i + p.len() - 1))
            .collect(),
    }
}
