//! Checks that span files: duplicate names, and references from rules and
//! `health_notify` to feeds, tags and destinations (a rule's `feeds` are kept as written:
//! see [`FeedScope`]).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use super::daemon::DaemonDraft;
use super::error::did_you_mean;
use super::load::Drafts;
use super::read::{Diag, Loc, Located};
use super::{Config, FeedScope, RuleConfig};

/// Reports a name defined twice (at the second definition) and remembers the first.
fn check_unique(
    kind: &str,
    name: &Located,
    seen: &mut HashMap<String, Loc>,
    diag: &mut Diag,
) -> bool {
    if let Some(first) = seen.get(&name.value) {
        let msg = format!(
            "duplicate {kind} name `{}` (first defined at {first})",
            name.value
        );
        diag.errors.push(name.loc.error(msg));
        return false;
    }
    seen.insert(name.value.clone(), name.loc.clone());
    true
}

pub(crate) fn cross_check(
    path: PathBuf,
    daemon: DaemonDraft,
    drafts: Drafts,
    diag: &mut Diag,
) -> Config {
    let mut names = HashMap::new();
    let mut feeds: Vec<_> = drafts
        .feeds
        .into_iter()
        .filter(|f| check_unique("feed", &f.name, &mut names, diag))
        .map(|f| f.config)
        .collect();
    // The collect reuses the drafts' buffer, which is larger (and grew by doubling): give
    // the difference back, it is held for the life of the config.
    feeds.shrink_to_fit();
    let mut names = HashMap::new();
    let dests: Vec<_> = drafts
        .dests
        .into_iter()
        .filter(|d| check_unique("destination", &d.name, &mut names, diag))
        .map(|d| d.config)
        .collect();
    let dest_names: Vec<&str> = dests.iter().map(|d| d.name.as_str()).collect();
    let feed_names: Vec<&str> = feeds.iter().map(|f| f.name.as_str()).collect();
    let check_refs = !drafts.incomplete;
    let dest_ref = |d: &Located, what: &str, diag: &mut Diag| {
        if check_refs && !dest_names.contains(&d.value.as_str()) {
            let hint = did_you_mean(&d.value, dest_names.iter().copied());
            diag.errors.push(d.loc.error(format!(
                "{what} names unknown destination `{}`{hint}",
                d.value
            )));
        }
    };
    for d in &daemon.health_notify {
        dest_ref(d, "`health_notify` in [daemon]", diag);
    }
    let known_feeds: HashSet<&str> = feed_names.iter().copied().collect();
    let known_tags: HashSet<&str> = feeds
        .iter()
        .flat_map(|f| f.tags.iter().map(String::as_str))
        .collect();
    let mut names = HashMap::new();
    let mut rules = Vec::new();
    for r in drafts.rules {
        if !check_unique("rule", &r.name, &mut names, diag) {
            continue;
        }
        let what = format!("rule `{}`", r.name.value);
        let feeds_of = r.feeds.as_ref().map(|list| {
            let (mut names, mut tags) = (Vec::new(), Vec::new());
            for entry in list {
                let known = match entry.value.strip_prefix("tag:") {
                    Some(tag) => {
                        tags.push(tag.to_string());
                        known_tags.contains(tag)
                    }
                    None => {
                        names.push(entry.value.clone());
                        known_feeds.contains(entry.value.as_str())
                    }
                };
                if !known && check_refs {
                    let msg = match entry.value.strip_prefix("tag:") {
                        Some(tag) => {
                            let tags: Vec<&str> = feeds
                                .iter()
                                .flat_map(|f| f.tags.iter().map(String::as_str))
                                .collect();
                            format!(
                                "{what} names tag `{tag}`, which no feed has{}",
                                did_you_mean(tag, tags)
                            )
                        }
                        None => format!(
                            "{what} names unknown feed `{}`{}",
                            entry.value,
                            did_you_mean(&entry.value, feed_names.iter().copied())
                        ),
                    };
                    diag.errors.push(entry.loc.error(msg));
                }
            }
            FeedScope::new(names, tags)
        });
        let notify = match &r.notify {
            Some(list) => {
                for d in list {
                    dest_ref(d, &what, diag);
                }
                list.iter().map(|d| d.value.clone()).collect()
            }
            None => dest_names.iter().map(|s| s.to_string()).collect(),
        };
        if let Some(query) = r.query {
            rules.push(RuleConfig {
                name: r.name.value,
                query_text: r.query_text,
                query,
                feeds: feeds_of,
                notify,
            });
        }
    }
    if !rules.is_empty() && dests.is_empty() {
        diag.warnings.push(format!(
            "{}: no [destination.NAME] table: matches are recorded but sent nowhere",
            path.display()
        ));
    }
    Config {
        path,
        daemon: daemon.config,
        feeds,
        rules,
        destinations: dests,
        warnings: Vec::new(),
    }
}
