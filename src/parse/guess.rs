//! Guesses for documents whose bytes are not valid UTF-8 and whose labels cannot be
//! trusted: UTF-8 with a few bad bytes, and Cyrillic text in a single-byte encoding
//! (the commonest lie in real feeds is a `utf-8` label on windows-1251 or KOI8-R bytes).

use encoding_rs::{Encoding, KOI8_R, WINDOWS_1251};

/// True when the bytes are UTF-8 with a few bad bytes: more valid multi-byte characters
/// than invalid sequences. Single-byte encodings almost never form valid sequences.
pub fn mostly_utf8(bytes: &[u8]) -> bool {
    let (mut valid, mut invalid) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        valid += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        if !chunk.invalid().is_empty() {
            invalid += 1;
        }
    }
    valid > invalid
}

/// windows-1251 or KOI8-R when the non-ASCII bytes look like Cyrillic words: letters
/// (0xC0-0xFF in both) mostly next to other letters, unlike the lone accented letters of
/// windows-1252 text. Lowercase dominates running text: 0xE0-0xFF in windows-1251,
/// 0xC0-0xDF in KOI8-R.
pub fn cyrillic(bytes: &[u8]) -> Option<&'static Encoding> {
    let is_letter = |b: u8| b >= 0xC0;
    let (mut high, mut in_words, mut upper_half) = (0usize, 0usize, 0usize);
    for (i, &b) in bytes.iter().enumerate() {
        if b < 0x80 {
            continue;
        }
        high += 1;
        let next_to_letter =
            (i > 0 && is_letter(bytes[i - 1])) || bytes.get(i + 1).is_some_and(|n| is_letter(*n));
        if is_letter(b) && next_to_letter {
            in_words += 1;
            if b >= 0xE0 {
                upper_half += 1;
            }
        }
    }
    if in_words < 4 || in_words * 10 < high * 7 {
        return None;
    }
    Some(if upper_half * 2 >= in_words {
        WINDOWS_1251
    } else {
        KOI8_R
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guess_table() {
        let text = "Лавров прибыл в Бишкек на переговоры";
        let cp1251 = WINDOWS_1251.encode(text).0.into_owned();
        let koi8 = KOI8_R.encode(text).0.into_owned();
        let latin = encoding_rs::WINDOWS_1252
            .encode("Café für Müller, déjà vu à Zürich")
            .0
            .into_owned();
        let mut utf8_bad = text.as_bytes().to_vec();
        utf8_bad.push(0xFF);
        let cases: &[(&[u8], bool, Option<&str>)] = &[
            (&cp1251, false, Some("windows-1251")),
            (&koi8, false, Some("KOI8-R")),
            (&latin, false, None),
            (&utf8_bad, true, None),
            (b"a\xffb", false, None),
        ];
        for (bytes, utf8, enc) in cases {
            assert_eq!(mostly_utf8(bytes), *utf8, "{bytes:?}");
            assert_eq!(cyrillic(bytes).map(Encoding::name), *enc, "{bytes:?}");
        }
    }
}
