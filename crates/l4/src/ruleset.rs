//! nft objects as text, and the transaction that turns one ruleset into another.
//!
//! A transaction after the first never recreates a table: sets whose declaration is
//! unchanged keep their kernel state (per-element counters, dynamic persistence entries),
//! and only chains whose rules changed are flushed and written again. nft applies a whole
//! `nft -f` script or none of it, so no packet sees a half-written state.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// The tables of one daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Ruleset {
    pub(crate) tables: Vec<NftTable>,
}

/// One nft table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NftTable {
    /// `inet` or `netdev`.
    pub(crate) family: &'static str,
    pub(crate) name: String,
    pub(crate) sets: BTreeMap<String, Set>,
    /// In the order nft must create them: base chains jump only to regular chains, which
    /// nft resolves within the transaction, so any order works; kept stable for goldens.
    pub(crate) chains: Vec<Chain>,
}

/// A set or map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Set {
    /// `set` or `map`.
    pub(crate) kind: &'static str,
    /// The declaration lines (`typeof ...`, `flags ...`, `counter`); a change recreates it.
    pub(crate) declaration: Vec<String>,
    pub(crate) elements: Vec<String>,
    pub(crate) update: Update,
}

/// How a kept set's elements follow the desired ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Update {
    /// `flush` and add all: slot maps, whose every element may change.
    Replace,
    /// Add the new and delete the gone, keeping the rest: counter sets.
    Incremental,
    /// The kernel owns the elements (persistence entries); the daemon deletes stale ones.
    Dynamic,
}

/// A chain; `hook` is the base-chain line (`type nat hook prerouting ...`), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chain {
    pub(crate) name: String,
    pub(crate) hook: Option<String>,
    pub(crate) rules: Vec<String>,
}

impl NftTable {
    fn id(&self) -> String {
        format!("{} {}", self.family, self.name)
    }

    /// The whole table as one `table ... { }` block.
    fn block(&self) -> String {
        let mut out = format!("table {} {{\n", self.id());
        for (name, set) in &self.sets {
            let _ = writeln!(out, "\t{} {name} {{", set.kind);
            for line in &set.declaration {
                let _ = writeln!(out, "\t\t{line}");
            }
            if !set.elements.is_empty() {
                let _ = writeln!(out, "\t\telements = {{ {} }}", set.elements.join(", "));
            }
            out.push_str("\t}\n");
        }
        for chain in &self.chains {
            let _ = writeln!(out, "\tchain {} {{", chain.name);
            if let Some(hook) = &chain.hook {
                let _ = writeln!(out, "\t\t{hook}");
            }
            for rule in &chain.rules {
                let _ = writeln!(out, "\t\t{rule}");
            }
            out.push_str("\t}\n");
        }
        out.push_str("}\n");
        out
    }
}

/// Deletes `family name` whether or not it exists: `add` of an existing table is a no-op,
/// and `destroy` (which does not fail on a missing table) needs nftables 1.0.8.
fn delete_any(out: &mut String, family: &str, name: &str) {
    let _ = writeln!(
        out,
        "add table {family} {name}\ndelete table {family} {name}"
    );
}

/// The script that replaces whatever tables `families` named `name` hold, leftovers of a
/// killed predecessor included, by `new`.
pub(crate) fn replace_all(name: &str, families: &[&str], new: &Ruleset) -> String {
    let mut out = String::new();
    for family in families {
        delete_any(&mut out, family, name);
    }
    for table in &new.tables {
        out.push_str(&table.block());
    }
    out
}

/// The script that turns the installed `old` into `new`.
pub(crate) fn transition(old: &Ruleset, new: &Ruleset) -> String {
    let mut out = String::new();
    for table in &old.tables {
        if !new.tables.iter().any(|t| t.id() == table.id()) {
            let _ = writeln!(out, "delete table {}", table.id());
        }
    }
    for table in &new.tables {
        match old.tables.iter().find(|t| t.id() == table.id()) {
            Some(before) => change_table(&mut out, before, table),
            None => {
                delete_any(&mut out, table.family, &table.name);
                out.push_str(&table.block());
            }
        }
    }
    out
}

fn change_table(out: &mut String, old: &NftTable, new: &NftTable) {
    let id = new.id();
    let recreated: BTreeSet<&String> = old
        .sets
        .iter()
        .filter(|(name, set)| {
            new.sets
                .get(*name)
                .is_none_or(|n| n.kind != set.kind || n.declaration != set.declaration)
        })
        .map(|(name, _)| name)
        .collect();
    let uses_recreated = |chain: &Chain| {
        chain.rules.iter().any(|rule| {
            recreated
                .iter()
                .any(|set| rule.contains(&format!("@{set} ")) || rule.ends_with(&format!("@{set}")))
        })
    };
    let old_chain = |name: &str| old.chains.iter().find(|c| c.name == name);
    // 1. Empty every chain that changes or goes, so nothing refers to what is deleted next.
    for chain in &old.chains {
        let changed = new
            .chains
            .iter()
            .find(|c| c.name == chain.name)
            .is_none_or(|c| c.hook != chain.hook || c.rules != chain.rules || uses_recreated(c));
        if changed {
            let _ = writeln!(out, "flush chain {id} {}", chain.name);
        }
    }
    // 2. Delete chains that go (or whose hook changes).
    for chain in &old.chains {
        let gone = new
            .chains
            .iter()
            .find(|c| c.name == chain.name)
            .is_none_or(|c| c.hook != chain.hook);
        if gone {
            let _ = writeln!(out, "delete chain {id} {}", chain.name);
        }
    }
    // 3. Delete sets that go or change shape; 4. add new and reshaped ones, elements inline.
    for name in &recreated {
        let _ = writeln!(out, "delete {} {id} {name}", old.sets[*name].kind);
    }
    for (name, set) in &new.sets {
        if recreated.contains(name) || !old.sets.contains_key(name) {
            let _ = writeln!(out, "add {} {id} {name} {{", set.kind);
            for line in &set.declaration {
                let _ = writeln!(out, "\t{line}");
            }
            if !set.elements.is_empty() {
                let _ = writeln!(out, "\telements = {{ {} }}", set.elements.join(", "));
            }
            out.push_str("}\n");
            continue;
        }
        // 5. Kept sets: only their elements change.
        let before = &old.sets[name];
        if before.elements == set.elements {
            continue;
        }
        match set.update {
            Update::Replace => {
                let _ = writeln!(out, "flush {} {id} {name}", set.kind);
                add_elements(out, &id, name, &set.elements);
            }
            Update::Incremental => {
                let gone: Vec<String> = before
                    .elements
                    .iter()
                    .filter(|e| !set.elements.contains(e))
                    .cloned()
                    .collect();
                if !gone.is_empty() {
                    let _ = writeln!(out, "delete element {id} {name} {{ {} }}", gone.join(", "));
                }
                let added: Vec<String> = set
                    .elements
                    .iter()
                    .filter(|e| !before.elements.contains(e))
                    .cloned()
                    .collect();
                add_elements(out, &id, name, &added);
            }
            Update::Dynamic => {}
        }
    }
    // 6. New chains, all before any rule: a base chain's rule may jump to a new one.
    for chain in &new.chains {
        if old_chain(&chain.name).is_none_or(|c| c.hook != chain.hook) {
            let _ = write!(out, "add chain {id} {}", chain.name);
            match &chain.hook {
                Some(hook) => {
                    let _ = writeln!(out, " {{ {hook} }}");
                }
                None => out.push('\n'),
            }
        }
    }
    // 7. The rules of every new or changed chain.
    for chain in &new.chains {
        let before = old_chain(&chain.name);
        let unchanged = before.is_some_and(|c| c.hook == chain.hook && c.rules == chain.rules)
            && !uses_recreated(chain);
        if !unchanged {
            for rule in &chain.rules {
                let _ = writeln!(out, "add rule {id} {} {rule}", chain.name);
            }
        }
    }
}

fn add_elements(out: &mut String, id: &str, name: &str, elements: &[String]) {
    if !elements.is_empty() {
        let _ = writeln!(out, "add element {id} {name} {{ {} }}", elements.join(", "));
    }
}
