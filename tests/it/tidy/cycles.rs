//! No module cycle: the import graph of each folder, and the cycles in it.

use std::collections::{BTreeMap, BTreeSet};

use super::reader::{Module, modules, owner, read_module, starts_with_path};

// ---- no module cycle ----

/// The import graph of one folder (`[]` is the crate's top level): for each module directly in
/// it, the sibling modules it reaches. An import is collapsed to the folder its importer and
/// its target share, so `a::b` using `crate::c::d::e` is the edge `a` → `c` at the top level,
/// and `a::b` using `crate::a::c::d` is `b` → `c` inside `a`.
type Graphs = BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>>;

pub(super) fn import_graphs(modules: &[Module]) -> Graphs {
    let mut graphs = Graphs::new();
    for module in modules {
        for used in &module.used {
            if !starts_with_path(used, "crate") {
                continue;
            }
            let Some(target) = owner(modules, used) else {
                continue;
            };
            let shared = module
                .path
                .iter()
                .zip(&target.path)
                .take_while(|(a, b)| a == b)
                .count();
            // A module using its own ancestor or descendant is not an edge between siblings.
            if let (Some(from), Some(to)) = (module.path.get(shared), target.path.get(shared)) {
                graphs
                    .entry(module.path[..shared].to_vec())
                    .or_default()
                    .entry(from.clone())
                    .or_default()
                    .insert(to.clone());
            }
        }
    }
    graphs
}

/// A path from `from` to `to` in `graph` (both included), if there is one.
fn path_between(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([from]);
    while let Some(node) = queue.pop_front() {
        for next in graph.get(node).into_iter().flatten() {
            if next == to {
                let mut path = vec![to.to_owned(), node.to_owned()];
                let mut at = node;
                while at != from {
                    at = came_from[at];
                    path.push(at.to_owned());
                }
                path.reverse();
                return Some(path);
            }
            if next != from && !came_from.contains_key(next.as_str()) {
                came_from.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    None
}

/// Every cycle of `graph`, one per strongly connected component of more than one module, as a
/// path that starts and ends at the component's first module (`a → b → a`).
pub(super) fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    for node in graph.keys() {
        if seen.contains(node) {
            continue;
        }
        // The node's component: what it reaches that reaches it back.
        let component: Vec<&String> = graph
            .values()
            .flatten()
            .chain(graph.keys())
            .filter(|other| {
                *other != node
                    && path_between(graph, node, other).is_some()
                    && path_between(graph, other, node).is_some()
            })
            .collect();
        seen.extend(component.iter().map(|s| (*s).clone()));
        if let Some(other) = component.first() {
            let mut path = path_between(graph, node, other).unwrap_or_default();
            path.pop();
            path.extend(path_between(graph, other, node).unwrap_or_default());
            found.push(path);
        }
    }
    found
}

#[test]
fn no_module_cycle() {
    let mut problems = Vec::new();
    for (folder, graph) in import_graphs(&modules()) {
        for cycle in cycles(&graph) {
            let at = if folder.is_empty() {
                "the crate's top level".to_owned()
            } else {
                format!("src/{}/", folder.join("/"))
            };
            problems.push(format!("{at}: {}", cycle.join(" → ")));
        }
    }
    assert!(
        problems.is_empty(),
        "module cycles:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_cycle_finder_names_each_cycle_once_and_passes_a_tree() {
    let graph = |edges: &[(&str, &str)]| {
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in edges {
            graph
                .entry((*from).to_owned())
                .or_default()
                .insert((*to).to_owned());
        }
        graph
    };
    assert!(cycles(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])).is_empty());
    assert_eq!(
        cycles(&graph(&[
            ("a", "b"),
            ("b", "c"),
            ("c", "a"),
            ("c", "d"),
            ("d", "e"),
            ("e", "d")
        ])),
        [vec!["a", "b", "c", "a"], vec!["d", "e", "d"]]
    );
    // Imports collapse to the siblings they reach, per folder.
    let modules = [
        read_module(
            "x/a.rs".into(),
            vec!["x".into(), "a".into()],
            "use super::b::Thing;\n",
        ),
        read_module(
            "x/b.rs".into(),
            vec!["x".into(), "b".into()],
            "use crate::x::a::deep::Item;\nuse crate::y::Z;\nuse super::Shared;\n",
        ),
        read_module(
            "x/a/deep.rs".into(),
            vec!["x".into(), "a".into(), "deep".into()],
            "\n",
        ),
        read_module("x.rs".into(), vec!["x".into()], "mod a;\nmod b;\n"),
        read_module("y.rs".into(), vec!["y".into()], "use crate::x::b::Thing;\n"),
    ];
    let graphs = import_graphs(&modules);
    assert_eq!(
        graphs[&vec!["x".to_owned()]],
        graph(&[("a", "b"), ("b", "a")])
    );
    assert_eq!(graphs[&Vec::new()], graph(&[("x", "y"), ("y", "x")]));
    assert_eq!(cycles(&graphs[&Vec::new()]), [vec!["x", "y", "x"]]);
}
