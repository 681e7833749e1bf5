//! Entities a document declares in its DOCTYPE's internal subset, expanded under a budget.
//!
//! feed-rs leaves references to declared entities unexpanded, which would show `&org;`
//! to the reader; real feeds occasionally declare a few. Internal entities are expanded
//! here as text, nested references included, until the whole document's expansion reaches
//! [`EXPANSION_LIMIT`]: past that the document is refused, which is what stops "billion
//! laughs". External entities (`SYSTEM`/`PUBLIC`) and parameter entities are never read,
//! from a file or the network: a reference to one stays literal text.

use std::collections::HashMap;

use super::ParseError;
use crate::html::{named_entity, numeric_char};

/// Bytes that entity expansion may add to one document.
pub const EXPANSION_LIMIT: usize = 1 << 20;
/// Entities referring to entities referring to ...: deeper than this is refused.
const MAX_NESTING: usize = 16;

enum Entity {
    Internal(String),
    External,
}

/// The general entities declared in a DOCTYPE, and what expanding them has cost so far.
#[derive(Default)]
pub struct Entities {
    map: HashMap<String, Entity>,
    spent: usize,
}

impl Entities {
    /// Reads the `<!ENTITY name "value">` declarations of `doctype` (the whole
    /// `<!DOCTYPE ...>`). The first declaration of a name binds, as in XML.
    pub fn declared(doctype: &str) -> Entities {
        let mut map = HashMap::new();
        let Some(open) = doctype.find('[') else {
            return Entities::default();
        };
        let mut rest = &doctype[open + 1..];
        while let Some(at) = rest.find("<!") {
            rest = &rest[at..];
            if let Some(after) = rest.strip_prefix("<!--") {
                rest = after.find("-->").map_or("", |e| &after[e + 3..]);
                continue;
            }
            let Some(decl) = rest.strip_prefix("<!ENTITY") else {
                rest = &rest[2..];
                continue;
            };
            let (entity, after) = declaration(decl);
            if let Some((name, value)) = entity {
                map.entry(name).or_insert(value);
            }
            rest = after;
        }
        Entities { map, spent: 0 }
    }

    /// The XML-escaped expansion of `&name;`, `Ok(None)` when the document declares no
    /// internal entity `name`.
    pub fn expand(&mut self, name: &str) -> Result<Option<String>, ParseError> {
        if !matches!(self.map.get(name), Some(Entity::Internal(_))) {
            return Ok(None);
        }
        let mut text = String::new();
        let mut stack = Vec::new();
        self.expand_into(name, name, &mut text, &mut stack)?;
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                _ => out.push(c),
            }
        }
        Ok(Some(out))
    }

    fn expand_into<'a>(
        &'a self,
        top: &str,
        name: &'a str,
        out: &mut String,
        stack: &mut Vec<&'a str>,
    ) -> Result<(), ParseError> {
        let Some(Entity::Internal(value)) = self.map.get(name) else {
            // External or undeclared: literal text, never fetched.
            return self.push(top, out, &format!("&{name};"));
        };
        if stack.contains(&name) || stack.len() >= MAX_NESTING {
            return Err(ParseError::Malformed {
                detail: format!(
                    "the document's DTD declares entity `{name}` in terms of itself or nests \
                     entities more than {MAX_NESTING} deep; the feed cannot be read safely"
                ),
            });
        }
        stack.push(name);
        let mut rest = value.as_str();
        while let Some(at) = rest.find('&') {
            self.push(top, out, &rest[..at])?;
            rest = &rest[at..];
            let end = rest.find(';').filter(|e| *e > 1 && *e < 40);
            let Some(end) = end else {
                self.push(top, out, "&")?;
                rest = &rest[1..];
                continue;
            };
            let reference = &rest[1..end];
            rest = &rest[end + 1..];
            if let Some(num) = reference.strip_prefix('#') {
                let value = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16),
                    None => num.parse(),
                };
                let c = value.map_or('\u{FFFD}', numeric_char);
                self.push(top, out, c.encode_utf8(&mut [0; 4]))?;
            } else if let Some(c) = predefined(reference) {
                self.push(top, out, c)?;
            } else if self.map.contains_key(reference) {
                self.expand_into(top, reference, out, stack)?;
            } else if let Some(v) = named_entity(reference) {
                self.push(top, out, v)?;
            } else {
                self.push(top, out, &format!("&{reference};"))?;
            }
        }
        stack.pop();
        self.push(top, out, rest)
    }

    /// Appends `s`, charging the document's budget. `&self`: the cost is tracked in `out`
    /// and settled by the caller, so the recursion needs no mutable borrow.
    fn push(&self, top: &str, out: &mut String, s: &str) -> Result<(), ParseError> {
        if self.spent + out.len() + s.len() > EXPANSION_LIMIT {
            return Err(ParseError::Malformed {
                detail: format!(
                    "the document's DTD declares entities (`{top}` among them) that expand to \
                     more than {} KiB of text, an entity-expansion (\"billion laughs\") \
                     attack or a broken feed; it was not read",
                    EXPANSION_LIMIT / 1024
                ),
            });
        }
        out.push_str(s);
        Ok(())
    }

    /// Records the cost of an expansion the caller inserted.
    pub fn charge(&mut self, bytes: usize) {
        self.spent += bytes;
    }
}

fn predefined(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => return None,
    })
}

/// Reads one declaration after `<!ENTITY`: the entity (None for a parameter entity or a
/// malformed one) and the text after the declaration.
fn declaration(decl: &str) -> (Option<(String, Entity)>, &str) {
    let skip_to_end = |s: &str| -> usize { s.find('>').map_or(s.len(), |e| e + 1) };
    let body = decl.trim_start();
    if body.starts_with('%') {
        return (None, &decl[skip_to_end(decl)..]);
    }
    let name_len = body
        .find(|c: char| c.is_whitespace() || c == '>' || c == '"' || c == '\'')
        .unwrap_or(body.len());
    let name = &body[..name_len];
    let after_name = body[name_len..].trim_start();
    let consumed = decl.len() - after_name.len();
    if name.is_empty() {
        return (None, &decl[consumed..]);
    }
    match after_name.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let Some(len) = after_name[1..].find(q) else {
                return (None, "");
            };
            let value = after_name[1..1 + len].to_string();
            let tail = &after_name[1 + len + 1..];
            (
                Some((name.to_string(), Entity::Internal(value))),
                &tail[skip_to_end(tail)..],
            )
        }
        _ => {
            // SYSTEM "uri" or PUBLIC "id" "uri": skip the quoted literals, which may hold `>`.
            let mut i = 0;
            let b = after_name.as_bytes();
            while i < b.len() && b[i] != b'>' {
                if b[i] == b'"' || b[i] == b'\'' {
                    let q = b[i];
                    i += 1;
                    while i < b.len() && b[i] != q {
                        i += 1;
                    }
                }
                i += 1;
            }
            let end = (i + 1).min(after_name.len());
            (
                Some((name.to_string(), Entity::External)),
                &after_name[end..],
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_table() {
        let dtd = "<!DOCTYPE rss [\
            <!-- <!ENTITY hidden \"no\"> -->\
            <!ENTITY org \"ODKB &amp; CSTO\">\
            <!ENTITY org \"second declaration loses\">\
            <!ENTITY who 'Lavrov, &org;&#32;&mdash; &#x41;'>\
            <!ENTITY lt2 \"a<b\">\
            <!ENTITY % param \"p\">\
            <!ENTITY ext SYSTEM \"file:///etc/passwd\">\
            <!ENTITY pub PUBLIC \"-//X//>\" \"http://127.0.0.1/x\">\
            <!ENTITY self \"&self;\">\
            <!ENTITY loose \"&ext; &unknown; & done\">\
        ]>";
        let cases: &[(&str, Option<&str>)] = &[
            ("org", Some("ODKB &amp; CSTO")),
            ("who", Some("Lavrov, ODKB &amp; CSTO \u{2014} A")),
            ("lt2", Some("a&lt;b")),
            ("hidden", None),
            ("param", None),
            ("ext", None),
            ("pub", None),
            ("nope", None),
            ("loose", Some("&amp;ext; &amp;unknown; &amp; done")),
        ];
        for (name, want) in cases {
            let mut e = Entities::declared(dtd);
            assert_eq!(e.expand(name).ok().flatten().as_deref(), *want, "{name}");
        }
        let mut e = Entities::declared(dtd);
        assert!(e.expand("self").is_err());
    }
}
