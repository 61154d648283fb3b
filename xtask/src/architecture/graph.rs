//! A directed graph over names (packages or files) and the two questions the invariants ask of
//! it: what a node reaches, with the path that gets there, and which nodes lie on a circle.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Nodes and edges, both in name order, so that every report comes out the same way.
#[derive(Debug, Default, Clone)]
pub struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    /// A graph of `edges` (`from`, `to`).
    pub fn of<'a>(edges: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut graph = Self::default();
        for (from, to) in edges {
            graph.add_edge(from, to);
        }
        graph
    }

    pub fn add_node(&mut self, node: &str) {
        self.edges.entry(node.to_owned()).or_default();
    }

    pub fn add_edge(&mut self, from: &str, to: &str) {
        self.add_node(to);
        self.edges.entry(from.to_owned()).or_default().insert(to.to_owned());
    }

    /// Every edge, `(from, to)`.
    pub fn edges(&self) -> impl Iterator<Item = (&str, &str)> {
        self.edges.iter().flat_map(|(from, targets)| targets.iter().map(move |to| (from.as_str(), to.as_str())))
    }

    pub fn successors(&self, node: &str) -> impl Iterator<Item = &str> {
        self.edges.get(node).into_iter().flatten().map(String::as_str)
    }

    /// The nodes reachable from `from` over one edge or more.
    pub fn reachable(&self, from: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(node) = stack.pop() {
            for next in self.successors(node) {
                if seen.insert(next.to_owned()) {
                    stack.push(next);
                }
            }
        }
        seen
    }

    /// A shortest path `from`, …, `to` (one edge or more), if `to` is reachable.
    pub fn path(&self, from: &str, to: &str) -> Option<Vec<String>> {
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([from]);
        while let Some(node) = queue.pop_front() {
            for next in self.successors(node) {
                if parent.contains_key(next) {
                    continue;
                }
                parent.insert(next, node);
                if next == to {
                    let mut path = vec![to.to_owned()];
                    let mut at = node;
                    while at != from {
                        path.push(at.to_owned());
                        at = parent[at];
                    }
                    path.push(from.to_owned());
                    path.reverse();
                    return Some(path);
                }
                queue.push_back(next);
            }
        }
        None
    }

    /// One circle for every group of nodes that reach each other (a strongly connected component
    /// of more than one node, or a node with an edge to itself): the shortest path from the
    /// group's first node back to it, that node repeated at the end, and the whole group.
    pub fn cycles(&self) -> Vec<Cycle> {
        let mut cycles = Vec::new();
        for group in self.components() {
            let members: BTreeSet<&str> = group.iter().map(String::as_str).collect();
            let inside = Graph::of(self.edges().filter(|(from, to)| members.contains(from) && members.contains(to)));
            if let Some(path) = inside.path(&group[0], &group[0]) {
                cycles.push(Cycle { path, group });
            }
        }
        cycles
    }

    /// Strongly connected components (Tarjan), each sorted, in order of their first node.
    fn components(&self) -> Vec<Vec<String>> {
        struct State<'g> {
            graph: &'g Graph,
            index: BTreeMap<&'g str, usize>,
            low: BTreeMap<&'g str, usize>,
            stack: Vec<&'g str>,
            on_stack: BTreeSet<&'g str>,
            components: Vec<Vec<String>>,
        }
        fn connect<'g>(state: &mut State<'g>, node: &'g str) {
            let index = state.index.len();
            state.index.insert(node, index);
            state.low.insert(node, index);
            state.stack.push(node);
            state.on_stack.insert(node);
            for next in state.graph.successors(node) {
                if !state.index.contains_key(next) {
                    connect(state, next);
                    let low = state.low[node].min(state.low[next]);
                    state.low.insert(node, low);
                } else if state.on_stack.contains(next) {
                    let low = state.low[node].min(state.index[next]);
                    state.low.insert(node, low);
                }
            }
            if state.low[node] == state.index[node] {
                let mut component = Vec::new();
                while let Some(member) = state.stack.pop() {
                    state.on_stack.remove(member);
                    component.push(member.to_owned());
                    if member == node {
                        break;
                    }
                }
                component.sort();
                state.components.push(component);
            }
        }
        let mut state = State {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            components: Vec::new(),
        };
        for node in self.edges.keys() {
            if !state.index.contains_key(node.as_str()) {
                connect(&mut state, node);
            }
        }
        let mut components: Vec<Vec<String>> = state
            .components
            .into_iter()
            .filter(|c| c.len() > 1 || self.successors(&c[0]).any(|next| next == c[0]))
            .collect();
        components.sort();
        components
    }
}

/// A circle of [`Graph::cycles`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// `a`, `b`, …, `a`.
    pub path: Vec<String>,
    /// Every node of the group the circle runs through, sorted.
    pub group: Vec<String>,
}

impl std::fmt::Display for Cycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.join(" -> "))?;
        let others: Vec<&str> =
            self.group.iter().filter(|node| !self.path.contains(node)).map(String::as_str).collect();
        if !others.is_empty() {
            write!(f, " (the same circle also takes in {})", others.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reachable_and_paths_follow_the_edges() {
        let graph = Graph::of([("a", "b"), ("b", "c"), ("a", "d")]);
        assert_eq!(graph.reachable("a"), ["b", "c", "d"].map(str::to_owned).into());
        assert_eq!(graph.path("a", "c").unwrap(), ["a", "b", "c"]);
        assert_eq!(graph.path("c", "a"), None);
        assert!(graph.cycles().is_empty());
    }

    #[test]
    fn cycles_name_each_circle_once_with_its_path() {
        let graph = Graph::of([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "b"), ("x", "x"), ("y", "z")]);
        let cycles = graph.cycles();
        assert_eq!(cycles.len(), 2, "{cycles:?}");
        assert_eq!(cycles[0].path, ["a", "b", "c", "a"]);
        assert_eq!(cycles[0].to_string(), "a -> b -> c -> a (the same circle also takes in d)");
        assert_eq!(cycles[1].to_string(), "x -> x");
    }
}
