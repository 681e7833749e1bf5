//! The watch-rule language: [`Query`] (parse and canonical print) and the one-pass
//! matcher over all rules.

/// A parsed query (stub until the rule language lands).
#[derive(Debug, Clone, PartialEq)]
pub struct Query;
