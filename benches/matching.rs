//! Matching throughput (filled in with the rule language).
fn main() {}
