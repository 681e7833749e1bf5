//! loadbench: the end-to-end load benchmark (issue 6).
//!
//! Generates N feeds and R rules, serves the feeds over HTTP on several loopback
//! addresses, and times `feedwatch run --once` cold, warm (every answer a 304) and
//! incremental (5% of feeds grew), then the same three stages with newsboat and rss2email
//! when they are installed, checking every stage's counts. Prints a Markdown report and
//! writes it to `--out`. `benches/run-load.sh` builds and runs it.

mod args;
mod check;
mod corpus;
mod error;
mod measure;
mod report;
mod rng;
mod rules;
mod server;
mod text;
mod tools;
mod xml;

use std::path::Path;
use std::process::ExitCode;

use args::Args;
use check::Stage;
use corpus::{Corpus, Version};
use error::BenchError;
use report::Row;
use server::Server;
use tools::{Kind, Tool};

fn first_line(program: &Path, arg: &str) -> String {
    std::process::Command::new(program)
        .arg(arg)
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(if o.stdout.is_empty() {
                &o.stderr
            } else {
                &o.stdout
            })
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
        })
        .unwrap_or_default()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map_or("?".into(), |kb| {
            format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0)
        });
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    // Other work on a shared machine skews every figure: the load says how much there was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "machine: {cores} cores ({cpu}), {mem} RAM, Linux {}; load average at start {}",
        kernel.trim(),
        load.join(" ")
    )
}

/// Serves `version` of the growing feeds from now on.
fn apply(corpus: &Corpus, server: &Server, version: Version) -> Result<(), BenchError> {
    for (i, served) in corpus.set_version(version)? {
        server.update(format!("{}.xml", corpus::feed_name(i)), served);
    }
    Ok(())
}

fn log(tool: &Tool, stage: Stage, m: &measure::Measurement, verdict: &check::Verdict) {
    eprintln!(
        "loadbench: {} {}: {:.2} s wall, {:.2} s CPU, {:.1} MB peak; {} {}",
        tool.name(),
        stage.label(),
        m.wall_s,
        m.cpu_s(),
        m.max_rss_kb as f64 / 1024.0,
        if verdict.ok { "ok" } else { "FAIL" },
        verdict.summary
    );
    for p in &verdict.problems {
        eprintln!("loadbench:   {p}");
    }
}

/// Cold, warm, incremental for one tool; the corpus is back at its base version after.
fn run_tool(
    tool: &Tool,
    corpus: &Corpus,
    server: &Server,
    rows: &mut Vec<Row>,
) -> Result<(), BenchError> {
    tool.setup(corpus, server)?;
    apply(corpus, server, Version::Base)?;
    tool.reset()?;
    server.take_counts();
    for stage in Stage::ALL {
        if stage == Stage::Incremental {
            apply(corpus, server, Version::Grown)?;
            server.take_counts();
        }
        let mut m = tool.run(stage)?;
        let mut counts = server.take_counts();
        if stage == Stage::Warm
            && tool.kind != Kind::Feedwatch
            && counts.not_modified < corpus.feeds.len() as u64
        {
            // newsboat's first rerun of newly added feeds sends no validators (it keeps them
            // only from its second poll on) and fetches everything again; its steady warm
            // cycle is the rerun after that, so that one is compared.
            let verdict = tool.verify(corpus, stage, &m, counts);
            let what = format!(
                "first rerun: {} of {} answers were 304",
                counts.not_modified,
                corpus.feeds.len()
            );
            log(tool, stage, &m, &verdict);
            rows.push(Row {
                tool: tool.name(),
                stage,
                extra: Some(what),
                m,
                verdict,
            });
            m = tool.run(stage)?;
            counts = server.take_counts();
        }
        let verdict = tool.verify(corpus, stage, &m, counts);
        log(tool, stage, &m, &verdict);
        rows.push(Row {
            tool: tool.name(),
            stage,
            extra: None,
            m,
            verdict,
        });
    }
    apply(corpus, server, Version::Base)
}

fn run(args: &Args) -> Result<bool, BenchError> {
    if !Path::new(measure::TIME).is_file() {
        return Err(BenchError::Tool {
            tool: measure::TIME.into(),
            message: "not installed (apt-get install time)".into(),
        });
    }
    if !args.feedwatch.is_file() {
        return Err(BenchError::Tool {
            tool: args.feedwatch.display().to_string(),
            message: "no such binary (cargo build --release, or pass --feedwatch PATH)".into(),
        });
    }
    let feedwatch =
        std::fs::canonicalize(&args.feedwatch).map_err(BenchError::io(&args.feedwatch))?;
    std::fs::create_dir_all(&args.work).map_err(BenchError::io(&args.work))?;
    let work = std::fs::canonicalize(&args.work).map_err(BenchError::io(&args.work))?;
    let feeds_dir = work.join("feeds");
    if feeds_dir.exists() {
        std::fs::remove_dir_all(&feeds_dir).map_err(BenchError::io(&feeds_dir))?;
    }

    let started = std::time::Instant::now();
    let rules = rules::generate(args.seed, args.rules);
    let (corpus, served) = Corpus::generate(
        args.seed,
        args.feeds,
        rules,
        args.hosts,
        args.grow_pct,
        &feeds_dir,
    )?;
    let (bytes, gz): (u64, u64) = served
        .iter()
        .fold((0, 0), |(b, g), s| (b + s.bytes, g + s.gzip_bytes));
    let atom = corpus
        .feeds
        .iter()
        .filter(|m| m.format == xml::Format::Atom)
        .count();
    let ru = corpus
        .feeds
        .iter()
        .filter(|m| m.lang == text::Lang::Ru)
        .count();
    let grown_items: usize = corpus.feeds.iter().map(|m| m.grown_items).sum();
    let grown_matches: usize = corpus.feeds.iter().map(|m| m.grown_matches).sum();
    let corpus_line = format!(
        "corpus: {} feeds ({} RSS 2.0, {atom} Atom; {} English, {ru} Russian), {} items, {:.1} MB ({:.1} MB gzipped), {} items match; \
         incremental: {} feeds gain {grown_items} items, {grown_matches} matching; {} rules; seed {}",
        corpus.feeds.len(),
        corpus.feeds.len() - atom,
        corpus.feeds.len() - ru,
        corpus.total_items(Version::Base),
        bytes as f64 / 1e6,
        gz as f64 / 1e6,
        corpus.total_matches(Version::Base),
        corpus.grown_count(),
        corpus.rules.len(),
        args.seed,
    );
    eprintln!(
        "loadbench: {corpus_line} (generated in {:.1} s)",
        started.elapsed().as_secs_f64()
    );

    let files = corpus
        .feeds
        .iter()
        .zip(served)
        .map(|(m, s)| (format!("{}.xml", m.name), s))
        .collect();
    let server = Server::start(args.hosts, files)?;
    let first = server
        .addrs()
        .first()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let last = server
        .addrs()
        .last()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let server_line = format!(
        "server: in-process HTTP/1.1 (axum) on {} loopback addresses ({first} .. {last}), ETag + Last-Modified, 304 on If-None-Match / If-Modified-Since, precompressed gzip",
        args.hosts
    );

    let mut tools = vec![Tool::new(Kind::Feedwatch, feedwatch.clone(), &work, 0)];
    let want_peers = args.peers == "all" || (args.peers == "auto" && args.feeds <= 2000);
    let mut notes = Vec::new();
    for (kind, program) in [(Kind::Newsboat, "newsboat"), (Kind::Rss2email, "r2e")] {
        match tools::which(program) {
            Some(p) if want_peers => tools.push(Tool::new(kind, p, &work, args.newsboat_threads)),
            Some(_) => notes.push(format!(
                "{program}: installed, not run (--peers {} at N = {})",
                args.peers, args.feeds
            )),
            None => notes.push(format!("{program}: not installed, not run")),
        }
    }

    // An invalid config would make every stage fail the same way: say so once.
    let fw = &tools[0];
    fw.setup(&corpus, &server)?;
    let check = std::process::Command::new(&feedwatch)
        .arg("check")
        .arg("--config")
        .arg(fw.config_path())
        .output();
    match check {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Err(BenchError::Tool {
                tool: format!("{} check", feedwatch.display()),
                message: format!(
                    "the generated config was refused:\n{}",
                    String::from_utf8_lossy(&o.stderr)
                ),
            });
        }
        Err(e) => {
            return Err(BenchError::Tool {
                tool: feedwatch.display().to_string(),
                message: e.to_string(),
            });
        }
    }

    let mut rows = Vec::new();
    let mut commands = Vec::new();
    for tool in &tools {
        match run_tool(tool, &corpus, &server, &mut rows) {
            Ok(()) => {}
            Err(e) if tool.kind != Kind::Feedwatch => {
                notes.push(format!("{}: not measured: {e}", tool.name()))
            }
            Err(e) => return Err(e),
        }
        let version = match tool.kind {
            Kind::Feedwatch => first_line(&tool.program, "--version"),
            Kind::Newsboat => first_line(&tool.program, "--version"),
            Kind::Rss2email => first_line(&tool.program, "--version"),
        };
        commands.push((format!("{} ({version})", tool.name()), tool.command_line()));
    }
    server.shutdown();

    let argv: Vec<String> = std::env::args().collect();
    let mut header = vec![
        format!("date: {}", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")),
        format!("command: `{}`", argv.join(" ")),
        machine(),
        corpus_line,
        server_line,
        "feedwatch: `first_poll = \"alert\"`, `max_age = \"off\"`, one stdout destination (stdout to a file, read for the per-feed lines); other settings default (concurrency 16, per_host 2)".into(),
        format!("newsboat: `reload-threads {}`", args.newsboat_threads),
    ];
    header.extend(notes);
    let ctx = report::Context {
        header,
        feeds: args.feeds,
        commands,
    };
    let md = report::render(&ctx, &rows);
    println!("{md}");
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent).map_err(BenchError::io(parent))?;
    }
    std::fs::write(&args.out, &md).map_err(BenchError::io(&args.out))?;
    eprintln!("loadbench: report written to {}", args.out.display());
    Ok(rows
        .iter()
        .filter(|r| r.tool == "feedwatch")
        .all(|r| r.verdict.ok))
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let result = args::parse(&argv).and_then(|a| run(&a));
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!(
                "loadbench: feedwatch's counts differ from the expected ones (see the report)"
            );
            ExitCode::from(1)
        }
        Err(BenchError::Usage(u)) => {
            eprintln!("{u}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("loadbench: {e}");
            ExitCode::from(2)
        }
    }
}
