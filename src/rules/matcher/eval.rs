//! Evaluating one compiled rule against the occurrences recorded by the scan, and
//! collecting the surface forms that made it match.

use super::{Expr, NONE, Operand, RuleSet, Scratch};
use crate::rules::Document;

/// A match of a term: field value (slot), first and last word position (inclusive).
/// For regex matches `first..last` is a byte range instead (see [`Surface`]).
type Span = (u32, u32, u32);

/// Where a matched surface form sits: slot and byte range in that slot's text.
type Surface = (u32, usize, usize);

pub(super) struct Ctx<'s, 'd> {
    pub(super) set: &'s RuleSet,
    pub(super) sc: &'s mut Scratch,
    pub(super) doc: &'s Document<'d>,
}

impl Ctx<'_, '_> {
    pub(super) fn eval(&mut self, e: &Expr) -> bool {
        match e {
            Expr::Term { op, mask } => self.occurs(op, *mask),
            Expr::Near {
                a,
                b,
                distance,
                mask,
            } => {
                self.occurs(a, *mask)
                    && self.occurs(b, *mask)
                    && !self.near_pairs(a, b, *distance, *mask, true).is_empty()
            }
            Expr::Regex(id) => self.regex_matches(*id),
            Expr::And(v) => v.iter().all(|e| self.eval(e)),
            Expr::Or(v) => v.iter().any(|e| self.eval(e)),
            Expr::Not(e) => !self.eval(e),
        }
    }

    fn unit_mask(&self, u: u32) -> u8 {
        self.sc.unit_mask.get(u as usize).copied().unwrap_or(0)
    }

    fn occurs(&self, op: &Operand, mask: u8) -> bool {
        match op {
            Operand::Word(u) | Operand::Prefix(u) => self.unit_mask(*u) & mask != 0,
            Operand::Phrase { pair_unit, .. } => {
                if self.unit_mask(*pair_unit) & mask == 0 {
                    return false;
                }
                let mut found = false;
                self.each_span(op, mask, |_| {
                    found = true;
                    false
                });
                found
            }
        }
    }

    /// Occurrences of a unit within the fields of `mask`, as (slot, position).
    fn occurrences(&self, u: u32, mask: u8) -> impl Iterator<Item = (u32, u32)> + '_ {
        let sc = &*self.sc;
        let mut at = sc.unit_head.get(u as usize).copied().unwrap_or(NONE);
        std::iter::from_fn(move || {
            while at != NONE {
                let o = sc.occ[at as usize];
                at = o.next;
                if sc.slots[o.slot as usize].field.bit() & mask != 0 {
                    return Some((o.slot, o.pos));
                }
            }
            None
        })
    }

    /// Where `op` occurs in the fields of `mask`; with `first_only`, stops at the first.
    fn spans(&self, op: &Operand, mask: u8, first_only: bool) -> Vec<Span> {
        let mut out = Vec::new();
        self.each_span(op, mask, |s| {
            out.push(s);
            !first_only
        });
        out
    }

    /// Calls `f` with each occurrence of `op` in the fields of `mask` until it returns
    /// false.
    fn each_span(&self, op: &Operand, mask: u8, mut f: impl FnMut(Span) -> bool) {
        match op {
            Operand::Word(u) | Operand::Prefix(u) => {
                for (slot, pos) in self.occurrences(*u, mask) {
                    if !f((slot, pos, pos)) {
                        return;
                    }
                }
            }
            Operand::Phrase {
                pair_unit,
                pair_at,
                words,
            } => {
                let n = words.len();
                let sc = &*self.sc;
                for (slot, pos) in self.occurrences(*pair_unit, mask) {
                    let s = &sc.slots[slot as usize];
                    let Some(first) = (pos as usize).checked_sub(*pair_at) else {
                        continue;
                    };
                    if s.words == NONE || first < s.start as usize || first + n > s.end as usize {
                        continue;
                    }
                    let at = s.words as usize + (first - s.start as usize);
                    // Every word, the pair's too: its hash may be another pair's.
                    let all = words
                        .iter()
                        .enumerate()
                        .all(|(i, w)| sc.folded_word(at + i) == &w[..]);
                    if all && !f((slot, first as u32, (first + n - 1) as u32)) {
                        return;
                    }
                }
            }
        }
    }

    /// Pairs of occurrences of `a` and `b` in one field value with at most `distance`
    /// words between them, either order, not overlapping.
    fn near_pairs(
        &self,
        a: &Operand,
        b: &Operand,
        distance: u32,
        mask: u8,
        first_only: bool,
    ) -> Vec<(Span, Span)> {
        let sa = self.spans(a, mask, false);
        let sb = self.spans(b, mask, false);
        let mut out = Vec::new();
        for &x in &sa {
            for &y in &sb {
                if x.0 == y.0 && within(x, y, distance) {
                    out.push((x, y));
                    if first_only {
                        return out;
                    }
                }
            }
        }
        out
    }

    fn regex_matches(&mut self, id: u32) -> bool {
        match self.sc.regex_state.get(id as usize) {
            Some(0) => {}
            Some(&state) => return state == 2,
            None => return false,
        }
        let Some(term) = self.set.regexes.get(id as usize) else {
            return false;
        };
        if term.unit != NONE && self.unit_mask(term.unit) & term.mask == 0 {
            // None of its required literals occurs in its fields.
            return false;
        }
        if let Some(group) = self.set.regex_groups.get(term.group as usize)
            && let Some(set) = &group.set
        {
            self.run_group(set, group.mask, &group.members);
            return self.sc.regex_state.get(id as usize) == Some(&2);
        }
        let found = self.values(term.mask).any(|t| term.regex.is_match(t));
        self.sc.regex_state[id as usize] = if found { 2 } else { 1 };
        self.sc.regex_touched.push(id);
        found
    }

    /// The document's field values in `mask` that were scanned.
    fn values(&self, mask: u8) -> impl Iterator<Item = &str> + '_ {
        self.sc
            .slots
            .iter()
            .filter(move |s| s.field.bit() & mask != 0)
            .filter_map(|s| self.doc.field_value(s.field, s.index as usize))
    }

    /// Runs a whole group at once and records the result of each member.
    fn run_group(&mut self, set: &regex::RegexSet, mask: u8, members: &[u32]) {
        let mut hits = vec![false; members.len()];
        for t in self.values(mask) {
            for i in set.matches(t).iter() {
                if let Some(h) = hits.get_mut(i) {
                    *h = true;
                }
            }
        }
        for (&m, hit) in members.iter().zip(hits) {
            if let Some(st) = self.sc.regex_state.get_mut(m as usize) {
                *st = if hit { 2 } else { 1 };
                self.sc.regex_touched.push(m);
            }
        }
    }

    /// The surface forms of the positive terms that occur, deduplicated by their folded
    /// form, in document order.
    pub(super) fn matched(&mut self, e: &Expr) -> Vec<String> {
        // The scratch buffers, reused from rule to rule and item to item.
        let mut found = std::mem::take(&mut self.sc.surfaces);
        let mut keys = std::mem::take(&mut self.sc.surface_keys);
        let mut ends = std::mem::take(&mut self.sc.surface_ends);
        found.clear();
        self.collect(e, &mut found, true);
        found.sort_unstable();
        found.dedup();
        keys.clear();
        let mut out = Vec::with_capacity(found.len());
        // Few surfaces per rule: a linear scan of the folded ones beats hashing. One
        // alone (a rule of one term, occurring once) needs no folding.
        ends.clear();
        let single = found.len() == 1;
        for &(slot, start, end) in &found {
            let Some(s) = self.sc.slots.get(slot as usize) else {
                continue;
            };
            let Some(text) = self.doc.field_value(s.field, s.index as usize) else {
                continue;
            };
            let Some(surface) = text.get(start..end) else {
                continue;
            };
            if single {
                out.push(surface.to_string());
                continue;
            }
            let from = keys.len();
            crate::text::fold_into(surface, &mut keys);
            let key = &keys[from..];
            let mut at = 0;
            let seen = ends.iter().any(|&e| {
                let same = keys.get(at..e) == Some(key);
                at = e;
                same
            });
            if seen {
                keys.truncate(from);
            } else {
                ends.push(keys.len());
                out.push(surface.to_string());
            }
        }
        self.sc.surfaces = found;
        self.sc.surface_keys = keys;
        self.sc.surface_ends = ends;
        out
    }

    fn collect(&mut self, e: &Expr, out: &mut Vec<Surface>, positive: bool) {
        match e {
            // What a rule must not contain is never reported as matched.
            Expr::Not(e) => self.collect(e, out, !positive),
            Expr::And(v) | Expr::Or(v) => {
                for e in v.iter() {
                    self.collect(e, out, positive);
                }
            }
            _ if !positive => {}
            Expr::Term { op, mask } => {
                self.each_span(op, *mask, |s| {
                    out.push(self.surface(s));
                    true
                });
            }
            Expr::Near {
                a,
                b,
                distance,
                mask,
            } => {
                for (x, y) in self.near_pairs(a, b, *distance, *mask, false) {
                    out.push(self.surface(x));
                    out.push(self.surface(y));
                }
            }
            Expr::Regex(id) => {
                if !self.regex_matches(*id) {
                    return;
                }
                let Some(term) = self.set.regexes.get(*id as usize) else {
                    return;
                };
                for (i, s) in self.sc.slots.iter().enumerate() {
                    if s.field.bit() & term.mask == 0 {
                        continue;
                    }
                    let Some(text) = self.doc.field_value(s.field, s.index as usize) else {
                        continue;
                    };
                    for m in term.regex.find_iter(text) {
                        if !m.is_empty() {
                            out.push((i as u32, m.start(), m.end()));
                        }
                    }
                }
            }
        }
    }

    fn surface(&self, (slot, first, last): Span) -> Surface {
        let at = |p: u32| self.sc.span_at.get(p as usize).copied().unwrap_or((0, 0));
        (slot, at(first).0 as usize, at(last).1 as usize)
    }
}

/// `x` and `y` do not overlap and have at most `distance` words between them.
pub(crate) fn within(x: Span, y: Span, distance: u32) -> bool {
    let (_, x0, x1) = x;
    let (_, y0, y1) = y;
    (x1 < y0 && y0 - x1 - 1 <= distance) || (y1 < x0 && x0 - y1 - 1 <= distance)
}
