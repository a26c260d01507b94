//! Import cycles between the modules (files) of one crate.
//!
//! Each file is parsed with `syn`; a module depends on another when it names one of its items:
//! through a `use` or a path in code (`crate::…`, `super::…`, `self::…`, or a child module's
//! name). A re-export (`pub use child::Item`) is a facade, not a dependency: a path through it
//! is followed to the module that defines the item, so a parent that only re-exports its
//! children is not in a cycle with them. Paths inside macro invocations are not seen, nor
//! those of `#[cfg(test)]` items: a unit test may build its input with a sibling's help.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// A module's path inside its crate (`["eval", "column"]`; the crate root is empty).
type ModPath = Vec<String>;

/// What one file declares and uses.
#[derive(Default)]
struct Module {
    file: PathBuf,
    /// Names of the items it defines (functions, types, constants, modules …).
    defines: BTreeSet<String>,
    /// Names it re-exports, with the absolute path each stands for.
    reexports: BTreeMap<String, ModPath>,
    /// Modules whose items it re-exports with `pub use m::*`.
    globs: Vec<ModPath>,
    /// Absolute paths it uses (other than in re-exports), with the text it used.
    uses: Vec<(ModPath, String)>,
}

/// A cycle: the files of the modules that reach each other (relative to `src`), sorted, and
/// the uses that tie them, one line each.
pub struct Cycle {
    pub files: Vec<String>,
    pub evidence: String,
}

/// The cycles among the modules under `src`, or the files that could not be read.
pub fn cycles(src: &Path) -> Result<Vec<Cycle>, Vec<String>> {
    let mut modules = BTreeMap::new();
    let mut errors = Vec::new();
    for (path, file) in module_files(src) {
        match parse(&path, &file) {
            Ok(module) => {
                modules.insert(path, module);
            }
            Err(e) => errors.push(format!("{}: {e}", file.display())),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut edges: BTreeMap<ModPath, BTreeMap<ModPath, String>> = BTreeMap::new();
    for (from, module) in &modules {
        for (path, text) in &module.uses {
            let to = resolve(&modules, path, 0);
            if &to != from {
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| text.clone());
            }
        }
    }
    Ok(strongly_connected(&modules, &edges)
        .into_iter()
        .map(|component| describe(&component, &modules, &edges, src))
        .collect())
}

/// Every `.rs` file under `src` (but `src/bin`) with its module path.
fn module_files(src: &Path) -> Vec<(ModPath, PathBuf)> {
    let mut found = Vec::new();
    let mut stack = vec![(src.to_path_buf(), ModPath::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !(prefix.is_empty() && name == "bin") {
                    let mut inner = prefix.clone();
                    inner.push(name);
                    stack.push((path, inner));
                }
                continue;
            }
            let Some(stem) = name.strip_suffix(".rs") else {
                continue;
            };
            let module = match stem {
                "mod" => prefix.clone(),
                "lib" | "main" if prefix.is_empty() => ModPath::new(),
                _ => {
                    let mut m = prefix.clone();
                    m.push(stem.to_string());
                    m
                }
            };
            found.push((module, path));
        }
    }
    found.sort();
    found
}

fn parse(path: &ModPath, file: &Path) -> Result<Module, String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let syntax = syn::parse_file(&text).map_err(|e| e.to_string())?;
    let mut collector = Collector {
        here: path.clone(),
        module: Module {
            file: file.to_path_buf(),
            ..Module::default()
        },
    };
    collector.visit_file(&syntax);
    Ok(collector.module)
}

struct Collector {
    here: ModPath,
    module: Module,
}

impl Collector {
    /// An absolute path for `segments` as written in this module, or `None` for a path that
    /// does not start inside the crate (another crate, a local name).
    fn absolute(&self, segments: &[String]) -> Option<ModPath> {
        let first = segments.first()?;
        match first.as_str() {
            "crate" => Some(segments[1..].to_vec()),
            "self" => Some(self.here.iter().chain(&segments[1..]).cloned().collect()),
            "super" => {
                let mut base = self.here.clone();
                let mut rest = segments;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                Some(base.into_iter().chain(rest.iter().cloned()).collect())
            }
            _ => None,
        }
    }

    /// The absolute path `segments` stand for as written here: through `crate`, `self` or
    /// `super`, else through a child module (`child::Item`, or `child` alone for a glob when
    /// `least` is 1), for paths of at least `least` segments. Whether the first segment
    /// really is a child module is for [`resolve`] to find.
    fn written(&self, segments: &[String], least: usize) -> Option<ModPath> {
        self.absolute(segments).or_else(|| {
            (segments.len() >= least).then(|| self.here.iter().chain(segments).cloned().collect())
        })
    }

    fn use_tree(&mut self, tree: &syn::UseTree, prefix: &mut Vec<String>, public: bool) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(&p.tree, prefix, public);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let name = n.ident.to_string();
                let mut full = prefix.clone();
                if name != "self" {
                    full.push(name.clone());
                }
                let shown = full.last().cloned().unwrap_or(name);
                self.used(full, shown, public);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                full.push(r.ident.to_string());
                self.used(full, r.rename.to_string(), public);
            }
            syn::UseTree::Glob(_) => {
                let full = prefix.clone();
                if let Some(abs) = self.written(&full, 1) {
                    if public {
                        self.module.globs.push(abs);
                    } else {
                        let text = format!("use {}::*", full.join("::"));
                        self.module.uses.push((abs, text));
                    }
                }
            }
            syn::UseTree::Group(g) => {
                for item in &g.items {
                    self.use_tree(item, prefix, public);
                }
            }
        }
    }

    fn used(&mut self, full: Vec<String>, shown: String, public: bool) {
        let Some(abs) = self.written(&full, 2) else {
            return;
        };
        if public {
            self.module.reexports.insert(shown, abs);
        } else {
            let text = format!("use {}", full.join("::"));
            self.module.uses.push((abs, text));
        }
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let public = !matches!(item.vis, syn::Visibility::Inherited);
        self.use_tree(&item.tree, &mut Vec::new(), public);
    }

    fn visit_item(&mut self, item: &'ast syn::Item) {
        if is_test_only(item) {
            return;
        }
        let name = match item {
            syn::Item::Const(i) => Some(&i.ident),
            syn::Item::Enum(i) => Some(&i.ident),
            syn::Item::Fn(i) => Some(&i.sig.ident),
            syn::Item::Mod(i) => Some(&i.ident),
            syn::Item::Static(i) => Some(&i.ident),
            syn::Item::Struct(i) => Some(&i.ident),
            syn::Item::Trait(i) => Some(&i.ident),
            syn::Item::Type(i) => Some(&i.ident),
            syn::Item::Union(i) => Some(&i.ident),
            syn::Item::Macro(i) => i.ident.as_ref(),
            _ => None,
        };
        if let Some(name) = name {
            self.module.defines.insert(name.to_string());
        }
        syn::visit::visit_item(self, item);
    }

    /// `pub(crate)`, `pub(super)`: who may see an item, not a use of anything.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    /// An inline module (`mod tests { … }`): its paths are written from inside it.
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.here.push(item.ident.to_string());
        syn::visit::visit_item_mod(self, item);
        self.here.pop();
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if let Some(abs) = self.written(&segments, 2) {
            self.module.uses.push((abs, segments.join("::")));
        }
        syn::visit::visit_path(self, path);
    }
}

/// Whether an item is compiled for tests only (`#[cfg(test)]`).
fn is_test_only(item: &syn::Item) -> bool {
    let attrs = match item {
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        _ => return false,
    };
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Ident>()
                .is_ok_and(|ident| ident == "test")
    })
}

/// The module that defines what `path` names, following re-exports (at most 8 deep).
fn resolve(modules: &BTreeMap<ModPath, Module>, path: &ModPath, depth: usize) -> ModPath {
    let mut len = path.len();
    while len > 0 && !modules.contains_key(&path[..len]) {
        len -= 1;
    }
    let owner = path[..len].to_vec();
    let Some(module) = modules.get(&owner) else {
        return owner;
    };
    let Some(name) = path.get(len) else {
        return owner;
    };
    if depth >= 8 || module.defines.contains(name) {
        return owner;
    }
    if let Some(target) = module.reexports.get(name) {
        let mut next = target.clone();
        next.extend(path[len + 1..].iter().cloned());
        return resolve(modules, &next, depth + 1);
    }
    for glob in &module.globs {
        let mut next = glob.clone();
        next.extend(path[len..].iter().cloned());
        let target = resolve(modules, &next, depth + 1);
        if &target != glob || modules.get(glob).is_some_and(|g| g.defines.contains(name)) {
            return target;
        }
    }
    owner
}

/// The groups of two or more modules that reach each other (Tarjan's algorithm).
fn strongly_connected(
    modules: &BTreeMap<ModPath, Module>,
    edges: &BTreeMap<ModPath, BTreeMap<ModPath, String>>,
) -> Vec<Vec<ModPath>> {
    struct State<'a> {
        edges: &'a BTreeMap<ModPath, BTreeMap<ModPath, String>>,
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on_stack: BTreeSet<&'a ModPath>,
        found: Vec<Vec<ModPath>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a ModPath) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(targets) = s.edges.get(v) {
            for w in targets.keys() {
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let low = s.low[v].min(s.low[w]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.low[v].min(s.index[w]);
                    s.low.insert(v, low);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in modules.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.found
}

/// A cycle's modules and the uses that tie them, one per edge inside the group.
fn describe(
    component: &[ModPath],
    modules: &BTreeMap<ModPath, Module>,
    edges: &BTreeMap<ModPath, BTreeMap<ModPath, String>>,
    src: &Path,
) -> Cycle {
    let name = |m: &ModPath| {
        modules.get(m).map_or_else(
            || m.join("::"),
            |module| {
                let file = module.file.strip_prefix(src).unwrap_or(&module.file);
                file.display().to_string()
            },
        )
    };
    let members: BTreeSet<&ModPath> = component.iter().collect();
    let mut files: Vec<String> = component.iter().map(name).collect();
    files.sort();
    let mut lines = Vec::new();
    for from in component {
        for (to, text) in edges.get(from).into_iter().flatten() {
            if members.contains(to) {
                lines.push(format!("    {} -> {} ({text})", name(from), name(to)));
            }
        }
    }
    Cycle {
        files,
        evidence: lines.join("\n"),
    }
}
