//! The `feedwatch` binary: parses arguments, sets up logging and routes to a command.
//! Errors are printed once, with their causes, and set the exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use feedwatch::commands;

#[derive(Parser)]
#[command(
    name = "feedwatch",
    version,
    about = "Watches news feeds for topics and sends alert digests"
)]
struct Cli {
    /// Log format: human-readable text (default) or JSON lines for log shippers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Log level (error, warn, info, debug, trace) or an env-filter directive; default from
    /// RUST_LOG, else "warn" for one-shot commands and "info" for the daemon.
    #[arg(long, global = true)]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the whole config (every rule's query too) without network access.
    Check {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Poll the feeds and deliver digests; with --once, one cycle and exit.
    Run {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Poll every feed once, send what is due, print one line per feed, exit.
        #[arg(long)]
        once: bool,
    },
    /// Try a query against feed files or URLs. Exit 0 if some item matched, 1 if none, 2 on error.
    TestRule {
        /// The query, e.g. 'Lavrov AND Kyrgyzstan'.
        query: String,
        /// Feed file paths, file:// URLs or http(s):// URLs.
        #[arg(required = true)]
        sources: Vec<String>,
        /// One JSON object per matching item.
        #[arg(long)]
        json: bool,
    },
    /// Show the items of a feed as feedwatch sees them: key, title, link, date, normalised text.
    Inspect {
        source: String,
        #[arg(long)]
        json: bool,
    },
    /// Send a small sample digest to one destination and report the result.
    TestDestination {
        name: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Show feed and destination state from the state database.
    Status {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Re-queue a destination's failed digests.
    Retry {
        name: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print `[[feed]]` tables for the feeds of an OPML export.
    ImportOpml { file: PathBuf },
    /// Find the feeds an HTML page links with <link rel="alternate"> and print `[[feed]]` tables.
    Discover { url: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let daemon = matches!(cli.command, Command::Run { once: false, .. });
    feedwatch::logging::init(
        cli.log_format == LogFormat::Json,
        cli.log_level.as_deref(),
        daemon,
    );
    feedwatch::init_crypto();
    if matches!(cli.command, Command::Run { .. }) {
        // Before the runtime's threads exist: one arena per thread, so that an idle
        // daemon does not sit on arenas of threads long gone (see daemon::memory).
        feedwatch::daemon::limit_arenas();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(feedwatch::daemon::blocking_threads())
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("feedwatch: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Check { config } => commands::check(config.as_deref()),
            Command::Run { config, once } => commands::run(config.as_deref(), once).await,
            Command::TestRule {
                query,
                sources,
                json,
            } => commands::test_rule(&query, &sources, json).await,
            Command::Inspect { source, json } => commands::inspect(&source, json).await,
            Command::TestDestination { name, config } => {
                commands::test_destination(config.as_deref(), &name).await
            }
            Command::Status { config, json } => commands::status(config.as_deref(), json),
            Command::Retry { name, config } => commands::retry(config.as_deref(), &name),
            Command::ImportOpml { file } => commands::import_opml(&file),
            Command::Discover { url } => commands::discover(&url).await,
        }
    });
    ExitCode::from(code)
}
