//! The lookup structures of the word index: a hash map with a fast string hasher and a
//! byte trie of prefixes.
//!
//! Every word of every item goes through both, so they favour speed over generality:
//! the trie answers "which rule prefixes does this word start with" in one walk instead
//! of one probe per prefix length.

use std::collections::HashMap;

pub(super) const NONE: u32 = u32::MAX;

/// Word keys are hashed with foldhash: several times cheaper than SipHash on short
/// strings (no per-byte loop, no copy of the tail), and its per-process random seed
/// still keeps the table layout unpredictable.
pub(super) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug, Clone)]
struct TrieNode {
    unit: u32,
    children: Vec<(u8, u32)>,
}

/// Byte trie of folded prefixes, each ending node carrying a unit id.
#[derive(Debug, Clone)]
pub(super) struct Trie {
    /// First byte → node, so the common miss costs one array read.
    root: Box<[u32; 256]>,
    nodes: Vec<TrieNode>,
}

impl Default for Trie {
    fn default() -> Trie {
        Trie {
            root: Box::new([NONE; 256]),
            nodes: Vec::new(),
        }
    }
}

impl Trie {
    pub(super) fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn new_node(&mut self) -> u32 {
        self.nodes.push(TrieNode {
            unit: NONE,
            children: Vec::new(),
        });
        (self.nodes.len() - 1) as u32
    }

    /// The unit of `prefix`, creating it with `make()` if new. Empty prefixes are ignored
    /// (the parser never produces them) and get [`NONE`].
    pub(super) fn insert(&mut self, prefix: &str, make: impl FnOnce() -> u32) -> u32 {
        let bytes = prefix.as_bytes();
        let Some((&first, rest)) = bytes.split_first() else {
            return NONE;
        };
        let mut n = self.root[usize::from(first)];
        if n == NONE {
            n = self.new_node();
            self.root[usize::from(first)] = n;
        }
        for &b in rest {
            let found = self.nodes[n as usize]
                .children
                .iter()
                .find(|(k, _)| *k == b)
                .map(|&(_, c)| c);
            n = match found {
                Some(c) => c,
                None => {
                    let c = self.new_node();
                    self.nodes[n as usize].children.push((b, c));
                    c
                }
            };
        }
        let node = &mut self.nodes[n as usize];
        if node.unit == NONE {
            node.unit = make();
        }
        node.unit
    }

    /// Calls `hit` with the unit of every stored prefix of `word`, shortest first.
    #[inline]
    pub(super) fn walk(&self, word: &str, mut hit: impl FnMut(u32)) {
        let bytes = word.as_bytes();
        let Some((&first, rest)) = bytes.split_first() else {
            return;
        };
        let mut n = self.root[usize::from(first)];
        if n == NONE {
            return;
        }
        let mut rest = rest.iter();
        loop {
            let node = &self.nodes[n as usize];
            if node.unit != NONE {
                hit(node.unit);
            }
            let Some(&b) = rest.next() else { return };
            match node.children.iter().find(|(k, _)| *k == b) {
                Some(&(_, c)) => n = c,
                None => return,
            }
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        256 * 4
            + self.nodes.capacity() * std::mem::size_of::<TrieNode>()
            + self
                .nodes
                .iter()
                .map(|n| n.children.capacity() * 8)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trie_reports_every_stored_prefix() {
        let mut t = Trie::default();
        let mut next = 0;
        let mut id = || {
            next += 1;
            next
        };
        let kyr = t.insert("kyr", &mut id);
        let kyrgyz = t.insert("kyrgyz", &mut id);
        let lav = t.insert("лав", &mut id);
        assert_eq!(t.insert("kyr", || 99), kyr);
        let walk = |w: &str| {
            let mut v = Vec::new();
            t.walk(w, |u| v.push(u));
            v
        };
        assert_eq!(walk("kyrgyzstan"), [kyr, kyrgyz]);
        assert_eq!(walk("kyrgy"), [kyr]);
        assert_eq!(walk("ky"), Vec::<u32>::new());
        assert_eq!(walk("лавров"), [lav]);
        assert_eq!(walk(""), Vec::<u32>::new());
    }
}
