//! The house rules, checked: each top-level module sits on a floor and imports only from its
//! own floor's earlier stages or from floors below; the files of one module import each other
//! without a cycle; `types` imports nothing of the crate outside itself. Run with
//! `make check-layers` (`cargo test --workspace --lib layers`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Top-level modules, bottom floor first. Within floors 1 and 2 a module may use one listed
/// before it, never one after: the stages of floor 2 are listed in the order data flows.
const FLOORS: &[(&str, u8)] = &[
    ("types", 0),
    ("invocation", 1),
    ("config", 1),
    ("ports", 1),
    ("event", 2),
    ("discovery", 2),
    ("verdict", 2),
    ("action", 2),
    ("telling", 2),
    ("running", 3),
    // the rim: adapters implement ports over the SDK and see only floors 0 and 1
    ("aws", 4),
];

/// What the rim may import.
const RIM_MAY_USE: &[&str] = &["types", "ports", "config", "invocation"];

fn position(module: &str) -> Option<(usize, u8)> {
    FLOORS
        .iter()
        .position(|(name, _)| *name == module)
        .map(|i| (i, FLOORS[i].1))
}

/// Whether `from` may import `to`.
fn allowed(from: &str, to: &str) -> bool {
    if from == to {
        return true;
    }
    let (Some((from_at, from_floor)), Some((to_at, to_floor))) = (position(from), position(to)) else {
        return false;
    };
    match from_floor {
        4 => RIM_MAY_USE.contains(&to),
        1 | 2 if to_floor == from_floor => to_at < from_at,
        _ => to_floor < from_floor,
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, as a path relative to `src/`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.strip_prefix(src()).expect("under src").to_path_buf());
        }
    }
}

/// The top-level module a file belongs to (`running/sweep.rs` -> `running`; `lib.rs` -> none).
fn top(file: &Path) -> Option<String> {
    let first = file.components().next()?.as_os_str().to_str()?.to_owned();
    (first != "lib.rs" && first != "layers.rs").then(|| first.trim_end_matches(".rs").to_owned())
}

/// The path segments after each `crate::` in `text`, comments left out.
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let path: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            paths.push(path.split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect());
            rest = after;
        }
    }
    paths
}

/// The sibling files of one module that a file names (`crate::running::sweep::X` or
/// `super::sweep::X` seen from `running/handler.rs` -> `sweep`).
fn sibling_uses(module: &str, text: &str, siblings: &BTreeSet<String>) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for path in crate_paths(text) {
        if path.first().map(String::as_str) == Some(module)
            && let Some(file) = path.get(1).filter(|f| siblings.contains(*f))
        {
            used.insert(file.clone());
        }
    }
    for (at, _) in text.match_indices("super::") {
        let name: String = text[at + "super::".len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if siblings.contains(&name) {
            used.insert(name);
        }
    }
    used
}

fn has_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn every_import_goes_down_a_floor_or_along_the_pipeline() {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let mut wrong = Vec::new();
    for file in &all {
        let Some(from) = top(file) else { continue };
        // an adapter's own tests may build their inputs with the core
        let test_file = file
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with("tests.rs"));
        if from == "aws" && test_file {
            continue;
        }
        let text = fs::read_to_string(src().join(file)).expect("readable");
        for path in crate_paths(&text) {
            let Some(to) = path.first() else { continue };
            if position(to).is_some() && !allowed(&from, to) {
                wrong.push(format!("{} uses crate::{}", file.display(), path.join("::")));
            }
        }
    }
    assert!(wrong.is_empty(), "imports that go up a floor:\n{}", wrong.join("\n"));
}

#[test]
fn the_files_of_each_module_import_each_other_without_a_cycle() {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for file in all {
        if let Some(module) = top(&file)
            && file.components().count() > 1
        {
            modules.entry(module).or_default().push(file);
        }
    }
    assert!(modules.len() >= 9, "the module tree was not read: {modules:?}");
    for (module, files) in &modules {
        let name = |f: &PathBuf| f.file_stem().and_then(|s| s.to_str()).unwrap_or("").to_owned();
        let siblings: BTreeSet<String> = files.iter().map(name).filter(|n| n != "mod").collect();
        let graph: BTreeMap<String, BTreeSet<String>> = files
            .iter()
            .filter(|f| name(f) != "mod")
            .map(|f| {
                let text = fs::read_to_string(src().join(f)).expect("readable");
                let mut used = sibling_uses(module, &text, &siblings);
                used.remove(&name(f));
                (name(f), used)
            })
            .collect();
        assert_eq!(has_cycle(&graph), None, "an import cycle among the files of {module}");
    }
}

#[test]
fn the_checker_sees_a_wrong_import_and_a_cycle() {
    // Given imports that break the rules, the checks must say so (else they prove nothing)
    assert!(!allowed("types", "ports"));
    assert!(!allowed("discovery", "verdict"));
    assert!(!allowed("aws", "running"));
    assert!(allowed("verdict", "discovery"));
    assert!(allowed("running", "types"));
    assert_eq!(
        crate_paths("use crate::types::{Report, Outcome}; // crate::running"),
        vec![vec!["types".to_owned()]]
    );
    let graph = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert!(has_cycle(&graph).is_some());
}
