//! News-like English and Russian text: titles and ~1 KB HTML descriptions built from
//! fixed phrase lists, so every word that can appear in the background is known and the
//! rule terms can be proven never to occur in it by accident.

use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
}

impl Lang {
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }
}

struct Phrases {
    subjects: &'static [&'static str],
    verbs: &'static [&'static str],
    objects: &'static [&'static str],
    places: &'static [&'static str],
    tails: &'static [&'static str],
    /// Joins two planted terms inside one sentence (short, for proximity rules).
    and: &'static str,
}

const EN: Phrases = Phrases {
    subjects: &[
        "The foreign minister",
        "The central bank",
        "Officials in the capital",
        "A government spokesman",
        "The opposition party",
        "Regional authorities",
        "The defence ministry",
        "Energy companies",
        "The prime minister",
        "Local residents",
        "Trade negotiators",
        "The parliament",
        "Security services",
        "Independent analysts",
        "The election commission",
        "Farmers' unions",
        "The finance ministry",
        "Port workers",
        "The national railway",
        "Health officials",
    ],
    verbs: &[
        "announced",
        "rejected",
        "discussed",
        "criticised",
        "approved",
        "postponed",
        "welcomed",
        "questioned",
        "signed",
        "proposed",
        "outlined",
        "defended",
        "reviewed",
        "suspended",
    ],
    objects: &[
        "a new budget plan",
        "the draft agreement",
        "plans for a gas pipeline",
        "tariffs on steel imports",
        "the grain export deal",
        "a border security pact",
        "reforms to the pension system",
        "a joint military exercise",
        "sanctions on several banks",
        "the fuel price cap",
        "a programme of road repairs",
        "new rules for migrant workers",
        "the state media law",
        "an increase in the minimum wage",
        "the water sharing treaty",
        "a loan from foreign lenders",
    ],
    places: &[
        "in the capital",
        "at a summit in Geneva",
        "during talks in Vienna",
        "after a meeting in Brussels",
        "in a statement on Monday",
        "at a press conference on Tuesday",
        "late on Wednesday",
        "ahead of the weekend vote",
        "during a visit to the north",
        "in an interview with reporters",
    ],
    tails: &[
        "officials said.",
        "according to local media.",
        "the agency reported.",
        "sources familiar with the matter said.",
        "a statement on the ministry website said.",
        "two people briefed on the talks said.",
        "the report added.",
        "diplomats said.",
    ],
    and: "and",
};

const RU: Phrases = Phrases {
    subjects: &[
        "Министр иностранных дел",
        "Центральный банк",
        "Правительство страны",
        "Представитель министерства",
        "Оппозиционная партия",
        "Региональные власти",
        "Министерство обороны",
        "Энергетические компании",
        "Премьер-министр",
        "Местные жители",
        "Участники переговоров",
        "Парламент",
        "Спецслужбы",
        "Независимые аналитики",
        "Избирательная комиссия",
        "Профсоюз фермеров",
        "Министерство финансов",
        "Портовые рабочие",
        "Железнодорожная компания",
        "Органы здравоохранения",
    ],
    verbs: &[
        "объявили",
        "отклонили",
        "обсудили",
        "раскритиковали",
        "одобрили",
        "отложили",
        "приветствовали",
        "поставили под сомнение",
        "подписали",
        "предложили",
        "изложили",
        "защитили",
        "рассмотрели",
        "приостановили",
    ],
    objects: &[
        "новый проект бюджета",
        "проект соглашения",
        "планы строительства газопровода",
        "пошлины на импорт стали",
        "зерновую сделку",
        "пакт о безопасности границ",
        "пенсионную реформу",
        "совместные военные учения",
        "санкции против нескольких банков",
        "ограничение цен на топливо",
        "программу ремонта дорог",
        "новые правила для трудовых мигрантов",
        "закон о государственных СМИ",
        "повышение минимальной зарплаты",
        "договор о разделе воды",
        "кредит иностранных банков",
    ],
    places: &[
        "в столице",
        "на саммите в Женеве",
        "в ходе переговоров в Вене",
        "после встречи в Брюсселе",
        "в заявлении в понедельник",
        "на пресс-конференции во вторник",
        "поздно вечером в среду",
        "накануне голосования в выходные",
        "во время поездки на север",
        "в интервью журналистам",
    ],
    tails: &[
        "сообщили официальные лица.",
        "по данным местных СМИ.",
        "сообщает агентство.",
        "рассказали источники, знакомые с ситуацией.",
        "говорится на сайте министерства.",
        "рассказали двое участников переговоров.",
        "добавляется в докладе.",
        "сообщили дипломаты.",
    ],
    and: "и",
};

fn phrases(lang: Lang) -> &'static Phrases {
    match lang {
        Lang::En => &EN,
        Lang::Ru => &RU,
    }
}

fn pick(rng: &mut Rng, list: &'static [&'static str]) -> &'static str {
    rng.pick(list).copied().unwrap_or("")
}

/// The conjunction a plant uses to put two terms next to each other.
pub fn conjunction(lang: Lang) -> &'static str {
    phrases(lang).and
}

/// One plain-text sentence; `inserted`, when given, stands in place of the object so a
/// planted term reads like part of the news.
pub fn sentence(rng: &mut Rng, lang: Lang, inserted: Option<&str>) -> String {
    let p = phrases(lang);
    let subject = pick(rng, p.subjects);
    let verb = pick(rng, p.verbs);
    let object = pick(rng, p.objects);
    let place = pick(rng, p.places);
    let tail = pick(rng, p.tails);
    match inserted {
        Some(term) => format!("{subject} {verb} {object} {term} {place}, {tail}"),
        None => format!("{subject} {verb} {object} {place}, {tail}"),
    }
}

/// A headline: subject, verb, object, with `inserted` terms in front when planted.
pub fn title(rng: &mut Rng, lang: Lang, inserted: &[String]) -> String {
    let p = phrases(lang);
    let base = format!(
        "{} {} {}",
        pick(rng, p.subjects),
        pick(rng, p.verbs),
        pick(rng, p.objects)
    );
    if inserted.is_empty() {
        base
    } else {
        format!("{}: {base}", inserted.join(" "))
    }
}

/// An HTML description of at least `min_bytes` bytes in `<p>` paragraphs, with each of
/// `planted` in its own sentence, spread from the first sentence to the last so two
/// planted fragments are always dozens of words apart.
pub fn description(rng: &mut Rng, lang: Lang, min_bytes: usize, planted: &[String]) -> String {
    let mut sentences = Vec::new();
    let mut len = 0;
    while len < min_bytes || sentences.len() < 6 {
        let s = sentence(rng, lang, None);
        len += s.len() + 1;
        sentences.push(s);
    }
    let last = sentences.len() - 1;
    for (k, frag) in planted.iter().enumerate() {
        let at = if planted.len() == 1 {
            rng.below(sentences.len())
        } else {
            k * last / (planted.len() - 1)
        };
        if let Some(slot) = sentences.get_mut(at) {
            *slot = sentence(rng, lang, Some(&format!("<b>{frag}</b>")));
        }
    }
    let mut html = String::with_capacity(len + 64);
    for chunk in sentences.chunks(3) {
        html.push_str("<p>");
        html.push_str(&chunk.join(" "));
        html.push_str("</p>");
    }
    html
}

/// Every word the background text can contain, lowercased: the rule terms are checked
/// against it.
pub fn vocabulary() -> Vec<String> {
    let mut words: Vec<String> = [&EN, &RU]
        .iter()
        .flat_map(|p| {
            p.subjects
                .iter()
                .chain(p.verbs)
                .chain(p.objects)
                .chain(p.places)
                .chain(p.tails)
                .chain(std::iter::once(&p.and))
        })
        .flat_map(|s| s.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    words.sort();
    words.dedup();
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_about_a_kilobyte_and_carry_the_plants() {
        let mut rng = Rng::new(3);
        for lang in [Lang::En, Lang::Ru] {
            let plain = description(&mut rng, lang, 1000, &[]);
            assert!((1000..1600).contains(&plain.len()), "{}", plain.len());
            assert!(plain.starts_with("<p>") && plain.ends_with("</p>"));
            let planted = description(&mut rng, lang, 1000, &["Zorvex".into(), "Quamor".into()]);
            let a = planted.find("<b>Zorvex</b>").unwrap_or(usize::MAX);
            let b = planted.find("<b>Quamor</b>").unwrap_or(0);
            // First and last sentence: far apart, in that order.
            assert!(a < 300 && b > planted.len() - 400, "{a} {b} {planted}");
        }
    }

    #[test]
    fn same_seed_same_text() {
        let a = description(&mut Rng::new(9), Lang::Ru, 1000, &["Кватор".into()]);
        let b = description(&mut Rng::new(9), Lang::Ru, 1000, &["Кватор".into()]);
        assert_eq!(a, b);
        assert!(a.contains("<b>Кватор</b>"));
    }

    #[test]
    fn vocabulary_covers_both_languages_lowercased() {
        let v = vocabulary();
        for w in [
            "minister",
            "geneva",
            "министр",
            "женеве",
            "и",
            "and",
            "премьер",
        ] {
            assert!(v.binary_search(&w.to_string()).is_ok(), "{w}");
        }
        assert!(v.iter().all(|w| *w == w.to_lowercase()));
        let t = title(&mut Rng::new(1), Lang::En, &["Zorvex".into()]);
        assert!(t.starts_with("Zorvex: "), "{t}");
    }
}
