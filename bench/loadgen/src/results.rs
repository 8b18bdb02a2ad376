//! Writes one section of `bench/RESULTS.md` in the format of
//! `bench/lib/results.mjs`: `<!-- name:start -->` ... `<!-- name:end -->`,
//! with the date, the machine and the command that produced it.

use std::path::Path;
use std::process::Command;

const HEADER: &str = "# Benchmark results\n\nEach section is rewritten by the command it names; see README.md, \"Benchmarks\".\n";

fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(|l| l.trim().to_owned()))
        .unwrap_or_else(|| format!("{cmd} ?"))
}

/// One line describing the machine: cores, CPU model, memory, kernel, rustc.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU", str::trim);
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cores} cores ({model}), {:.0} GiB, Linux {}, {}",
        mem_kib as f64 / (1u64 << 20) as f64,
        first_line("uname", &["-r"]),
        first_line("rustc", &["--version"]),
    )
}

/// Replaces (or appends) section `name` of the results file at `path`.
pub fn write_section(
    path: &Path,
    name: &str,
    title: &str,
    command: &str,
    body: &str,
) -> std::io::Result<()> {
    let mut text = std::fs::read_to_string(path).unwrap_or_else(|_| HEADER.to_owned());
    let start = format!("<!-- {name}:start -->");
    let end = format!("<!-- {name}:end -->");
    let when = first_line("date", &["-u", "+%Y-%m-%d %H:%M"]);
    let section = format!(
        "{start}\n## {title}\n\nMeasured {when} UTC on {}.\nCommand: `{command}`\n\n{}\n{end}",
        machine(),
        body.trim()
    );
    text = match (text.find(&start), text.find(&end)) {
        (Some(a), Some(b)) if b > a => {
            format!("{}{section}{}", &text[..a], &text[b + end.len()..])
        }
        _ => format!("{}\n\n{section}\n", text.trim_end()),
    };
    std::fs::write(path, text)
}

/// A Markdown table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let line = |cells: Vec<String>| format!("| {} |", cells.join(" | "));
    let mut out = vec![
        line(headers.iter().map(|h| h.to_string()).collect()),
        line(headers.iter().map(|_| "---".to_owned()).collect()),
    ];
    out.extend(rows.iter().cloned().map(line));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewriting_a_section_keeps_the_others() {
        let dir = std::env::temp_dir().join(format!("loadgen-results-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("RESULTS.md");
        std::fs::write(
            &path,
            "# Benchmark results\n\n<!-- size:start -->\nsize numbers\n<!-- size:end -->\n",
        )
        .unwrap();
        write_section(&path, "fanout", "Fan-out", "cmd one", "first").unwrap();
        write_section(&path, "fanout", "Fan-out", "cmd two", "second").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(text.contains("<!-- size:start -->\nsize numbers\n<!-- size:end -->"));
        assert_eq!(text.matches("<!-- fanout:start -->").count(), 1);
        assert!(text.contains("Command: `cmd two`\n\nsecond\n<!-- fanout:end -->"));
        assert!(!text.contains("first"));
    }
}
