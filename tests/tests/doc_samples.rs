//! Sample output in the README and `docs/` is what the commands print.
//!
//! Every block marked `<!-- sample: NAME -->`, a ```` ```text ```` fence, `<!-- /sample -->` in
//! README.md or docs/*.md is compared with the standard output of the command that
//! docs/tests.md's "Sample output" table gives for NAME, run by the built `eks-node-role-guard`
//! against the emulator seeded with the demo account (`scripts/seed.py seed --eksctl-role`, as
//! `make audit-demo` seeds it). What legitimately varies (the emulator's port, timestamps) is
//! normalised on both sides. With `UPDATE_SAMPLES=1` the blocks are rewritten from the output
//! instead; nothing outside a block's fence changes.
//!
//! ```sh
//! cargo build -p eks-node-role-guard && cargo test -p noderole-integration --test doc_samples
//! UPDATE_SAMPLES=1 cargo test -p noderole-integration --test doc_samples   # rewrite the blocks
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use noderole_integration::{Moto, repo_root, run_cli, venv_python};

/// The endpoint the docs' by-hand commands use (docs/audit.md): what a rewritten block shows.
const DOCUMENTED_ENDPOINT: &str = "http://127.0.0.1:5000";
const OPEN: &str = "<!-- sample: ";
const FENCE: &str = "```text";
const CLOSE: &str = "<!-- /sample -->";

/// One marked block: where its fence's content is in its file, and that content.
#[derive(Debug)]
struct Block {
    name: String,
    /// 1-based line of the `<!-- sample: -->` marker, for messages.
    line: usize,
    /// Byte range of the content between the fence lines (each line with its `\n`).
    content: std::ops::Range<usize>,
}

/// The marked blocks of one Markdown text, in order; a malformed marker is an error naming its
/// line.
fn blocks(text: &str) -> Result<Vec<Block>, String> {
    let mut lines = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        lines.push((at, line));
        at += line.len();
    }
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (_, line) = lines[i];
        let marker = line.trim_end();
        if marker == CLOSE {
            return Err(format!("line {}: {CLOSE} without a sample marker before it", i + 1));
        }
        let Some(name) = marker.strip_prefix(OPEN).and_then(|rest| rest.strip_suffix(" -->")) else {
            i += 1;
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(format!("line {}: a sample name is one word: {marker:?}", i + 1));
        }
        if lines.get(i + 1).map(|(_, l)| l.trim_end()) != Some(FENCE) {
            return Err(format!("line {}: sample {name}: the next line must be {FENCE}", i + 1));
        }
        let start = lines[i + 1].0 + lines[i + 1].1.len();
        let end_fence = (i + 2..lines.len())
            .find(|&j| lines[j].1.trim_end() == "```")
            .ok_or_else(|| format!("line {}: sample {name}: its fence is never closed", i + 1))?;
        if lines.get(end_fence + 1).map(|(_, l)| l.trim_end()) != Some(CLOSE) {
            return Err(format!(
                "line {}: sample {name}: the line after its fence must be {CLOSE}",
                i + 1
            ));
        }
        found.push(Block {
            name: name.to_owned(),
            line: i + 1,
            content: start..lines[end_fence].0,
        });
        i = end_fence + 2;
    }
    Ok(found)
}

/// `text` with each block's content replaced by `output(name)` (which ends with a line break).
fn rewritten(text: &str, blocks: &[Block], output: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for block in blocks {
        out.push_str(&text[at..block.content.start]);
        out.push_str(&output(&block.name));
        at = block.content.end;
    }
    out.push_str(&text[at..]);
    out
}

/// docs/tests.md's "Sample output" table: NAME -> the command's arguments (after the program).
fn commands(tests_md: &str) -> Result<BTreeMap<String, Vec<String>>, String> {
    let text = format!("\n{tests_md}");
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("Sample output"))
        .ok_or("docs/tests.md has no \"## Sample output\" section")?;
    let mut commands = BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let unquote = |cell: &str| {
            cell.strip_prefix('`')
                .and_then(|c| c.strip_suffix('`'))
                .map(str::to_owned)
        };
        let (Some(name), Some(command)) = (
            cells.first().copied().and_then(unquote),
            cells.last().copied().and_then(unquote),
        ) else {
            return Err(format!(
                "a row of the sample table is not | `NAME` | file | `command` |: {row}"
            ));
        };
        let words = shell_words::split(&command).map_err(|e| format!("{name}: {e}: {command}"))?;
        let Some(("eks-node-role-guard", args)) = words.split_first().map(|(p, a)| (p.as_str(), a)) else {
            return Err(format!("{name}: the command is not eks-node-role-guard: {command}"));
        };
        if commands.insert(name.clone(), args.to_vec()).is_some() {
            return Err(format!("{name} is listed twice"));
        }
    }
    Ok(commands)
}

/// What legitimately differs between runs: the emulator's port and timestamps.
fn normalised(text: &str) -> String {
    let ported = replace_runs(
        text,
        "127.0.0.1:",
        |rest| rest.bytes().take_while(u8::is_ascii_digit).count(),
        "PORT",
    );
    let mut out = String::with_capacity(ported.len());
    let mut rest = ported.as_str();
    while let Some((i, n)) = rest
        .char_indices()
        .find_map(|(i, _)| timestamp_len(&rest[i..]).map(|n| (i, n)))
    {
        out.push_str(&rest[..i]);
        out.push_str("TIMESTAMP");
        rest = &rest[i + n..];
    }
    out.push_str(rest);
    out
}

/// `text` with what `len` measures after each `prefix` replaced by `with`.
fn replace_runs(text: &str, prefix: &str, len: impl Fn(&str) -> usize, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let after = &rest[i + prefix.len()..];
        let n = len(after);
        out.push_str(&rest[..i + prefix.len()]);
        out.push_str(if n > 0 { with } else { "" });
        rest = &after[n..];
    }
    out.push_str(rest);
    out
}

/// The length of an RFC 3339 time at the start of `s` (`2026-12-02T06:01:48Z`, with optional
/// fraction and offset), if there is one.
fn timestamp_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd";
    if b.len() < shape.len()
        || !shape
            .iter()
            .zip(b)
            .all(|(&p, &c)| if p == b'd' { c.is_ascii_digit() } else { p == c })
    {
        return None;
    }
    let mut n = shape.len();
    if b.get(n) == Some(&b'.') {
        n += 1 + b[n + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
    }
    match b.get(n) {
        Some(b'Z') => Some(n + 1),
        Some(b'+' | b'-') if b.len() >= n + 6 && b[n + 3] == b':' => Some(n + 6),
        _ => Some(n),
    }
}

/// README.md and docs/*.md, by path from the repository root.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("an entry of docs/").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    docs.insert(0, root.join("README.md"));
    docs
}

/// The lines where `expected` and `actual` first differ, for the failure message.
fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let at = (0..e.len().max(a.len())).find(|&i| e.get(i) != a.get(i)).unwrap_or(0);
    format!(
        "first difference at line {} of the block:\n  documented: {:?}\n  printed:    {:?}\n  ({} lines documented, {} printed)",
        at + 1,
        e.get(at).copied().unwrap_or("<none>"),
        a.get(at).copied().unwrap_or("<none>"),
        e.len(),
        a.len()
    )
}

#[test]
fn the_documented_sample_output_is_what_the_commands_print() {
    let root = repo_root();
    let update = std::env::var("UPDATE_SAMPLES").is_ok_and(|v| v == "1");

    // Given every marked block and the command that produces it
    let commands = commands(&std::fs::read_to_string(root.join("docs/tests.md")).expect("docs/tests.md"))
        .unwrap_or_else(|e| panic!("docs/tests.md: {e}"));
    let mut files = Vec::new();
    for path in documents(&root) {
        let text = std::fs::read_to_string(&path).expect("a document");
        let found = blocks(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if !found.is_empty() {
            files.push((path, text, found));
        }
    }
    let named: Vec<&str> = files.iter().flat_map(|(_, _, b)| b).map(|b| b.name.as_str()).collect();
    assert!(!named.is_empty(), "no sample blocks in README.md or docs/*.md");
    for name in &named {
        assert!(
            commands.contains_key(*name),
            "sample {name} has no command in docs/tests.md's table"
        );
    }
    for name in commands.keys() {
        assert!(
            named.contains(&name.as_str()),
            "docs/tests.md lists {name}, but no block is marked so"
        );
    }

    // and the demo account in the emulator
    let moto = Moto::start().expect("moto");
    let seed = Command::new(venv_python().expect("the venv's python"))
        .current_dir(&root)
        .args([
            "scripts/seed.py",
            "--endpoint",
            &moto.endpoint,
            "seed",
            "--eksctl-role",
            "--quiet",
        ])
        .output()
        .expect("running scripts/seed.py");
    assert!(
        seed.status.success(),
        "seed.py: {}",
        String::from_utf8_lossy(&seed.stderr)
    );

    // When each command runs as the docs say
    let mut printed = BTreeMap::new();
    for (name, args) in &commands {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = run_cli(&moto.endpoint, &args).expect("ran eks-node-role-guard");
        assert_ne!(
            run.code,
            2,
            "{name}: eks-node-role-guard {} failed: {}",
            args.join(" "),
            run.stderr
        );
        printed.insert(name.clone(), run.stdout.replace(&moto.endpoint, DOCUMENTED_ENDPOINT));
    }

    // Then every block holds what it printed (or, when updating, is made to)
    let mut wrong = Vec::new();
    for (path, text, found) in &files {
        let shown = path.strip_prefix(&root).unwrap_or(path).display().to_string();
        if update {
            let new = rewritten(text, found, |name| printed[name].clone());
            if new != *text {
                std::fs::write(path, new).expect("rewriting the document");
                eprintln!("rewrote the sample blocks of {shown}");
            }
            continue;
        }
        for block in found {
            let (documented, actual) = (
                normalised(&text[block.content.clone()]),
                normalised(&printed[&block.name]),
            );
            if documented != actual {
                wrong.push(format!(
                    "{shown}:{} sample {}: {}",
                    block.line,
                    block.name,
                    first_difference(&documented, &actual)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "sample output that the commands no longer print (UPDATE_SAMPLES=1 cargo test -p noderole-integration \
         --test doc_samples rewrites the blocks):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn blocks_are_found_and_only_their_content_is_rewritten() {
    let text = "intro\n<!-- sample: one -->\n```text\nold 1\nold 2\n```\n<!-- /sample -->\nmiddle ```text\n\
                <!-- sample: two -->\n```text\n```\n<!-- /sample -->\nend\n";
    let found = blocks(text).expect("well formed");
    let names: Vec<(&str, usize)> = found.iter().map(|b| (b.name.as_str(), b.line)).collect();
    assert_eq!(names, [("one", 2), ("two", 9)]);
    assert_eq!(&text[found[0].content.clone()], "old 1\nold 2\n");
    assert_eq!(&text[found[1].content.clone()], "");
    assert_eq!(
        rewritten(text, &found, |name| format!("new {name}\n")),
        "intro\n<!-- sample: one -->\n```text\nnew one\n```\n<!-- /sample -->\nmiddle ```text\n\
         <!-- sample: two -->\n```text\nnew two\n```\n<!-- /sample -->\nend\n"
    );
}

#[test]
fn a_malformed_block_names_its_line() {
    let unclosed = "a\n<!-- sample: x -->\n```text\nno end\n";
    assert_eq!(
        blocks(unclosed).unwrap_err(),
        "line 2: sample x: its fence is never closed"
    );
    let no_fence = "<!-- sample: x -->\n```sh\nls\n```\n<!-- /sample -->\n";
    assert!(
        blocks(no_fence)
            .unwrap_err()
            .starts_with("line 1: sample x: the next line must be")
    );
    let no_end_marker = "<!-- sample: x -->\n```text\nout\n```\nprose\n";
    assert!(
        blocks(no_end_marker)
            .unwrap_err()
            .contains("the line after its fence must be")
    );
    let stray = "text\n<!-- /sample -->\n";
    assert!(blocks(stray).unwrap_err().starts_with("line 2:"));
}

#[test]
fn the_table_gives_each_sample_its_arguments() {
    let tests_md = "# Tests\n\n## Sample output\n\n| block | file | command |\n|---|---|---|\n\
                    | `audit-table` | [audit.md](audit.md) | `eks-node-role-guard audit --regions us-east-1 --exempt-roles 'a b'` |\n\
                    \n## Layout\n\n| `not-a-sample` | x | `ls` |\n";
    assert_eq!(
        commands(tests_md).expect("parsed"),
        BTreeMap::from([(
            "audit-table".to_owned(),
            ["audit", "--regions", "us-east-1", "--exempt-roles", "a b"]
                .map(String::from)
                .to_vec()
        )])
    );
    let other = "## Sample output\n\n| `x` | f | `aws iam list-roles` |\n";
    assert!(commands(other).unwrap_err().contains("not eks-node-role-guard"));
}

#[test]
fn ports_and_timestamps_do_not_count_words_do() {
    assert_eq!(
        normalised("http://127.0.0.1:41234/ at 2026-12-02T06:01:48.123Z and 2026-12-02T06:01:48+00:00."),
        "http://127.0.0.1:PORT/ at TIMESTAMP and TIMESTAMP."
    );
    assert_eq!(normalised("127.0.0.1: no port"), "127.0.0.1: no port");
    assert_ne!(
        normalised("2 would lose 6 policies"),
        normalised("1 would lose 1 policy")
    );
}
