//! Reusable test helpers: in-process servers on 127.0.0.1, an SMTP sink ([`smtp`]) and
//! an HTTP webhook receiver ([`http`]), each answering from a script; and an outbox under
//! test ([`outbox`]): a temp config, a real state file and the engine over them.
#![allow(dead_code)]

pub mod http;
pub mod outbox;
pub mod smtp;
