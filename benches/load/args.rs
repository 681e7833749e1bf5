//! loadbench's command line.

use std::path::PathBuf;

use crate::error::BenchError;

const USAGE: &str = "usage: loadbench [--feeds N] [--rules R] [--seed S] [--hosts H] [--grow-pct P]
                 [--feedwatch PATH] [--peers auto|all|none] [--newsboat-threads T]
                 [--work DIR] [--out FILE]
  --feeds N            feeds to generate (default 1000)
  --rules R            watch rules (default 1000)
  --seed S             corpus seed (default 1)
  --hosts H            loopback addresses 127.0.0.1..H serving the feeds (default 16)
  --grow-pct P         share of feeds that gain items for the incremental stage (default 5)
  --feedwatch PATH     the binary to measure (default target/release/feedwatch)
  --peers MODE         newsboat and rss2email: auto = when installed and N <= 2000 (default),
                       all = whenever installed, none = never
  --newsboat-threads T newsboat's reload-threads (default 16, feedwatch's default concurrency)
  --work DIR           corpus, configs and state (default target/loadbench)
  --out FILE           the Markdown report (default target/loadbench-results.md)";

#[derive(Debug, Clone)]
pub struct Args {
    pub feeds: usize,
    pub rules: usize,
    pub seed: u64,
    pub hosts: usize,
    pub grow_pct: usize,
    pub feedwatch: PathBuf,
    pub peers: String,
    pub newsboat_threads: usize,
    pub work: PathBuf,
    pub out: PathBuf,
}

pub fn parse(argv: &[String]) -> Result<Args, BenchError> {
    let mut a = Args {
        feeds: 1000,
        rules: 1000,
        seed: 1,
        hosts: 16,
        grow_pct: 5,
        feedwatch: PathBuf::from("target/release/feedwatch"),
        peers: "auto".into(),
        newsboat_threads: 16,
        work: PathBuf::from("target/loadbench"),
        out: PathBuf::from("target/loadbench-results.md"),
    };
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(BenchError::Usage(USAGE.into()));
        }
        let value = it
            .next()
            .ok_or_else(|| BenchError::Usage(format!("{flag} needs a value\n{USAGE}")))?;
        let num = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| BenchError::Usage(format!("{flag} {v}: expected a whole number")))
        };
        match flag.as_str() {
            "--feeds" => a.feeds = num(value)?,
            "--rules" => a.rules = num(value)?,
            "--seed" => a.seed = num(value)? as u64,
            "--hosts" => a.hosts = num(value)?,
            "--grow-pct" => a.grow_pct = num(value)?.min(100),
            "--newsboat-threads" => a.newsboat_threads = num(value)?,
            "--feedwatch" => a.feedwatch = PathBuf::from(value),
            "--work" => a.work = PathBuf::from(value),
            "--out" => a.out = PathBuf::from(value),
            "--peers" if ["auto", "all", "none"].contains(&value.as_str()) => {
                a.peers = value.clone()
            }
            _ => {
                return Err(BenchError::Usage(format!(
                    "unknown option {flag} {value}\n{USAGE}"
                )));
            }
        }
    }
    if a.feeds == 0 || a.rules == 0 {
        return Err(BenchError::Usage(
            "--feeds and --rules must be at least 1".into(),
        ));
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn arguments() {
        let a = parse(&argv("--feeds 10000 --rules 500 --peers none --hosts 4"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (a.feeds, a.rules, a.hosts, a.peers.as_str()),
            (10_000, 500, 4, "none")
        );
        let d = parse(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (d.feeds, d.rules, d.grow_pct, d.newsboat_threads),
            (1000, 1000, 5, 16)
        );
        for bad in [
            "--feeds",
            "--feeds x",
            "--feeds 0",
            "--peers some",
            "--nope 1",
            "--help",
        ] {
            assert!(
                matches!(parse(&argv(bad)), Err(BenchError::Usage(_))),
                "{bad}"
            );
        }
    }
}
