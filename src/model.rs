//! Plain data shared by the pipeline stages: items, matches and digests.
//!
//! Stages hand these to each other and never call each other directly; only
//! `pipeline` (and later the daemon) wires them together.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One feed entry, normalised: HTML reduced to text, identity computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Dedupe key within its feed, never random: `guid:<id>`, `link:<normalised link>`
    /// or `hash:<hex of title and text>` (see `identity`).
    pub key: String,
    /// The feed's own guid/id as given (trimmed), if it has one.
    pub guid: Option<String>,
    /// The link as given (made absolute where the feed allows).
    pub link: Option<String>,
    /// The normalised link used for cross-feed identity.
    pub norm_link: Option<String>,
    /// Plain-text title.
    pub title: String,
    /// Plain-text summary (HTML reduced to text, entities decoded).
    pub summary: String,
    /// Plain-text content (HTML reduced to text, entities decoded).
    pub content: String,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    /// Published date, else updated date; never part of identity.
    pub published: Option<DateTime<Utc>>,
}

impl Item {
    /// The id a user or a webhook receiver knows the item by: the feed's guid, else its link,
    /// else the dedupe key.
    pub fn public_id(&self) -> &str {
        self.guid
            .as_deref()
            .or(self.link.as_deref())
            .unwrap_or(&self.key)
    }
}

/// A parsed feed document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub items: Vec<Item>,
    /// RSS `<ttl>` in minutes.
    pub ttl_minutes: Option<u32>,
    /// RSS `<skipHours>` (0-23, GMT).
    pub skip_hours: Vec<u32>,
    /// RSS `<skipDays>` (0 = Monday .. 6 = Sunday).
    pub skip_days: Vec<u32>,
}

/// One item as it goes out in a digest. Serialised as the webhook `items[]` element
/// (docs/webhooks.md), and stored as the digest's snapshot so a retry sends the same bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestItem {
    /// The feed's guid/id, else the link.
    pub id: String,
    /// The first feed the item arrived through.
    pub feed: String,
    /// Every feed the item arrived through.
    pub feeds: Vec<String>,
    pub title: String,
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
    /// Plain-text snippet.
    pub summary: String,
    /// Names of the rules that matched.
    pub rules: Vec<String>,
    /// The words and phrases that matched, as they appear in the item.
    pub matched: Vec<String>,
}

/// A digest: a committed, immutable batch of items for one destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// Stable id, assigned when the digest is committed and reused on every retry.
    pub id: String,
    pub destination: String,
    pub created_at: DateTime<Utc>,
    pub items: Vec<DigestItem>,
}
