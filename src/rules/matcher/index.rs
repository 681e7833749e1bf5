//! The lookup structures of the word index: an open-addressing table of word keys and
//! a byte trie of prefixes.
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

/// The word map as the scan uses it: every word of every item is looked up, and most
/// are in no rule. Each word is reduced once to a *key*: its length and up to 8 first
/// and last bytes, read as fixed-size words (no loop, no `memcpy`). Up to 16 bytes the
/// key is the word itself (those bytes cover it), so a lookup compares two integers and
/// a length, never strings; longer words also compare their bytes. One load from a bit
/// table (16 bits per word, so 2 KiB for 1,000 words: it stays in cache) rejects most
/// misses; the rest probe an open-addressing table of keys (linear probing, at most
/// half full).
#[derive(Debug, Clone)]
pub(super) struct WordIndex {
    bits: Box<[u64]>,
    /// [`filter_shift`] of the filter's size.
    filter_shift: u32,
    slots: Box<[Slot]>,
    /// The bytes of the words longer than [`INLINE`], one after the other.
    long: Box<[u8]>,
}

/// Words up to this many bytes are told apart by their key alone.
const INLINE: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Slot {
    key: Key,
    /// The word's unit, or NONE for an empty slot.
    unit: u32,
    /// Where a long word's bytes start in `long`.
    long_at: u32,
}

/// A word's length and its first and last bytes (up to 8 of each): computed once per
/// word of an item, for both the word and the prefix lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Key {
    first: u64,
    last: u64,
    len: u32,
}

const EMPTY: Slot = Slot {
    key: Key {
        first: 0,
        last: 0,
        len: 0,
    },
    unit: NONE,
    long_at: 0,
};

impl WordIndex {
    /// The index of `words` (folded word → unit).
    pub(super) fn new<'a>(words: impl IntoIterator<Item = (&'a str, u32)>) -> WordIndex {
        let words: Vec<(&str, u32)> = words.into_iter().collect();
        let log = filter_log(words.len(), 10, 17);
        let bits = bit_table(
            log,
            words
                .iter()
                .map(|(w, _)| filter_bit(Key::of(w.as_bytes()).hash(), log)),
        );
        let size = (words.len() * 2).next_power_of_two().max(16);
        let mut slots = vec![EMPTY; size].into_boxed_slice();
        let mut long = Vec::new();
        for (w, unit) in words {
            let w = w.as_bytes();
            let key = Key::of(w);
            let h = hash(key);
            let long_at = long.len() as u32;
            if w.len() > INLINE {
                long.extend_from_slice(w);
            }
            let mut i = slot_of(h) & (size - 1);
            while slots[i].unit != NONE {
                i = (i + 1) & (size - 1);
            }
            slots[i] = Slot { key, unit, long_at };
        }
        WordIndex {
            bits,
            filter_shift: filter_shift(log),
            slots,
            long: long.into_boxed_slice(),
        }
    }

    /// The unit of `w`, whose key is `key` and hash `h` ([`Key::hash`]).
    #[inline]
    pub(super) fn get(&self, key: &Key, h: u64, w: &[u8]) -> Option<u32> {
        let key = *key;
        let k = (h >> self.filter_shift) as usize;
        if self
            .bits
            .get(k / 64)
            .is_none_or(|b| b & (1 << (k % 64)) == 0)
        {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = slot_of(h) & mask;
        loop {
            let s = self.slots.get(i)?;
            if s.unit == NONE {
                return None;
            }
            if s.key == key
                && (w.len() <= INLINE || self.long_word(s).is_some_and(|l| eq_long(l, w)))
            {
                return Some(s.unit);
            }
            i = (i + 1) & mask;
        }
    }

    fn long_word(&self, s: &Slot) -> Option<&[u8]> {
        let at = s.long_at as usize;
        self.long.get(at..at + s.key.len as usize)
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.bits.len() * 8 + std::mem::size_of_val(&*self.slots) + self.long.len()
    }
}

/// `a == b` for slices of more than 8 bytes, 8 bytes at a time, without a call.
#[inline]
fn eq_long(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() || n < 8 {
        return a == b;
    }
    let mut i = 0;
    while i + 8 <= n {
        if le64(a, i) != le64(b, i) {
            return false;
        }
        i += 8;
    }
    le64(a, n - 8) == le64(b, n - 8)
}

/// The table slot a hash starts probing at (before masking to the table's size).
#[inline]
fn slot_of(h: u64) -> usize {
    (h >> 32) as usize
}

/// The bit of hash `h` in a filter of 2^`log` bits: its top `log` bits.
#[inline]
fn filter_bit(h: u64, log: u32) -> usize {
    (h >> filter_shift(log)) as usize
}

/// The shift that keeps the top `log` bits, stored by the filters so that a lookup
/// needs no subtraction.
const fn filter_shift(log: u32) -> u32 {
    64 - log
}

impl Key {
    /// The key of a word: for up to 16 bytes, the first and last 8 (or 4, or for 1 to
    /// 3 bytes the first, middle and last) cover every byte, so equal keys are equal
    /// words.
    #[inline]
    pub(super) fn of(w: &[u8]) -> Key {
        key(w)
    }

    /// A well-mixed hash of the key.
    #[inline]
    pub(super) fn hash(&self) -> u64 {
        hash(*self)
    }

    /// The word's first 8 bytes as a little-endian number, zero-padded ([`head8`]),
    /// from the bytes the key holds: for 4 to 7 bytes the first and last 4 overlap.
    #[inline]
    fn head(&self, w: &[u8]) -> u64 {
        match self.len {
            8.. => self.first,
            n @ 4..=7 => {
                let shifted = self.last << (8 * (n - 4));
                (self.first | shifted) & ((1u64 << (8 * n)) - 1)
            }
            _ => head8(w),
        }
    }

    /// The word's prefix key (see [`prefix_key`]), from its [`Key::head`].
    #[inline]
    fn prefix_key(&self, head: u64) -> Option<u64> {
        match self.len {
            4.. if head & 0x80 == 0 => Some(head & PREFIX_KEY_ASCII),
            6.. => Some(head & PREFIX_KEY_OTHER),
            _ => None,
        }
    }
}

#[inline]
fn key(w: &[u8]) -> Key {
    let n = w.len();
    let (first, last) = if n >= 8 {
        (le64(w, 0), le64(w, n - 8))
    } else if n >= 4 {
        (u64::from(le32(w, 0)), u64::from(le32(w, n - 4)))
    } else if n > 0 {
        let x = u64::from(w[0]) | u64::from(w[n / 2]) << 8 | u64::from(w[n - 1]) << 16;
        (x, 0)
    } else {
        (0, 0)
    };
    Key {
        first,
        last,
        len: n as u32,
    }
}

#[inline]
fn hash(k: Key) -> u64 {
    // One multiply: its upper half depends on every input bit, and only the upper
    // half is used (the filters take the top bits, the table the upper 32).
    (k.first ^ k.last.rotate_left(29) ^ u64::from(k.len) << 56).wrapping_mul(0x9e37_79b9_7f4a_7c15)
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

/// Consecutive word pairs of phrases, by the hash of the two words' hashes: what
/// wakes a phrase (`"Tokarov security"` is woken by the pair, not by every
/// `security`). A hit is only a hint: the phrase is then verified word by word, so
/// pairs that share a hash cost a failed verification, never a wrong match.
#[derive(Debug, Clone)]
pub(super) struct PairIndex {
    bits: Box<[u64]>,
    /// [`filter_shift`] of the filter's size.
    shift: u32,
    units: FastMap<u64, Box<[u32]>>,
}

/// The hash of the word pair whose words hash to `a` and `b`, in that order.
#[inline]
pub(super) fn pair_hash(a: u64, b: u64) -> u64 {
    (a.rotate_left(23) ^ b).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl PairIndex {
    /// The index of `pairs` (first word, second word, unit), words folded.
    pub(super) fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str, u32)>) -> PairIndex {
        let mut units: FastMap<u64, Vec<u32>> = FastMap::default();
        for (a, b, unit) in pairs {
            let h = |w: &str| Key::of(w.as_bytes()).hash();
            units.entry(pair_hash(h(a), h(b))).or_default().push(unit);
        }
        let log = filter_log(units.len(), 6, 16);
        let bits = bit_table(log, units.keys().map(|&h| filter_bit(h, log)));
        let units = units
            .into_iter()
            .map(|(h, v)| (h, v.into_boxed_slice()))
            .collect();
        PairIndex {
            bits,
            shift: filter_shift(log),
            units,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// The units of the pairs that hash to `h` ([`pair_hash`]).
    #[inline]
    pub(super) fn get(&self, h: u64) -> &[u32] {
        let k = (h >> self.shift) as usize;
        if self
            .bits
            .get(k / 64)
            .is_none_or(|w| w & (1 << (k % 64)) == 0)
        {
            return &[];
        }
        self.units.get(&h).map_or(&[], |u| &u[..])
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.bits.len() * 8
            + self.units.capacity() * 24
            + self.units.values().map(|v| v.len() * 4).sum::<usize>()
    }
}

/// The prefixes of `prefix*` terms, with a filter in front: most words start with no
/// stored prefix, and most of those are turned away by one bit test on their first
/// few bytes (their *key*: three ASCII bytes, or two Cyrillic letters, four bytes of
/// any other script). The rest find the prefixes sharing their key in a map and
/// compare each; the few prefixes shorter than a key are compared with every word
/// that starts with their first byte.
/// A stored prefix and its unit, with its first 8 bytes as a number (and the mask of
/// those it has) so that most comparisons are one `and` and one compare.
#[derive(Debug, Clone)]
struct Prefix {
    head: u64,
    mask: u64,
    bytes: Box<[u8]>,
    unit: u32,
}

impl Prefix {
    fn new(bytes: &[u8], unit: u32) -> Prefix {
        let n = bytes.len().min(8);
        Prefix {
            head: head8(bytes),
            mask: if n == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * n)) - 1
            },
            bytes: bytes.into(),
            unit,
        }
    }

    /// Whether this is a prefix of `word`, whose [`head8`] is `head`.
    #[inline]
    fn starts(&self, head: u64, word: &[u8]) -> bool {
        let n = self.bytes.len();
        n <= word.len()
            && head & self.mask == self.head
            && (n <= 8 || word.get(8..n) == self.bytes.get(8..))
    }
}

/// The first 8 bytes of `w` as a little-endian number, zero-padded.
#[inline]
fn head8(w: &[u8]) -> u64 {
    if w.len() >= 8 {
        return le64(w, 0);
    }
    let mut a = [0u8; 8];
    if let Some(dst) = a.get_mut(..w.len()) {
        dst.copy_from_slice(w);
    }
    u64::from_le_bytes(a)
}

#[derive(Debug, Clone)]
pub(super) struct PrefixIndex {
    /// Bit set of the keys of the prefixes at least a key long.
    keys: Box<[u64]>,
    key_log: u32,
    /// Key → its prefixes (and their units), shortest first.
    by_key: FastMap<u64, Box<[Prefix]>>,
    /// First byte → whether some prefix starting with it is shorter than a key.
    short_first: Box<[bool; 256]>,
    short: Box<[Prefix]>,
}

/// The bytes of a prefix key: four when the first is ASCII (four Latin letters),
/// else six (three Cyrillic letters). Shorter keys gather too many prefixes under one
/// key in a large rule set (a prefix per name, and names share their first syllable).
const PREFIX_KEY_ASCII: u64 = 0xFFFF_FFFF;
const PREFIX_KEY_OTHER: u64 = 0xFFFF_FFFF_FFFF;

/// The key of a word or prefix: its first four bytes when the first is ASCII, else its
/// first six, as a number. `None` when it is shorter than that.
#[inline]
fn prefix_key(b: &[u8]) -> Option<u64> {
    let head = head8(b);
    match b.first() {
        Some(&f) if f < 0x80 && b.len() >= 4 => Some(head & PREFIX_KEY_ASCII),
        Some(&f) if f >= 0x80 && b.len() >= 6 => Some(head & PREFIX_KEY_OTHER),
        _ => None,
    }
}

/// Filter bits per stored word or key: a miss passes the filter about once in 16.
const BITS_PER_ENTRY: usize = 16;

/// A filter of 2^`log` bits with `bits` set.
fn bit_table(log: u32, bits: impl IntoIterator<Item = usize>) -> Box<[u64]> {
    let mut table = vec![0u64; (1usize << log).div_ceil(64)].into_boxed_slice();
    for b in bits {
        if let Some(w) = table.get_mut(b / 64) {
            *w |= 1 << (b % 64);
        }
    }
    table
}

/// log2 of a filter's size in bits for `n` entries, within `min..=max`.
fn filter_log(n: usize, min: u32, max: u32) -> u32 {
    let bits = (n * BITS_PER_ENTRY).next_power_of_two();
    bits.trailing_zeros().clamp(min, max)
}

#[inline]
fn key_bit(k: u64, log: u32) -> usize {
    (k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - log)) as usize
}

impl PrefixIndex {
    /// The index of `prefixes` (folded prefix → unit). Empty prefixes (the parser never
    /// produces them) are left out: their units never occur.
    pub(super) fn new<'a>(prefixes: impl IntoIterator<Item = (&'a str, u32)>) -> PrefixIndex {
        let mut by_key: FastMap<u64, Vec<Prefix>> = FastMap::default();
        let mut short_first = Box::new([false; 256]);
        let mut short = Vec::new();
        for (p, unit) in prefixes {
            let p = p.as_bytes();
            match (prefix_key(p), p.first()) {
                (Some(k), _) => by_key.entry(k).or_default().push(Prefix::new(p, unit)),
                (None, Some(&first)) => {
                    short_first[usize::from(first)] = true;
                    short.push(Prefix::new(p, unit));
                }
                (None, None) => {}
            }
        }
        let key_log = filter_log(by_key.len(), 6, 16);
        let keys = bit_table(key_log, by_key.keys().map(|&k| key_bit(k, key_log)));
        let by_key = by_key
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_by_key(|p| p.bytes.len());
                (k, v.into_boxed_slice())
            })
            .collect();
        short.sort_by_key(|p: &Prefix| p.bytes.len());
        PrefixIndex {
            keys,
            key_log,
            by_key,
            short_first,
            short: short.into_boxed_slice(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.by_key.is_empty() && self.short.is_empty()
    }

    /// Whether some stored prefix may start `word` (whose key is `key`): the two bit
    /// tests in front of [`PrefixIndex::walk`], which most words do not pass.
    #[inline]
    pub(super) fn may_start(&self, key: &Key, word: &[u8]) -> bool {
        let Some(&first) = word.first() else {
            return false;
        };
        if self.short_first[usize::from(first)] {
            return true;
        }
        let Some(k) = key.prefix_key(key.head(word)) else {
            return false;
        };
        let b = key_bit(k, self.key_log);
        self.keys
            .get(b / 64)
            .is_some_and(|w| w & (1 << (b % 64)) != 0)
    }

    /// Calls `hit` with the unit of every stored prefix of `word`, whose key is `key`.
    #[inline(never)]
    pub(super) fn walk(&self, key: &Key, word: &[u8], mut hit: impl FnMut(u32)) {
        let Some(&first) = word.first() else {
            return;
        };
        if self.short_first[usize::from(first)] {
            self.short_prefixes(word, &mut hit);
        }
        let head = key.head(word);
        let Some(k) = key.prefix_key(head) else {
            return;
        };
        if let Some(list) = self.by_key.get(&k) {
            for p in list.iter() {
                if p.starts(head, word) {
                    hit(p.unit);
                }
            }
        }
    }

    #[cold]
    fn short_prefixes(&self, word: &[u8], hit: &mut impl FnMut(u32)) {
        let head = head8(word);
        for p in self.short.iter() {
            if p.starts(head, word) {
                hit(p.unit);
            }
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        let list = |v: &[Prefix]| -> usize {
            v.iter()
                .map(|p| p.bytes.len() + std::mem::size_of::<Prefix>())
                .sum::<usize>()
        };
        256 + self.keys.len() * 8
            + self.by_key.capacity() * 24
            + self.by_key.values().map(|v| list(v)).sum::<usize>()
            + list(&self.short)
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
        let idx = WordIndex::new(words.iter().enumerate().map(|(i, w)| (*w, i as u32)));
        for (i, w) in words.iter().enumerate() {
            let (b, k) = (w.as_bytes(), Key::of(w.as_bytes()));
            assert_eq!(idx.get(&k, k.hash(), b), Some(i as u32), "{w:?}");
        }
        for w in [
            "the",
            "minister",
            "министр",
            "kyrgyzstans",
            "abcdefgh3xyzwvuts",
            "b",
        ] {
            let (b, k) = (w.as_bytes(), Key::of(w.as_bytes()));
            assert_eq!(idx.get(&k, k.hash(), b), None, "{w:?}");
        }
    }

    #[test]
    fn every_stored_prefix_of_a_word_is_reported() {
        let (kyr, kyrgyz, lav) = (1, 2, 3);
        let long = [("kyr", kyr), ("kyrgyz", kyrgyz), ("лав", lav)];
        let t = PrefixIndex::new(long);
        let walk_in = |t: &PrefixIndex, w: &str| {
            let mut v = Vec::new();
            let b = w.as_bytes();
            let k = Key::of(b);
            assert_eq!(k.head(b), head8(b), "{w:?}");
            assert_eq!(k.prefix_key(k.head(b)), prefix_key(b), "{w:?}");
            t.walk(&Key::of(b), b, |u| v.push(u));
            v.sort_unstable();
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
        // Prefixes shorter than a key: every word with their first byte is compared.
        let (k, ky, l) = (4, 5, 6);
        let short = [("k", k), ("ky", ky), ("л", l), ("", 7)];
        let t = PrefixIndex::new(long.into_iter().chain(short));
        let walk = |t: &PrefixIndex, w: &str| walk_in(t, w);
        assert_eq!(walk(&t, "kyrgyzstan"), [kyr, kyrgyz, k, ky]);
        assert_eq!(walk(&t, "ky"), [k, ky]);
        assert_eq!(walk(&t, "kazakh"), [k]);
        assert_eq!(walk(&t, "лавров"), [lav, l]);
        assert_eq!(walk(&t, "л"), [l]);
        assert_eq!(walk(&t, "the"), Vec::<u32>::new());
        // Prefixes longer than the 8 bytes compared as one number.
        let t = PrefixIndex::new([("kyrgyzsta", 8), ("министерст", 9), ("министр", 10)]);
        assert_eq!(walk(&t, "kyrgyzstan"), [8]);
        assert_eq!(walk(&t, "kyrgyzsta"), [8]);
        assert_eq!(walk(&t, "kyrgyzstb"), Vec::<u32>::new());
        assert_eq!(walk(&t, "kyrgyzst"), Vec::<u32>::new());
        assert_eq!(walk(&t, "министерство"), [9]);
        assert_eq!(walk(&t, "министерскому"), Vec::<u32>::new());
        assert_eq!(walk(&t, "министру"), [10]);
    }

    #[test]
    fn a_key_knows_the_first_bytes_of_its_word() {
        let text = "abcdefghijklmnopqrstu жапаровский";
        for len in 0..=text.len() {
            let Some(w) = text.get(..len) else { continue };
            let (b, k) = (w.as_bytes(), Key::of(w.as_bytes()));
            assert_eq!(k.head(b), head8(b), "{w:?}");
            assert_eq!(k.prefix_key(k.head(b)), prefix_key(b), "{w:?}");
        }
    }

    #[test]
    fn long_words_compare_by_every_byte() {
        let a = "abcdefgh1xyzwvutsq".as_bytes();
        assert!(eq_long(a, a));
        for i in 0..a.len() {
            let mut b = a.to_vec();
            b[i] ^= 1;
            assert!(!eq_long(a, &b), "byte {i}");
        }
        assert!(!eq_long(a, &a[1..]));
    }
}
