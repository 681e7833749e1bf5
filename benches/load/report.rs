//! The results as a Markdown report: a summary table with the peers' times as ratios to
//! feedwatch's, every run in full, the checks, and the issue-6 targets that apply.

use std::fmt::Write as _;

use crate::check::{Stage, Verdict};
use crate::measure::Measurement;

#[derive(Debug, Clone)]
pub struct Row {
    pub tool: &'static str,
    pub stage: Stage,
    /// A run that does not stand for its stage (a peer's warm-up rerun): listed, not compared.
    pub extra: Option<String>,
    pub m: Measurement,
    pub verdict: Verdict,
}

pub struct Context {
    /// Lines describing the run: command, machine, corpus.
    pub header: Vec<String>,
    pub feeds: usize,
    /// Commands as run, per tool.
    pub commands: Vec<(String, String)>,
}

fn find<'a>(rows: &'a [Row], tool: &str, stage: Stage) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.tool == tool && r.stage == stage && r.extra.is_none())
}

fn mb(kb: u64) -> String {
    format!("{:.1}", kb as f64 / 1024.0)
}

/// `x` as a multiple of `base`, e.g. `12.3×`.
pub fn ratio(x: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.1}×", x / base)
    } else {
        "-".into()
    }
}

fn target(label: &str, ok: bool, detail: String) -> String {
    format!(
        "| {label} | {detail} | {} |",
        if ok { "met" } else { "**missed**" }
    )
}

pub fn render(ctx: &Context, rows: &[Row]) -> String {
    let mut s = String::from("# Load benchmark results\n\n");
    for line in &ctx.header {
        let _ = writeln!(s, "- {line}");
    }
    let peers: Vec<&str> = ["newsboat", "rss2email"]
        .into_iter()
        .filter(|p| rows.iter().any(|r| r.tool == *p))
        .collect();
    s.push_str(
        "\n## Summary\n\n| stage | feedwatch wall s | feedwatch CPU s | feedwatch peak RSS MB |",
    );
    for p in &peers {
        let _ = write!(s, " {p} wall s (× feedwatch) |");
    }
    s.push_str("\n|---|---:|---:|---:|");
    for _ in &peers {
        s.push_str("---:|");
    }
    s.push('\n');
    for stage in Stage::ALL {
        let Some(fw) = find(rows, "feedwatch", stage) else {
            continue;
        };
        let _ = write!(
            s,
            "| {} | {:.2} | {:.2} | {} |",
            stage.label(),
            fw.m.wall_s,
            fw.m.cpu_s(),
            mb(fw.m.max_rss_kb)
        );
        for p in &peers {
            match find(rows, p, stage) {
                Some(r) => {
                    let _ = write!(
                        s,
                        " {:.2} ({}) |",
                        r.m.wall_s,
                        ratio(r.m.wall_s, fw.m.wall_s)
                    );
                }
                None => s.push_str(" - |"),
            }
        }
        s.push('\n');
    }

    s.push_str("\n## Every run\n\n| tool | stage | wall s | user s | sys s | peak RSS MB | exit | check |\n|---|---|---:|---:|---:|---:|---:|---|\n");
    for r in rows {
        let exit = r.m.exit.map_or("signal".to_string(), |c| c.to_string());
        let stage = match &r.extra {
            Some(what) => format!("{} ({what})", r.stage.label()),
            None => r.stage.label().to_string(),
        };
        let _ = writeln!(
            s,
            "| {} | {stage} | {:.2} | {:.2} | {:.2} | {} | {exit} | {} {} |",
            r.tool,
            r.m.wall_s,
            r.m.user_s,
            r.m.sys_s,
            mb(r.m.max_rss_kb),
            if r.verdict.ok { "ok:" } else { "**FAIL**:" },
            r.verdict.summary
        );
    }
    let failures: Vec<&Row> = rows
        .iter()
        .filter(|r| !r.verdict.problems.is_empty())
        .collect();
    if !failures.is_empty() {
        s.push_str("\n## Differences\n\n");
        for r in failures {
            for p in &r.verdict.problems {
                let _ = writeln!(s, "- {} {}: {p}", r.tool, r.stage.label());
            }
        }
    }

    s.push_str("\n## Targets (issue 6)\n\n| target | measured | |\n|---|---|---|\n");
    let fw = |stage| find(rows, "feedwatch", stage);
    if ctx.feeds >= 10_000 {
        if let Some(r) = fw(Stage::Cold) {
            s.push_str(&target(
                "cold ≤ 30 s wall",
                r.m.wall_s <= 30.0,
                format!("{:.2} s", r.m.wall_s),
            ));
            s.push('\n');
            let peak = rows
                .iter()
                .filter(|r| r.tool == "feedwatch")
                .map(|r| r.m.max_rss_kb)
                .max()
                .unwrap_or(0);
            s.push_str(&target(
                "peak RSS ≤ 200 MB",
                peak <= 200 * 1024,
                format!("{} MB", mb(peak)),
            ));
            s.push('\n');
        }
        if let Some(r) = fw(Stage::Warm) {
            s.push_str(&target(
                "warm ≤ 3 s wall",
                r.m.wall_s <= 3.0,
                format!("{:.2} s", r.m.wall_s),
            ));
            s.push('\n');
        }
        if let Some(r) = fw(Stage::Incremental) {
            s.push_str(&target(
                "incremental ≤ 5 s wall",
                r.m.wall_s <= 5.0,
                format!("{:.2} s", r.m.wall_s),
            ));
            s.push('\n');
        }
    }
    for (peer, stage, times) in [
        ("rss2email", Stage::Cold, 10.0),
        ("newsboat", Stage::Cold, 3.0),
        ("newsboat", Stage::Warm, 20.0),
    ] {
        if let (Some(f), Some(p)) = (fw(stage), find(rows, peer, stage)) {
            let label = format!("≥ {times}× faster than {peer} {}", stage.label());
            s.push_str(&target(
                &label,
                p.m.wall_s >= times * f.m.wall_s,
                ratio(p.m.wall_s, f.m.wall_s),
            ));
            s.push('\n');
        }
    }

    s.push_str("\n## Commands\n\n");
    for (tool, cmd) in &ctx.commands {
        let _ = writeln!(s, "- {tool}: `{cmd}`");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(tool: &'static str, stage: Stage, wall_s: f64, ok: bool) -> Row {
        let m = Measurement {
            wall_s,
            user_s: wall_s / 2.0,
            sys_s: 0.1,
            max_rss_kb: 51_200,
            exit: Some(0),
        };
        Row {
            tool,
            stage,
            extra: None,
            m,
            verdict: Verdict {
                ok,
                summary: "new items 1/1".into(),
                problems: if ok {
                    vec![]
                } else {
                    vec!["f00001: off".into()]
                },
            },
        }
    }

    #[test]
    fn summary_ratios_and_targets() {
        let rows = vec![
            row("feedwatch", Stage::Cold, 2.0, true),
            row("feedwatch", Stage::Warm, 0.5, true),
            row("newsboat", Stage::Cold, 10.0, true),
            Row {
                extra: Some("first rerun".into()),
                ..row("newsboat", Stage::Warm, 50.0, true)
            },
            row("newsboat", Stage::Warm, 5.0, false),
            row("rss2email", Stage::Cold, 30.0, true),
        ];
        let ctx = Context {
            header: vec!["N = 1000".into()],
            feeds: 1000,
            commands: vec![("feedwatch".into(), "feedwatch run --once".into())],
        };
        let md = render(&ctx, &rows);
        assert!(
            md.contains("| cold | 2.00 | 1.10 | 50.0 | 10.00 (5.0×) | 30.00 (15.0×) |"),
            "{md}"
        );
        assert!(
            md.contains("| warm | 0.50 | 0.35 | 50.0 | 5.00 (10.0×) | - |"),
            "{md}"
        );
        assert!(
            md.contains("| ≥ 10× faster than rss2email cold | 15.0× | met |"),
            "{md}"
        );
        assert!(
            md.contains("| ≥ 20× faster than newsboat warm | 10.0× | **missed** |"),
            "{md}"
        );
        assert!(md.contains("- newsboat warm: f00001: off"));
        assert!(
            md.contains("| newsboat | warm (first rerun) | 50.00 |"),
            "{md}"
        );
        assert!(
            !md.contains("cold ≤ 30 s"),
            "the N=10k targets only apply at 10k"
        );
        assert_eq!(ratio(1.0, 0.0), "-");
    }
}
