//! The stdout destination: the plain-text rendering with a header line naming the
//! destination and the digest, written in one piece.

use std::io::Write as _;

use chrono_tz::Tz;

use super::DeliveryError;
use crate::digest::{one_line, render_text};
use crate::model::Digest;

/// What the stdout destination prints for a digest.
pub fn render_stdout(digest: &Digest, tz: Tz) -> String {
    format!(
        "=== feedwatch: destination {}, digest {} ===\n{}\n",
        one_line(&digest.destination),
        one_line(&digest.id),
        render_text(digest, tz)
    )
}

pub(crate) async fn deliver(digest: &Digest, tz: Tz) -> Result<(), DeliveryError> {
    let text = render_stdout(digest, tz);
    // Holding the stdout lock for the whole write keeps two digests from interleaving.
    let written = tokio::task::spawn_blocking(move || {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    })
    .await;
    match written {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => Err(DeliveryError::transient(
            format!("writing the digest to stdout was interrupted: {e}"),
        )),
        Ok(Err(e)) => Err(DeliveryError::permanent(format!(
            "cannot write the digest to stdout ({e}); is the output closed?"
        ))),
        Err(e) => Err(DeliveryError::transient(format!(
            "the stdout writer task failed: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn header_names_destination_and_digest() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let d = crate::digest::sample_digest("console", now);
        let out = render_stdout(&d, chrono_tz::UTC);
        let mut lines = out.lines();
        assert_eq!(
            lines.next(),
            Some("=== feedwatch: destination console, digest test-20261201T120000Z ===")
        );
        assert_eq!(
            lines.next(),
            Some("[feedwatch] 2 new: test (2), escaping (1)")
        );
        assert!(out.contains("* feedwatch test message\n"));
    }
}
