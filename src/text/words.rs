//! [`Words`]: a reusable buffer of the folded words of one or more texts.

use std::ops::Range;

use super::for_each_word;

/// One word of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word<'a> {
    /// Position of the word among all words pushed into the [`Words`] since the last clear.
    pub pos: usize,
    /// The folded word.
    pub folded: &'a str,
    /// Byte span of the word in the text it came from.
    pub span: Range<usize>,
}

#[derive(Debug, Clone, Copy)]
struct Rec {
    fold_start: usize,
    fold_end: usize,
    start: usize,
    end: usize,
}

/// A reusable word buffer: the folded words of one or more texts with their positions
/// and byte spans. Clearing keeps the allocations, so tokenizing item after item does
/// not allocate once the buffers have grown.
#[derive(Debug, Default, Clone)]
pub struct Words {
    folded: String,
    recs: Vec<Rec>,
    tmp: String,
}

impl Words {
    pub fn new() -> Words {
        Words::default()
    }

    pub fn clear(&mut self) {
        self.folded.clear();
        self.recs.clear();
    }

    /// Appends the words of `text`. Positions continue from the words already held;
    /// returns the positions given to this text's words.
    pub fn push_text(&mut self, text: &str) -> Range<usize> {
        let first = self.recs.len();
        let Words { folded, recs, tmp } = self;
        for_each_word(text, tmp, |w, span| {
            let fold_start = folded.len();
            folded.push_str(w);
            recs.push(Rec {
                fold_start,
                fold_end: folded.len(),
                start: span.start,
                end: span.end,
            });
        });
        first..self.recs.len()
    }

    /// Number of words held.
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// The folded word at `pos`, or "" past the end.
    pub fn folded(&self, pos: usize) -> &str {
        match self.recs.get(pos) {
            Some(r) => &self.folded[r.fold_start..r.fold_end],
            None => "",
        }
    }

    /// Byte span of the word at `pos` in its text (empty past the end).
    pub fn span(&self, pos: usize) -> Range<usize> {
        match self.recs.get(pos) {
            Some(r) => r.start..r.end,
            None => 0..0,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Word<'_>> {
        self.recs.iter().enumerate().map(|(pos, r)| Word {
            pos,
            folded: &self.folded[r.fold_start..r.fold_end],
            span: r.start..r.end,
        })
    }

    /// Bytes held by the buffers.
    pub fn heap_bytes(&self) -> usize {
        self.folded.capacity()
            + self.tmp.capacity()
            + self.recs.capacity() * std::mem::size_of::<Rec>()
    }
}

/// The folded words of `text`, in order (convenience over [`Words`]).
pub fn words(text: &str) -> Vec<String> {
    let mut w = Words::new();
    w.push_text(text);
    w.iter().map(|w| w.folded.to_string()).collect()
}
