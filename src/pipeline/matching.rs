//! The match step of a poll: the compiled rules and each rule's feed scope, shared with
//! the blocking threads that parse and match feeds.

use std::collections::HashSet;
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
    /// For each rule, the feeds it applies to (None = every feed).
    rule_feeds: Vec<Option<HashSet<String>>>,
}

/// One poll's matches: (index of the item in the poll, its outbox entries).
pub(super) type PollMatches = Vec<(usize, Vec<OutboxEntry>)>;

impl Matcher {
    pub(super) fn new(config: Arc<Config>) -> Matcher {
        let queries: Vec<_> = config.rules.iter().map(|r| &r.query).collect();
        let rules = RuleSet::new(&queries);
        let rule_feeds = config
            .rules
            .iter()
            .map(|r| r.feeds.as_ref().map(|f| f.iter().cloned().collect()))
            .collect();
        Matcher {
            config,
            rules,
            rule_feeds,
        }
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
        items: &[Item],
        unseen: &[bool],
        now: DateTime<Utc>,
    ) -> PollMatches {
        let mut matches = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if !unseen.get(i).copied().unwrap_or(false) || self.too_old(item, now) {
                continue;
            }
            let entries = self.match_item(feed, item);
            if !entries.is_empty() {
                matches.push((i, entries));
            }
        }
        matches
    }

    /// The outbox entries for one new item: every rule that applies to its feed and
    /// matches, times the rule's destinations.
    pub(super) fn match_item(&self, feed: &str, item: &Item) -> Vec<OutboxEntry> {
        let doc = Document::from_item(item, feed);
        let applies = |r: usize| {
            self.rule_feeds
                .get(r)
                .is_some_and(|scope| scope.as_ref().is_none_or(|s| s.contains(feed)))
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
