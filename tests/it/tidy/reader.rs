//! The reader behind the tidy checks: a small tokenizer that drops comments and literals,
//! `use` trees expanded, and every path resolved through the module's imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

// ---- the tokenizer ----

/// Rust source as tokens: identifiers and keywords, `::`, and single punctuation characters.
/// Comments, whitespace, lifetimes and literals are dropped (a literal leaves `"`), so that no
/// word inside a string or a comment is taken for code.
pub(super) fn tokens(source: &str) -> Vec<String> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            let start = i;
            i = skip_string(&chars, i);
            out.push(literal(&chars[start..i.min(chars.len())]));
        } else if c == '\'' {
            i = skip_quote(&chars, i, &mut out);
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let here = chars.get(i).copied();
            if matches!(word.as_str(), "r" | "br" | "cr") && matches!(here, Some('"' | '#')) {
                if let Some(end) = skip_raw_string(&chars, i) {
                    out.push(literal(&chars[i..end.min(chars.len())]));
                    i = end;
                    continue;
                }
                if word == "r" && here == Some('#') {
                    i += 1; // r#ident: the identifier comes next.
                    continue;
                }
            }
            if matches!(word.as_str(), "b" | "c") && here == Some('"') {
                let start = i;
                i = skip_string(&chars, i);
                out.push(literal(&chars[start..i.min(chars.len())]));
            } else if word == "b" && here == Some('\'') {
                i = skip_quote(&chars, i, &mut out);
            } else {
                out.push(word);
            }
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push("0".to_owned());
        } else if c == ':' && next == Some(':') {
            out.push("::".to_owned());
            i += 2;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

/// A string literal's token: `"` and its text as written, escaped quotes unescaped (so that
/// `"{\"a\":1}"` and `r#"{"a":1}"#` read alike); no path starts with `"`.
pub(super) fn literal(written: &[char]) -> String {
    let text: String = written.iter().collect();
    let body = text.trim_start_matches('#').trim_end_matches('#');
    let body = body.strip_prefix('"').unwrap_or(body);
    let body = body.strip_suffix('"').unwrap_or(body);
    format!("\"{}", body.replace("\\\"", "\""))
}

/// Skips a string literal whose opening quote is at `i`; returns the index after it.
fn skip_string(chars: &[char], mut i: usize) -> usize {
    i += 1;
    while i < chars.len() && chars[i] != '"' {
        i += if chars[i] == '\\' { 2 } else { 1 };
    }
    i + 1
}

/// Skips a raw string whose hashes or quote start at `i`, if one does.
fn skip_raw_string(chars: &[char], mut i: usize) -> Option<usize> {
    let mut hashes = 0;
    while chars.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    if chars.get(i) != Some(&'"') {
        return None;
    }
    i += 1;
    loop {
        if i >= chars.len() {
            return Some(i);
        }
        if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
            return Some(i + 1 + hashes);
        }
        i += 1;
    }
}

/// Skips a character literal or a lifetime whose quote is at `i`.
fn skip_quote(chars: &[char], mut i: usize, out: &mut Vec<String>) -> usize {
    i += 1;
    if chars.get(i) == Some(&'\\') {
        while i < chars.len() && chars[i] != '\'' {
            i += if chars[i] == '\\' { 2 } else { 1 };
        }
        out.push("\"".to_owned());
        return i + 1;
    }
    if chars.get(i + 1) == Some(&'\'') {
        out.push("\"".to_owned());
        return i + 2;
    }
    // A lifetime or a label: its name is not a path.
    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
        i += 1;
    }
    i
}

// ---- modules, imports and paths ----

/// One source file: its module path, the paths it uses (resolved), and what it declares.
pub(super) struct Module {
    pub(super) file: String,
    pub(super) path: Vec<String>,
    /// Each path the code names, resolved through the imports, as `a::b::c`; macros as
    /// `std::name` when they are the standard library's.
    pub(super) used: BTreeSet<String>,
    /// Child modules declared with `mod x;` or `mod x { .. }`.
    pub(super) children: BTreeSet<String>,
    /// Child modules declared under `#[cfg(test)]`.
    pub(super) test_children: BTreeSet<String>,
    /// `async` or `.await` appears outside tests.
    pub(super) is_async: bool,
    /// The string literals outside tests, as [`literal`] writes them.
    pub(super) literals: Vec<String>,
}

/// One `use` leaf: its full path and the name it binds.
#[derive(Debug, PartialEq)]
struct Import {
    path: Vec<String>,
    binds: Option<String>,
}

/// Expands the `use` tree starting at `tokens[i]` (after `use`) under `prefix`.
fn use_tree(tokens: &[String], mut i: usize, prefix: &[String], out: &mut Vec<Import>) -> usize {
    let mut path = prefix.to_vec();
    if tokens.get(i).map(String::as_str) == Some("::") {
        i += 1;
    }
    loop {
        match tokens.get(i).map(String::as_str) {
            Some("{") => {
                i += 1;
                while i < tokens.len() && tokens[i] != "}" {
                    i = use_tree(tokens, i, &path, out);
                    if tokens.get(i).map(String::as_str) == Some(",") {
                        i += 1;
                    }
                }
                return i + 1;
            }
            Some("*") => {
                out.push(Import { path, binds: None });
                return i + 1;
            }
            Some(segment) => {
                if segment != "self" {
                    path.push(segment.to_owned());
                }
                i += 1;
                if tokens.get(i).map(String::as_str) == Some("::") {
                    i += 1;
                    continue;
                }
                let mut binds = path.last().cloned();
                if tokens.get(i).map(String::as_str) == Some("as") {
                    binds = tokens.get(i + 1).filter(|name| *name != "_").cloned();
                    i += 2;
                }
                out.push(Import { path, binds });
                return i;
            }
            None => return i,
        }
    }
}

/// Skips the item after a `#[cfg(test)]` (and its other attributes); returns the index after
/// it and, for `mod name`, the name.
fn skip_item(tokens: &[String], mut i: usize) -> (usize, Option<String>) {
    while tokens.get(i).map(String::as_str) == Some("#") {
        i = skip_group(tokens, i + 1);
    }
    let module = tokens
        .iter()
        .skip(i)
        .take(6)
        .position(|t| t == "mod")
        .and_then(|at| tokens.get(i + at + 1).cloned());
    while i < tokens.len() {
        match tokens[i].as_str() {
            ";" => return (i + 1, module),
            "{" | "(" | "[" => {
                let end = skip_group(tokens, i);
                if tokens[i] == "{" {
                    return (end, module);
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    (i, module)
}

/// Skips the bracketed group opening at `tokens[i]`; returns the index after its close.
fn skip_group(tokens: &[String], mut i: usize) -> usize {
    let mut depth = 0_i32;
    while i < tokens.len() {
        match tokens[i].as_str() {
            "{" | "(" | "[" => depth += 1,
            "}" | ")" | "]" => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// The code's tokens without the items under `#[cfg(test)]`, and those items' module names.
fn outside_tests(tokens: &[String]) -> (Vec<String>, BTreeSet<String>) {
    const CFG_TEST: [&str; 7] = ["#", "[", "cfg", "(", "test", ")", "]"];
    let mut kept = Vec::new();
    let mut test_modules = BTreeSet::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens.len() - i >= CFG_TEST.len()
            && tokens[i..i + CFG_TEST.len()]
                .iter()
                .zip(CFG_TEST)
                .all(|(t, want)| t == want)
        {
            let (end, module) = skip_item(tokens, i + CFG_TEST.len());
            test_modules.extend(module);
            i = end;
        } else {
            kept.push(tokens[i].clone());
            i += 1;
        }
    }
    (kept, test_modules)
}

/// The module path of a file under `src/`: `a/b.rs` and `a/b/mod.rs` are `a::b`; `lib.rs` and
/// `main.rs` are crate roots.
pub(super) fn module_path(relative: &Path) -> Vec<String> {
    let mut path: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if matches!(
        path.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        path.pop();
    }
    path
}

/// Resolves `path` as written in `module` (with its `children`) to a full path: `crate`,
/// `self`, `super` and this crate's name become the module path; a first segment that a
/// child module or an import binds is replaced by what it names.
fn resolve(
    path: &[String],
    module: &[String],
    children: &BTreeSet<String>,
    imports: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let Some(first) = path.first() else {
        return Vec::new();
    };
    let mut base: Vec<String> = match first.as_str() {
        "crate" | "cloudreve_autoselect" => vec!["crate".to_owned()],
        "self" | "super" => {
            let mut base = module.to_vec();
            for segment in path.iter().take_while(|s| *s == "self" || *s == "super") {
                if segment == "super" {
                    base.pop();
                }
            }
            let skipped = path.iter().take_while(|s| *s == "self" || *s == "super");
            let rest = path[skipped.count()..].to_vec();
            return ["crate".to_owned()]
                .into_iter()
                .chain(base)
                .chain(rest)
                .collect();
        }
        name if children.contains(name) => ["crate".to_owned()]
            .into_iter()
            .chain(module.iter().cloned())
            .chain([name.to_owned()])
            .collect(),
        name => match imports.get(name) {
            Some(full) => full.clone(),
            None => vec![name.to_owned()],
        },
    };
    base.extend(path[1..].iter().cloned());
    base
}

/// Reads one file: its imports, every path it names, its child modules.
pub(super) fn read_module(file: String, module: Vec<String>, source: &str) -> Module {
    let all = tokens(source);
    let (code, test_children) = outside_tests(&all);
    let mut children = BTreeSet::new();
    for (i, token) in code.iter().enumerate() {
        if token == "mod" {
            children.extend(code.get(i + 1).cloned());
        }
    }
    let mut raw_imports = Vec::new();
    for (i, token) in code.iter().enumerate() {
        if token == "use" {
            use_tree(&code, i + 1, &[], &mut raw_imports);
        }
    }
    let no_imports = BTreeMap::new();
    let mut imports = BTreeMap::new();
    let mut used = BTreeSet::new();
    for import in &raw_imports {
        let full = resolve(&import.path, &module, &children, &no_imports);
        if let Some(name) = &import.binds {
            imports.insert(name.clone(), full.clone());
        }
        used.insert(full.join("::"));
    }
    let mut is_async = false;
    let mut i = 0;
    while i < code.len() {
        let token = &code[i];
        let previous = i.checked_sub(1).map(|p| code[p].as_str());
        let starts_path = token.starts_with(|c: char| c.is_alphabetic() || c == '_')
            && !matches!(previous, Some("::" | "." | "use" | "mod"));
        if token == "async" || (token == "await" && previous == Some(".")) {
            is_async = true;
        }
        if !starts_path {
            i += 1;
            continue;
        }
        let mut path = vec![token.clone()];
        i += 1;
        while code.get(i).map(String::as_str) == Some("::")
            && code
                .get(i + 1)
                .is_some_and(|t| t.starts_with(|c: char| c.is_alphabetic() || c == '_'))
        {
            path.push(code[i + 1].clone());
            i += 2;
        }
        if path.len() == 1 && code.get(i).map(String::as_str) == Some("!") {
            if matches!(
                token.as_str(),
                "println" | "eprintln" | "print" | "eprint" | "dbg"
            ) {
                used.insert(format!("std::{token}"));
            }
            continue;
        }
        if path.len() > 1 || imports.contains_key(token) {
            used.insert(resolve(&path, &module, &children, &imports).join("::"));
        }
    }
    let literals = code
        .iter()
        .filter(|t| t.starts_with('"'))
        .cloned()
        .collect();
    Module {
        file,
        path: module,
        used,
        children,
        test_children,
        is_async,
        literals,
    }
}

/// Every `.rs` file under `src/`, read; those only compiled for tests are left out.
pub(super) fn modules() -> Vec<Module> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = rust_files(std::slice::from_ref(&root));
    let all: Vec<Module> = files
        .iter()
        .map(|path| {
            let relative = path.strip_prefix(&root).unwrap();
            read_module(
                relative.to_string_lossy().into_owned(),
                module_path(relative),
                &std::fs::read_to_string(path).unwrap(),
            )
        })
        .collect();
    let test_only = child_paths(&all, |m| &m.test_children);
    all.into_iter()
        .filter(|m| {
            !test_only
                .iter()
                .any(|test| m.path.starts_with(test) && !test.is_empty())
        })
        .collect()
}

/// The module paths of the children that `children` picks from each module.
pub(super) fn child_paths(
    modules: &[Module],
    children: impl Fn(&Module) -> &BTreeSet<String>,
) -> BTreeSet<Vec<String>> {
    modules
        .iter()
        .flat_map(|m| {
            children(m)
                .iter()
                .map(|child| m.path.iter().cloned().chain([child.clone()]).collect())
        })
        .collect()
}

pub(super) fn starts_with_path(path: &str, prefix: &str) -> bool {
    path == prefix || path.starts_with(&format!("{prefix}::"))
}

/// The module that `path` (a resolved `crate::...` path) names or lies in, if it is one of
/// `modules`: the one with the longest module path that is a prefix of it.
pub(super) fn owner<'m>(modules: &'m [Module], path: &str) -> Option<&'m Module> {
    let segments: Vec<&str> = path.split("::").skip(1).collect();
    modules
        .iter()
        .filter(|m| {
            !m.path.is_empty()
                && segments.starts_with(&m.path.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .max_by_key(|m| m.path.len())
}

/// Every `.rs` file under `roots`, sorted (only Rust files are modules: src/rules/presets/
/// holds TOML).
pub(super) fn rust_files(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = roots.to_vec();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

// ---- the reader itself: what it sees and what it does not ----

pub(super) fn read(source: &str) -> Module {
    read_module("x.rs".into(), vec!["a".into(), "b".into()], source)
}

#[test]
fn the_tokenizer_ignores_comments_strings_chars_and_lifetimes() {
    let words = tokens(
        "// reqwest\n/* tokio /* nested */ std::fs */ let s = \"std::fs\"; let r = r#\"tokio\"#;\nlet c = '\"'; let b = b'x'; fn f<'a>(x: &'a str) -> char { 'y' } /// serde\n",
    );
    let idents: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .filter(|t| t.starts_with(|c: char| c.is_alphabetic()))
        .collect();
    assert_eq!(
        idents,
        [
            "let", "s", "let", "r", "let", "c", "let", "b", "fn", "f", "x", "str", "char"
        ]
    );
}

#[test]
fn use_trees_are_expanded_and_paths_resolved_through_them() {
    let module = read(
        "use std::{fs::{self, File}, time::Instant as Clock};\nuse chrono::Utc;\nuse super::sibling::*;\nmod child;\nfn f() { Utc::now(); Clock::now(); child::g(); crate::c::d(); self::e(); println!(\"x\"); }\n",
    );
    let used: Vec<&str> = module.used.iter().map(String::as_str).collect();
    for want in [
        "std::fs",
        "std::fs::File",
        "std::time::Instant",
        "std::time::Instant::now",
        "chrono::Utc",
        "chrono::Utc::now",
        "crate::a::sibling",
        "crate::a::b::child::g",
        "crate::c::d",
        "crate::a::b::e",
        "std::println",
    ] {
        assert!(used.contains(&want), "{want} not in {used:?}");
    }
}

#[test]
fn items_under_cfg_test_are_not_read_and_async_is_seen() {
    let module = read(
        "async fn f() { g().await }\n#[cfg(test)]\nmod tests { use tokio::fs; }\n#[cfg(test)]\nmod hostile;\n",
    );
    assert!(module.is_async);
    assert!(
        module.used.iter().all(|u| !u.starts_with("tokio")),
        "{:?}",
        module.used
    );
    assert_eq!(
        module.test_children,
        BTreeSet::from(["tests".to_owned(), "hostile".to_owned()])
    );
    assert!(!module.children.contains("hostile"));
}
