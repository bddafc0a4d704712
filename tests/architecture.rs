//! Imports point one way: the reference server's module graph has no circle, and its layers
//! (ARCHITECTURE-server.md draws them) are only ever imported from above.
//!
//! The graph is read from the source text, not from the compiler, so it costs no build and says
//! exactly which line made an edge:
//! - Each `.rs` file under `src/` is a module: `lib.rs` is the crate root, `gateway/mod.rs` is
//!   `gateway`, `gateway/bus.rs` is `gateway::bus`. `main.rs` is left out (it is its own crate and
//!   reaches the library by name). Inline modules (`mod tests { … }`) belong to their file.
//! - Comments, string and character literals are blanked first, so doc links and text are not
//!   edges. `mod` declarations are containment, not edges.
//! - An edge is any path, in a `use` (braces expanded) or inline in code, that starts with `crate`,
//!   `super`, `self` or the name of a child module of the module it is written in; it points at
//!   the deepest existing module the path names (`crate::store::redis::RedisTarget` →
//!   `store::redis`). An item re-exported at the crate root (`crate::AppState`) points at the root.
//!   Method calls on a value are not paths and make no edge.
//!
//! **Granularity.** A node is a top-level module (`config`, `auth`), or for the directories named
//! in the `split` list a module one level down (`gateway::bus`, `overload::hot`); anything deeper
//! folds into that (`store::redis::lua` is `store::redis`). The crate root is the node `crate`.
//! Edges from a node to itself are dropped.
//!
//! The functions here take any `src/` directory and any layer table, so the same checks can be
//! pointed at another crate of the workspace.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The import graph of one crate: node → node it imports → where (`file:line`) it does so.
#[derive(Debug, Default)]
pub struct ModuleGraph {
    /// Every node, edges or not.
    pub nodes: BTreeSet<String>,
    /// `from → to → evidence`, at most a few `file:line` places per edge.
    pub edges: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl ModuleGraph {
    /// The nodes `from` imports.
    pub fn targets(&self, from: &str) -> impl Iterator<Item = &String> {
        self.edges.get(from).into_iter().flat_map(|m| m.keys())
    }

    /// Where `from` imports `to`, for messages.
    pub fn evidence(&self, from: &str, to: &str) -> String {
        self.edges
            .get(from)
            .and_then(|m| m.get(to))
            .map(|places| places.join(", "))
            .unwrap_or_default()
    }

    /// One line per edge, `from → to`, for a failing test's output.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (from, tos) in &self.edges {
            let tos: Vec<&str> = tos.keys().map(String::as_str).collect();
            let _ = writeln!(out, "  {from} → {}", tos.join(", "));
        }
        out
    }
}

/// One source file and the module it is.
struct SourceFile {
    /// Module path of the file (`[]` for the crate root).
    module: Vec<String>,
    /// Path relative to the crate's `src/`, for evidence.
    shown: String,
    /// The text with comments and literals blanked (lines kept).
    code: String,
}

/// Reads every `.rs` file under `src` into the module graph. `split` names the top-level
/// directories whose submodules are nodes of their own.
pub fn read_graph(src: &Path, split: &[&str]) -> ModuleGraph {
    let mut files = Vec::new();
    collect_files(src, src, &mut files);
    files.sort_by(|a, b| a.shown.cmp(&b.shown));

    // Every module that exists, with the module of the file that holds it (inline modules belong
    // to their file's node).
    let mut known: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for file in &files {
        known.insert(file.module.clone(), file.module.clone());
        for (inline, _) in inline_modules(&file.code) {
            let mut path = file.module.clone();
            path.extend(inline);
            known.insert(path, file.module.clone());
        }
    }
    let node_of = |module: &[String]| -> String {
        let file = known.get(module).map_or(module, Vec::as_slice);
        match file {
            [] => "crate".to_owned(),
            [top, sub, ..] if split.contains(&top.as_str()) => format!("{top}::{sub}"),
            [top, ..] => top.clone(),
        }
    };

    let mut graph = ModuleGraph::default();
    for file in &files {
        let from = node_of(&file.module);
        graph.nodes.insert(from.clone());
        for (line, scope, path) in crate_paths(&file.code) {
            let mut here = file.module.clone();
            here.extend(scope);
            let Some(target) = resolve(&here, &path, &known) else {
                continue;
            };
            let to = node_of(&target);
            if to == from {
                continue;
            }
            let places = graph
                .edges
                .entry(from.clone())
                .or_default()
                .entry(to)
                .or_default();
            let place = format!("{}:{line}", file.shown);
            if places.len() < 3 && !places.contains(&place) {
                places.push(place);
            }
        }
    }
    let targets: Vec<String> = graph
        .edges
        .values()
        .flat_map(|m| m.keys().cloned())
        .collect();
    graph.nodes.extend(targets);
    graph
}

fn collect_files(src: &Path, dir: &Path, out: &mut Vec<SourceFile>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect_files(src, &path, out);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(src).expect("under src");
        let mut module: Vec<String> = rel
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        let last = module.pop().expect("a file name");
        let stem = last.trim_end_matches(".rs");
        match (module.is_empty(), stem) {
            // The binary is a crate of its own; it reaches the library by name.
            (true, "main") => continue,
            (true, "lib") | (false, "mod") => {}
            _ => module.push(stem.to_owned()),
        }
        let text = std::fs::read_to_string(&path).expect("readable source");
        out.push(SourceFile {
            module,
            shown: rel.display().to_string(),
            code: blank_comments_and_literals(&text),
        });
    }
}

/// Replaces comments, string literals and character literals with spaces, keeping newlines, so
/// that what is left is code and line numbers still match.
pub fn blank_comments_and_literals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                blank(&mut out, chars[i]);
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            // Block comments nest in Rust.
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    blank(&mut out, chars[i]);
                    blank(&mut out, chars[i + 1]);
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    blank(&mut out, chars[i]);
                    blank(&mut out, chars[i + 1]);
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
            continue;
        }
        let ident_before = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        // Raw strings: r"…", r#"…"#, br"…" (no escapes inside).
        if !ident_before && (c == 'r' || (c == 'b' && next == Some('r'))) {
            let start = if c == 'b' { i + 2 } else { i + 1 };
            let hashes = chars[start..].iter().take_while(|&&h| h == '#').count();
            if chars.get(start + hashes) == Some(&'"') {
                let close: Vec<char> = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let mut j = start + hashes + 1;
                while j < chars.len() && !chars[j..].starts_with(&close) {
                    j += 1;
                }
                let end = (j + close.len()).min(chars.len());
                for &ch in &chars[i..end] {
                    blank(&mut out, ch);
                }
                i = end;
                continue;
            }
        }
        if c == '"' {
            blank(&mut out, c);
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
                if i < chars.len() {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
            if i < chars.len() {
                blank(&mut out, chars[i]);
                i += 1;
            }
            continue;
        }
        if c == '\'' {
            // A character literal ('x', '\n', '\u{1F600}'), not a lifetime ('a).
            let literal_end = if next == Some('\\') {
                chars[i + 2..]
                    .iter()
                    .position(|&ch| ch == '\'')
                    .map(|p| i + 2 + p)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            if let Some(end) = literal_end {
                for &ch in &chars[i..=end] {
                    blank(&mut out, ch);
                }
                i = end + 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// A token of blanked code: an identifier, `::`, or one punctuation character.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

/// Tokens with their line numbers (1-based).
fn tokens(code: &str) -> Vec<(usize, Token)> {
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c.is_alphabetic() || c == '_' {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push((n + 1, Token::Ident(chars[start..i].iter().collect())));
            } else if c == ':' && chars.get(i + 1) == Some(&':') {
                out.push((n + 1, Token::PathSep));
                i += 2;
            } else if c.is_whitespace() || c.is_ascii_digit() {
                i += 1;
            } else {
                out.push((n + 1, Token::Punct(c)));
                i += 1;
            }
        }
    }
    out
}

/// Inline modules (`mod name { … }`), as paths relative to the file, with the token range of
/// their bodies.
fn inline_modules(code: &str) -> Vec<(Vec<String>, std::ops::Range<usize>)> {
    let toks = tokens(code);
    let mut found = Vec::new();
    let mut open: Vec<(String, usize, usize)> = Vec::new(); // name, depth at open, body start
    let mut depth = 0usize;
    for (i, (_, tok)) in toks.iter().enumerate() {
        match tok {
            Token::Punct('{') => {
                let is_mod = i >= 2
                    && toks[i - 2].1 == Token::Ident("mod".into())
                    && matches!(toks[i - 1].1, Token::Ident(_));
                if is_mod && let Token::Ident(name) = &toks[i - 1].1 {
                    open.push((name.clone(), depth, i));
                }
                depth += 1;
            }
            Token::Punct('}') => {
                depth = depth.saturating_sub(1);
                if open.last().is_some_and(|(_, d, _)| *d == depth) {
                    let (_, _, start) = open.pop().expect("checked");
                    let mut path: Vec<String> = open.iter().map(|(n, _, _)| n.clone()).collect();
                    let name = match &toks[start - 1].1 {
                        Token::Ident(n) => n.clone(),
                        _ => unreachable!("an inline module has a name"),
                    };
                    path.push(name);
                    found.push((path, start..i));
                }
            }
            _ => {}
        }
    }
    found
}

/// Every path in `code` that may name a module of the crate: `(line, inline module scope, path)`.
/// `use` trees are expanded; inline paths are taken where they start (not after `::` or `.`).
fn crate_paths(code: &str) -> Vec<(usize, Vec<String>, Vec<String>)> {
    let toks = tokens(code);
    let scopes = inline_modules(code);
    let scope_at = |i: usize| -> Vec<String> {
        scopes
            .iter()
            .filter(|(_, range)| range.contains(&i))
            .max_by_key(|(path, _)| path.len())
            .map(|(path, _)| path.clone())
            .unwrap_or_default()
    };
    let ident = |i: usize| match toks.get(i) {
        Some((_, Token::Ident(s))) => Some(s.as_str()),
        _ => None,
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if ident(i) == Some("use") {
            let end = (i..toks.len())
                .find(|&j| toks[j].1 == Token::Punct(';'))
                .unwrap_or(toks.len());
            let mut paths = Vec::new();
            let mut pos = i + 1;
            // `::std::…`: an absolute path to another crate.
            if toks.get(pos).map(|t| &t.1) != Some(&Token::PathSep) {
                expand_use(&toks[..end], &mut pos, Vec::new(), &mut paths);
            }
            let scope = scope_at(i);
            for path in paths {
                out.push((toks[i].0, scope.clone(), path));
            }
            i = end + 1;
            continue;
        }
        let starts_path = ident(i).is_some()
            && toks.get(i + 1).map(|t| &t.1) == Some(&Token::PathSep)
            && (i == 0
                || !matches!(
                    toks[i - 1].1,
                    Token::PathSep | Token::Punct('.') | Token::Punct('$')
                ));
        if starts_path {
            let mut path = Vec::new();
            let mut j = i;
            while let Some(seg) = ident(j) {
                path.push(seg.to_owned());
                if toks.get(j + 1).map(|t| &t.1) == Some(&Token::PathSep) {
                    j += 2;
                } else {
                    break;
                }
            }
            out.push((toks[i].0, scope_at(i), path));
            i = j + 1;
            continue;
        }
        i += 1;
    }
    out
}

/// Expands one use tree starting at `pos` (`a::b::{c, d::e as f, g::*}`) into full paths.
fn expand_use(
    toks: &[(usize, Token)],
    pos: &mut usize,
    prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) {
    let mut path = prefix;
    loop {
        match toks.get(*pos).map(|t| &t.1) {
            Some(Token::Ident(seg)) if seg == "as" => {
                *pos += 2; // `as name`: the alias does not change what is imported
                out.push(path);
                return;
            }
            Some(Token::Ident(seg)) => {
                path.push(seg.clone());
                *pos += 1;
            }
            Some(Token::PathSep) => *pos += 1,
            Some(Token::Punct('*')) => {
                *pos += 1;
                out.push(path);
                return;
            }
            Some(Token::Punct('{')) => {
                *pos += 1;
                loop {
                    match toks.get(*pos).map(|t| &t.1) {
                        Some(Token::Punct('}')) => {
                            *pos += 1;
                            return;
                        }
                        Some(Token::Punct(',')) => *pos += 1,
                        None => return,
                        Some(_) => expand_use(toks, pos, path.clone(), out),
                    }
                }
            }
            _ => {
                out.push(path);
                return;
            }
        }
    }
}

/// The deepest existing module `path` names when written in module `here`; `None` when it does not
/// start inside the crate.
fn resolve(
    here: &[String],
    path: &[String],
    known: &BTreeMap<Vec<String>, Vec<String>>,
) -> Option<Vec<String>> {
    let (mut current, rest): (Vec<String>, &[String]) = match path.first()?.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (here.to_vec(), &path[1..]),
        "super" => {
            let mut base = here.to_vec();
            let mut rest = path;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
            (base, rest)
        }
        first => {
            let mut child = here.to_vec();
            child.push(first.to_owned());
            if !known.contains_key(&child) {
                return None;
            }
            (here.to_vec(), path)
        }
    };
    for seg in rest {
        current.push(seg.clone());
        if !known.contains_key(&current) {
            current.pop();
            break;
        }
    }
    Some(current)
}

/// Circles of the graph, each written as `a → b → … → a`: for every strongly connected component of
/// more than one node, the shortest circle through each of its members (duplicates dropped). Empty
/// when imports point one way.
pub fn cycles(graph: &ModuleGraph) -> Vec<Vec<String>> {
    // Tarjan's strongly connected components, recursive: module graphs are small.
    struct Tarjan<'g> {
        graph: &'g ModuleGraph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        components: Vec<Vec<&'g str>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            let graph = self.graph;
            let targets: Vec<&'g str> = graph.targets(v).map(String::as_str).collect();
            for w in targets {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.components.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for v in &graph.nodes {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    // Per component, the shortest circle through each member: together they show every node
    // that takes part and how.
    let mut circles: Vec<Vec<String>> = Vec::new();
    for component in t.components {
        let members: BTreeSet<&str> = component.iter().copied().collect();
        for start in &members {
            let circle = circle_through(graph, start, &members);
            let same = |c: &Vec<String>| {
                let set: BTreeSet<&String> = c.iter().collect();
                set == circle.iter().collect::<BTreeSet<_>>() && c.len() == circle.len()
            };
            if !circles.iter().any(same) {
                circles.push(circle);
            }
        }
    }
    circles
}

/// A shortest circle from `start` back to itself inside `members` (breadth-first).
fn circle_through(graph: &ModuleGraph, start: &str, members: &BTreeSet<&str>) -> Vec<String> {
    let mut came_from: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.to_owned()]);
    while let Some(v) = queue.pop_front() {
        for w in graph.targets(&v) {
            if !members.contains(w.as_str()) {
                continue;
            }
            if w == start {
                let mut circle = vec![start.to_owned()];
                let mut at = v.clone();
                while at != start {
                    circle.push(at.clone());
                    at = came_from[&at].clone();
                }
                circle.push(start.to_owned());
                circle.reverse();
                return circle;
            }
            if !came_from.contains_key(w) {
                came_from.insert(w.clone(), v.clone());
                queue.push_back(w.clone());
            }
        }
    }
    unreachable!("a strongly connected component has a circle through each member")
}

/// `a → b → a`, each step with the lines that make it.
pub fn describe_circle(graph: &ModuleGraph, circle: &[String]) -> String {
    let mut out = circle.join(" → ");
    for pair in circle.windows(2) {
        let _ = write!(
            out,
            "\n    {} → {}: {}",
            pair[0],
            pair[1],
            graph.evidence(&pair[0], &pair[1])
        );
    }
    out
}

/// One layer of a layer table: a name for messages, and the nodes in it as prefixes (`gateway`
/// covers `gateway::bus` unless a longer prefix in another layer claims it).
pub type Layer<'a> = (&'a str, &'a [&'a str]);

/// The layer of `node`: the one holding its longest matching prefix.
fn layer_of(node: &str, layers: &[Layer<'_>]) -> Option<usize> {
    let matches = |prefix: &str| node == prefix || node.starts_with(&format!("{prefix}::"));
    layers
        .iter()
        .enumerate()
        .flat_map(|(i, (_, prefixes))| {
            prefixes
                .iter()
                .filter(|p| matches(p))
                .map(move |p| (p.len(), i))
        })
        .max()
        .map(|(_, i)| i)
}

/// Breaches of a layer table listed top to bottom: a node in no layer, or an import of a node in a
/// higher layer than the importer's. Imports within one layer and downward are fine.
pub fn layer_violations(graph: &ModuleGraph, layers: &[Layer<'_>]) -> Vec<String> {
    let mut out = Vec::new();
    for node in &graph.nodes {
        if layer_of(node, layers).is_none() {
            out.push(format!(
                "{node} is in no layer: place it in the layer table"
            ));
        }
    }
    for (from, tos) in &graph.edges {
        let Some(lf) = layer_of(from, layers) else {
            continue;
        };
        for to in tos.keys() {
            let Some(lt) = layer_of(to, layers) else {
                continue;
            };
            if lt < lf {
                out.push(format!(
                    "{from} ({}) imports {to} ({}), a higher layer: {}",
                    layers[lf].0,
                    layers[lt].0,
                    graph.evidence(from, to)
                ));
            }
        }
    }
    out
}

/// Breaches of "`from` imports nothing under `to`" rules (peers that stay apart).
pub fn forbidden_imports(graph: &ModuleGraph, rules: &[(&str, &str)]) -> Vec<String> {
    let under =
        |node: &str, prefix: &str| node == prefix || node.starts_with(&format!("{prefix}::"));
    let mut out = Vec::new();
    for (from, tos) in &graph.edges {
        for to in tos.keys() {
            for (a, b) in rules {
                if under(from, a) && under(to, b) {
                    out.push(format!(
                        "{from} imports {to} ({a} never imports {b}): {}",
                        graph.evidence(from, to)
                    ));
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------- the reference server

fn server_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("reference-server/src")
}

/// The reference server's layers, top to bottom (ARCHITECTURE-server.md draws them). The crate root
/// (`lib.rs`: `app`, `start`) and `state` (`AppState`) wire every layer together, so they sit at the
/// top with `config`, which assembles each module's settings. Nothing imports the root: the
/// gateway takes its share of the state (`GatewayState`), so it never names `state` either.
const SERVER_LAYERS: &[Layer<'static>] = &[
    (
        "top: the doors (REST, sockets and sends), wiring",
        &["api", "gateway", "crate", "state", "config", "serve"],
    ),
    ("overload: decisions", &["overload"]),
    (
        "services",
        &["auth", "views", "ai", "error", "peer", "limit"],
    ),
    ("storage", &["store", "blob"]),
    ("ground floor", &["frame"]),
];

/// Asserts that the top-level modules of the crate under `src`, its root included, import each other
/// in no circle, and
/// that the graph holds the edge `seen` (so an empty reading cannot pass).
fn assert_no_circles(src: &Path, seen: (&str, &str)) {
    let graph = read_graph(src, &[]);
    assert!(
        graph.targets(seen.0).any(|t| t == seen.1),
        "the reader missed {} → {}:\n{}",
        seen.0,
        seen.1,
        graph.describe()
    );
    assert!(
        graph.nodes.len() > 5,
        "the graph looks empty; is {} a crate's source?\n{}",
        src.display(),
        graph.describe()
    );
    let circles = cycles(&graph);
    let report: Vec<String> = circles.iter().map(|c| describe_circle(&graph, c)).collect();
    assert!(
        circles.is_empty(),
        "imports go round in {} circle(s):\n  {}\n\nthe whole graph:\n{}",
        circles.len(),
        report.join("\n  "),
        graph.describe()
    );
}

#[test]
fn the_reference_server_has_no_circles() {
    assert_no_circles(&server_src(), ("gateway", "overload"));
}

#[test]
fn the_load_generator_has_no_circles() {
    assert_no_circles(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        ("engine", "base"),
    );
}

#[test]
fn the_reference_server_layers_point_down() {
    let graph = read_graph(&server_src(), &[]);
    // The reader sees the imports: the REST API stores, the gateway asks overload control.
    assert!(
        graph.targets("api").any(|t| t == "store"),
        "{}",
        graph.describe()
    );
    assert!(
        graph.targets("gateway").any(|t| t == "overload"),
        "{}",
        graph.describe()
    );
    let mut problems = layer_violations(&graph, SERVER_LAYERS);
    // The rule, spelled out for the lower floors: decisions and storage never reach up.
    let mut rules = Vec::new();
    for low in ["overload", "store", "blob"] {
        for high in ["gateway", "api", "config", "crate", "state"] {
            rules.push((low, high));
        }
    }
    for low in ["store", "blob"] {
        rules.push((low, "overload"));
    }
    // The gateway is handed its share of the state and never names what wires it.
    rules.extend([("gateway", "state"), ("gateway", "crate")]);
    problems.extend(forbidden_imports(&graph, &rules));
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "layer rule broken:\n  {}\n\nthe whole graph:\n{}",
        problems.join("\n  "),
        graph.describe()
    );
}

// ---------------------------------------------------------------------------- the checks themselves

/// A throwaway `src/` with the given files.
fn fixture(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

#[test]
fn a_circle_is_found_and_printed() {
    let src = fixture(&[
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
        ("a.rs", "use crate::b::Thing;\n"),
        ("b/mod.rs", "pub mod inner;\npub struct Thing;\n"),
        ("b/inner.rs", "pub fn f() { crate::c::g() }\n"),
        ("c.rs", "pub fn g() { let _ = super::a::X; }\n"),
    ]);
    let graph = read_graph(src.path(), &[]);
    let circles = cycles(&graph);
    assert_eq!(
        circles,
        vec![vec!["a", "b", "c", "a"]],
        "{}",
        graph.describe()
    );
    let text = describe_circle(&graph, &circles[0]);
    assert!(text.contains("b → c: b/inner.rs:1"), "{text}");
}

#[test]
fn comments_strings_and_tests_of_a_file_make_no_false_edges() {
    let src = fixture(&[
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        (
            "a.rs",
            "//! See [`crate::b`].\nconst S: &str = \"crate::b::X\";\nconst R: &str = r#\"crate::b\"#;\n\
             fn f<'a>(x: &'a str) -> char { let _ = x; 'c' }\n\
             #[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
        ),
        ("b.rs", "use crate::a;\n"),
    ]);
    let graph = read_graph(src.path(), &[]);
    assert!(cycles(&graph).is_empty(), "{}", graph.describe());
    assert_eq!(graph.targets("b").collect::<Vec<_>>(), ["a"]);
    assert_eq!(graph.targets("a").count(), 0, "{}", graph.describe());
}

#[test]
fn use_trees_child_modules_and_split_directories_resolve() {
    let src = fixture(&[
        (
            "lib.rs",
            "pub mod top;\npub mod low;\npub use low::Thing;\n",
        ),
        (
            "top/mod.rs",
            "pub mod x;\nuse crate::{low::{self, Thing as T}, top::x::*};\nuse x::Y;\n",
        ),
        (
            "top/x.rs",
            "use super::super::low::deep::Z;\npub struct Y;\n",
        ),
        ("low/mod.rs", "pub mod deep;\npub struct Thing;\n"),
        ("low/deep.rs", "pub struct Z;\n"),
    ]);
    let graph = read_graph(src.path(), &["top"]);
    assert_eq!(graph.targets("top").collect::<Vec<_>>(), ["low", "top::x"]);
    assert_eq!(graph.targets("top::x").collect::<Vec<_>>(), ["low"]);
    assert_eq!(graph.targets("crate").collect::<Vec<_>>(), ["low"]);
    let layers: &[Layer<'_>] = &[("up", &["crate", "top"]), ("down", &["low"])];
    assert!(layer_violations(&graph, layers).is_empty());
    let upside_down: &[Layer<'_>] = &[("up", &["low"]), ("down", &["crate", "top"])];
    let broken = layer_violations(&graph, upside_down);
    assert_eq!(broken.len(), 3, "{broken:?}");
    assert!(
        broken.iter().any(|b| b.contains("top/mod.rs:2")),
        "{broken:?}"
    );
}
