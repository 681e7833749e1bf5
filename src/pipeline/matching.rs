//! The match step of a poll: the compiled rules and each rule's feed scope, shared with
//! the blocking threads that parse and match feeds.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::model::Item;
use crate::rules::{Document, RuleSet};
use crate::store::OutboxEntry;

/// The rules of one config, compiled once.
pub(super) struct Matcher {
    config: Arc<Config>,
    rules: RuleSet,
}

/// One poll's matches: (index of the item in the poll, its outbox entries).
pub(super) type PollMatches = Vec<(usize, Vec<OutboxEntry>)>;

impl Matcher {
    pub(super) fn new(config: Arc<Config>) -> Matcher {
        let queries: Vec<_> = config.rules.iter().map(|r| &r.query).collect();
        let rules = RuleSet::new(&queries);
        Matcher { config, rules }
    }

    fn too_old(&self, item: &Item, now: DateTime<Utc>) -> bool {
        match (self.config.daemon.max_age, item.published) {
            (Some(max_age), Some(published)) => {
                chrono::Duration::from_std(max_age).is_ok_and(|m| published < now - m)
            }
            _ => false,
        }
    }

    /// The matches of the items of one poll of `feed` that are new (`unseen`) and not
    /// older than `max_age`.
    pub(super) fn match_new(
        &self,
        feed: &str,
        tags: &[String],
        items: &[Item],
        unseen: &[bool],
        now: DateTime<Utc>,
    ) -> PollMatches {
        let mut matches = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if !unseen.get(i).copied().unwrap_or(false) || self.too_old(item, now) {
                continue;
            }
            let entries = self.match_item(feed, tags, item);
            if !entries.is_empty() {
                matches.push((i, entries));
            }
        }
        matches
    }

    /// The outbox entries for one new item: every rule that applies to its feed and
    /// matches, times the rule's destinations. `feed` and `tags` are the feed's name and
    /// tags, which decide the rules' `feeds` scopes.
    pub(super) fn match_item(&self, feed: &str, tags: &[String], item: &Item) -> Vec<OutboxEntry> {
        let doc = Document::from_item(item, feed);
        let applies = |r: usize| {
            self.config.rules.get(r).is_some_and(|rule| {
                rule.feeds
                    .as_ref()
                    .is_none_or(|scope| scope.contains(feed, tags))
            })
        };
        let mut out = Vec::new();
        for m in self.rules.matches(&doc, &applies) {
            let Some(rule) = self.config.rules.get(m.rule) else {
                continue;
            };
            tracing::debug!(feed = %feed, rule = %rule.name, item = %item.key, matched = ?m.matched, "rule matched");
            for dest in &rule.notify {
                out.push(OutboxEntry {
                    rule: rule.name.clone(),
                    destination: dest.clone(),
                    matched: m.matched.clone(),
                });
            }
        }
        out
    }
}
