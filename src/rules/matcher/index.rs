//! The lookup structures of the word index: a hash map with a fast string hasher and a
//! byte trie of prefixes.
//!
//! Every word of every item goes through both, so they favour speed over generality:
//! the trie answers "which rule prefixes does this word start with" in one walk instead
//! of one probe per prefix length.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

pub(super) const NONE: u32 = u32::MAX;

/// Word keys are hashed with foldhash: several times cheaper than SipHash on short
/// strings (no per-byte loop, no copy of the tail), and its per-process random seed
/// still keeps the table layout unpredictable.
pub(super) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The word map as the scan uses it: every word of every item is looked up, and most
/// are in no rule. Each word is hashed once (length and up to 8 first and last bytes,
/// read as fixed-size words, so no loop and no `memcpy`); one load from a 16 KiB bit
/// table, which stays in cache, rejects most misses, and only the rest probe the map,
/// keyed by that same hash. Words that share a hash are told apart by comparing them.
#[derive(Debug, Clone)]
pub(super) struct WordIndex {
    bits: Box<[u64]>,
    map: HashMap<u64, Box<[Entry]>, BuildHasherDefault<Premixed>>,
}

/// A word, its unit and whether its occurrences are recorded.
type Entry = (Box<str>, u32, bool);

const FILTER_LOG: u32 = 17;

/// Hasher for keys that are already well-mixed hashes.
#[derive(Default)]
pub(super) struct Premixed(u64);

impl Hasher for Premixed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, h: u64) {
        self.0 = h;
    }
}

impl WordIndex {
    /// The index of `words` (folded word → (unit, whether its occurrences are recorded)).
    pub(super) fn new<'a>(words: impl IntoIterator<Item = (&'a str, (u32, bool))>) -> WordIndex {
        let mut bits = vec![0u64; (1 << FILTER_LOG) / 64].into_boxed_slice();
        let mut by_hash: HashMap<u64, Vec<Entry>> = HashMap::new();
        for (w, (u, record)) in words {
            let h = word_hash(w.as_bytes());
            let k = filter_bit(h);
            if let Some(b) = bits.get_mut(k / 64) {
                *b |= 1 << (k % 64);
            }
            by_hash.entry(h).or_default().push((w.into(), u, record));
        }
        let mut map = HashMap::with_capacity_and_hasher(by_hash.len(), Default::default());
        map.extend(by_hash.into_iter().map(|(h, v)| (h, v.into_boxed_slice())));
        WordIndex { bits, map }
    }

    /// The unit of `w` and whether its occurrences are recorded.
    #[inline]
    pub(super) fn get(&self, w: &[u8]) -> Option<(u32, bool)> {
        let h = word_hash(w);
        let k = filter_bit(h);
        if self
            .bits
            .get(k / 64)
            .is_none_or(|b| b & (1 << (k % 64)) == 0)
        {
            return None;
        }
        let entries = self.map.get(&h)?;
        entries
            .iter()
            .find(|e| e.0.as_bytes() == w)
            .map(|&(_, u, record)| (u, record))
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.bits.len() * 8
            + self.map.capacity() * (std::mem::size_of::<(u64, Box<[Entry]>)>() + 1)
            + self
                .map
                .values()
                .flat_map(|v| v.iter())
                .map(|e| std::mem::size_of_val(e) + e.0.len())
                .sum::<usize>()
    }
}

#[inline]
fn filter_bit(h: u64) -> usize {
    (h >> (64 - FILTER_LOG)) as usize
}

/// A hash of the word's length and its first and last bytes (up to 8 of each).
#[inline]
fn word_hash(w: &[u8]) -> u64 {
    let n = w.len();
    let (a, b) = if n >= 8 {
        (le64(w, 0), le64(w, n - 8))
    } else if n >= 4 {
        (u64::from(le32(w, 0)), u64::from(le32(w, n - 4)))
    } else if n > 0 {
        let x = u64::from(w[0]) | u64::from(w[n / 2]) << 8 | u64::from(w[n - 1]) << 16;
        (x, 0)
    } else {
        (0, 0)
    };
    let h = (a ^ b.rotate_left(29) ^ (n as u64) << 56).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let h = (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

#[inline]
fn le64(w: &[u8], at: usize) -> u64 {
    w.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

#[inline]
fn le32(w: &[u8], at: usize) -> u32 {
    w.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

#[derive(Debug, Clone)]
struct TrieNode {
    unit: u32,
    children: Vec<(u8, u32)>,
}

/// Byte trie of folded prefixes, each ending node carrying a unit id, with a filter
/// in front: most words start with no stored prefix, and most of those are turned
/// away by one bit test on their first few bytes (their *key*) without a walk.
#[derive(Debug, Clone)]
pub(super) struct Trie {
    /// First byte → node.
    root: Box<[u32; 256]>,
    /// First byte → whether some prefix starting with it is shorter than a key, so
    /// that every word starting with that byte is walked.
    short: Box<[bool; 256]>,
    /// Bit set of the keys of the other prefixes.
    keys: Box<[u64]>,
    nodes: Vec<TrieNode>,
}

const KEY_BITS_LOG: u32 = 16;

/// Bytes in the key of a word or prefix starting with `first`: three ASCII letters,
/// or two Cyrillic ones (as many bytes of other scripts).
#[inline]
fn key_len(first: u8) -> usize {
    if first < 0x80 { 3 } else { 4 }
}

/// The filter bit of a key (3 or 4 bytes).
#[inline]
fn key_bit(key: &[u8]) -> usize {
    let x = key
        .iter()
        .rev()
        .fold(key.len() as u64, |acc, &b| acc << 8 | u64::from(b));
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - KEY_BITS_LOG)) as usize
}

impl Default for Trie {
    fn default() -> Trie {
        Trie {
            root: Box::new([NONE; 256]),
            short: Box::new([false; 256]),
            keys: vec![0u64; (1 << KEY_BITS_LOG) / 64].into_boxed_slice(),
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
        match bytes.get(..key_len(first)) {
            Some(key) => {
                let k = key_bit(key);
                if let Some(b) = self.keys.get_mut(k / 64) {
                    *b |= 1 << (k % 64);
                }
            }
            None => self.short[usize::from(first)] = true,
        }
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
    pub(super) fn walk(&self, bytes: &[u8], mut hit: impl FnMut(u32)) {
        let Some((&first, rest)) = bytes.split_first() else {
            return;
        };
        if !self.short[usize::from(first)] {
            // Only prefixes at least a key long can start this word: its key must be
            // one of theirs.
            let Some(key) = bytes.get(..key_len(first)) else {
                return;
            };
            let k = key_bit(key);
            if self
                .keys
                .get(k / 64)
                .is_none_or(|b| b & (1 << (k % 64)) == 0)
            {
                return;
            }
        }
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
        256 * 5
            + self.keys.len() * 8
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
    fn word_index_finds_exactly_its_words() {
        // Long words sharing their first and last 8 bytes and length share a hash.
        let words = [
            "",
            "a",
            "в",
            "csto",
            "kyrgyz",
            "kyrgyzstan",
            "лавров",
            "ab",
            "abcdefg",
            "abcdefgh1xyzwvuts",
            "abcdefgh2xyzwvuts",
        ];
        let idx = WordIndex::new(
            words
                .iter()
                .enumerate()
                .map(|(i, w)| (*w, (i as u32, i % 2 == 0))),
        );
        for (i, w) in words.iter().enumerate() {
            assert_eq!(idx.get(w.as_bytes()), Some((i as u32, i % 2 == 0)), "{w:?}");
        }
        for w in [
            "the",
            "minister",
            "министр",
            "kyrgyzstans",
            "abcdefgh3xyzwvuts",
            "b",
        ] {
            assert_eq!(idx.get(w.as_bytes()), None, "{w:?}");
        }
    }

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
        let walk_in = |t: &Trie, w: &str| {
            let mut v = Vec::new();
            t.walk(w.as_bytes(), |u| v.push(u));
            v
        };
        let walk = |w: &str| walk_in(&t, w);
        assert_eq!(walk("kyrgyzstan"), [kyr, kyrgyz]);
        assert_eq!(walk("kyrgy"), [kyr]);
        assert_eq!(walk("ky"), Vec::<u32>::new());
        assert_eq!(walk("лавров"), [lav]);
        assert_eq!(walk("лаванда"), [lav]);
        assert_eq!(walk("лавка"), [lav]);
        assert_eq!(walk("лава"), [lav]);
        assert_eq!(walk("ла"), Vec::<u32>::new());
        assert_eq!(walk("лев"), Vec::<u32>::new());
        assert_eq!(walk(""), Vec::<u32>::new());
        // Prefixes shorter than a key: every word with their first byte is walked.
        let mut t = t.clone();
        let walk = |t: &Trie, w: &str| walk_in(t, w);
        let k = t.insert("k", &mut id);
        let ky = t.insert("ky", &mut id);
        let l = t.insert("л", &mut id);
        assert_eq!(walk(&t, "kyrgyzstan"), [k, ky, kyr, kyrgyz]);
        assert_eq!(walk(&t, "ky"), [k, ky]);
        assert_eq!(walk(&t, "kazakh"), [k]);
        assert_eq!(walk(&t, "лавров"), [l, lav]);
        assert_eq!(walk(&t, "л"), [l]);
        assert_eq!(walk(&t, "the"), Vec::<u32>::new());
    }
}
