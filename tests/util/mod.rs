//! Reusable in-process test servers on 127.0.0.1: an SMTP sink ([`smtp`]) and an HTTP
//! webhook receiver ([`http`]), each answering from a script.
#![allow(dead_code)]

pub mod http;
pub mod smtp;
