//! Folding and tokenizer cases.

use super::*;

#[test]
fn folding() {
    let cases = [
        ("Kyrgyzstan", "kyrgyzstan"),
        ("KYRGYZSTAN", "kyrgyzstan"),
        ("Japárov", "japarov"),
        ("Japa\u{301}rov", "japarov"),
        ("ÉCOLE Ångström Über", "ecole angstrom uber"),
        ("Łódź", "łodz"),
        ("ЛАВРОВ", "лавров"),
        ("Лавров", "лавров"),
        ("ёлка Ёжик", "елка ежик"),
        ("е\u{308}лка", "елка"),
        ("Й й", "й й"),
        ("и\u{306}", "й"),
        ("ЎЗБЕКИСТОН", "ўзбекистон"),
        ("Straße", "straße"),
        ("ΑΘΗΝΑ Άθως", "αθηνα άθως"),
        ("İstanbul", "istanbul"),
        ("Їжак", "їжак"),
    ];
    for (input, want) in cases {
        assert_eq!(fold(input), want, "fold({input:?})");
    }
}

fn toks(text: &str) -> Vec<(String, String)> {
    let mut w = Words::new();
    w.push_text(text);
    w.iter()
        .map(|w| (w.folded.to_string(), text[w.span].to_string()))
        .collect()
}

#[test]
fn tokenizing() {
    let cases: &[(&str, &[&str])] = &[
        ("Kyrgyzstan’s capital", &["kyrgyzstan", "s", "capital"]),
        ("Kyrgyzstan's", &["kyrgyzstan", "s"]),
        ("Russian-Kyrgyz talks", &["russian", "kyrgyz", "talks"]),
        ("«Лавров» — в Бишкеке", &["лавров", "в", "бишкеке"]),
        (
            "\"CSTO\" (ОДКБ), 2024-05-01",
            &["csto", "одкб", "2024", "05", "01"],
        ),
        ("Japa\u{301}rov said", &["japarov", "said"]),
        ("\u{301}orphan mark", &["orphan", "mark"]),
        ("Садыр Жапаров", &["садыр", "жапаров"]),
        ("Йошкар-Ола", &["йошкар", "ола"]),
        ("5×3 ÷ 2 naïve ҂1", &["5", "3", "2", "naive", "1"]),
        ("  ", &[]),
        ("", &[]),
    ];
    for (text, want) in cases {
        let got: Vec<String> = toks(text).into_iter().map(|(f, _)| f).collect();
        assert_eq!(&got, want, "words of {text:?}");
    }
}

#[test]
fn fast_path_folds_like_the_general_path() {
    let mut buf = String::new();
    let chars = (0x400..0x480)
        .chain(0x30..0x3A)
        .chain(0x41..0x5B)
        .chain(0x61..0x7B)
        .filter_map(char::from_u32);
    for c in chars {
        let word = format!("a{c}Б{c}");
        let mut got = Vec::new();
        for_each_word(&word, &mut buf, |w, span| got.push((w.to_string(), span)));
        assert_eq!(
            got,
            [(fold(&word), 0..word.len())],
            "{c:?} U+{:04X}",
            c as u32
        );
    }
}

#[test]
fn spans_point_at_original_text() {
    let got = toks("Foreign Minister LAVROV’s visit to Japárov");
    let surfaces: Vec<&str> = got.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(
        surfaces,
        [
            "Foreign", "Minister", "LAVROV", "s", "visit", "to", "Japárov"
        ]
    );
}

#[test]
fn positions_continue_across_texts_and_buffers_are_reused() {
    let mut w = Words::new();
    assert_eq!(w.push_text("one two"), 0..2);
    assert_eq!(w.push_text("Три"), 2..3);
    assert_eq!(w.folded(2), "три");
    assert_eq!(w.folded(9), "");
    w.clear();
    assert!(w.is_empty());
    assert_eq!(w.push_text("again"), 0..1);
    assert_eq!(w.span(0), 0..5);
}
