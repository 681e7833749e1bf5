//! A string → `Query::parse`; on success the canonical print must parse back to the same
//! query (and print the same). Any panic is a bug.
#![no_main]

use feedwatch::rules::Query;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(q) = Query::parse(text) else {
        return;
    };
    let printed = q.to_string();
    let again = Query::parse(&printed)
        .unwrap_or_else(|e| panic!("canonical form {printed:?} of {text:?} does not parse: {e}"));
    assert_eq!(again, q, "{text:?} printed as {printed:?} parses to another query");
    assert_eq!(again.to_string(), printed, "printing is not stable for {text:?}");
});
