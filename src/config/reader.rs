//! Reading one KDL node against its [`NodeSpec`]: arguments, properties (as `name=value` or as a
//! one-argument child node), child nodes, and everything left over reported as unknown, with a
//! "did you mean" from the spec.

use std::path::{Component, Path, PathBuf};

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use super::diag::{Code, Diagnostics};
use super::spec::{self, NodeSpec};

/// A value together with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Its span in the file.
    pub span: SourceSpan,
}

impl<T> Spanned<T> {
    /// Wraps a value.
    pub fn new(value: T, span: SourceSpan) -> Self {
        Spanned { value, span }
    }
}

/// The decoding context: collected diagnostics and the folder relative paths start from.
#[derive(Debug)]
pub struct Cx {
    /// Everything found so far.
    pub diags: Diagnostics,
    /// The config file's folder.
    pub base_dir: PathBuf,
}

/// A raw value as written: a positional argument, a property, or the argument of a child node.
#[derive(Debug, Clone, Copy)]
pub struct Val<'a> {
    /// The KDL value.
    pub value: &'a KdlValue,
    /// Where it is.
    pub span: SourceSpan,
    /// What it is called, for messages (`quota`, `hostname`).
    pub name: &'a str,
}

/// Reads a node (or the document root) against its spec.
pub struct Reader<'a> {
    name: &'a str,
    span: SourceSpan,
    entries: &'a [KdlEntry],
    children: &'a [KdlNode],
    spec: &'static NodeSpec,
    used_entries: Vec<bool>,
    used_children: Vec<bool>,
    /// Entries before this index are not unread positional arguments: [`Reader::arg`] starts
    /// here, so reading all n arguments is O(n), not O(n²).
    next_arg: usize,
}

fn type_annotation_error(cx: &mut Cx, span: SourceSpan) {
    cx.diags
        .error(
            Code::UnexpectedAnnotation,
            span,
            "type annotations have no meaning in mail.kdl",
        )
        .help("remove the `(...)` annotation");
}

impl<'a> Reader<'a> {
    /// Starts reading `node` as described by `spec`.
    pub fn new(cx: &mut Cx, node: &'a KdlNode, spec: &'static NodeSpec) -> Self {
        if let Some(ty) = node.ty() {
            type_annotation_error(cx, ty.span());
        }
        for entry in node.entries() {
            if let Some(ty) = entry.ty() {
                type_annotation_error(cx, ty.span());
            }
        }
        let children = node.children().map_or(&[][..], |c| c.nodes());
        Reader {
            name: node.name().value(),
            span: node.name().span(),
            entries: node.entries(),
            children,
            spec,
            used_entries: vec![false; node.entries().len()],
            used_children: vec![false; children.len()],
            next_arg: 0,
        }
    }

    /// Starts reading the document's top level.
    pub fn root(doc: &'a KdlDocument) -> Self {
        Reader {
            name: spec::ROOT.name,
            span: SourceSpan::from(0..0),
            entries: &[],
            children: doc.nodes(),
            spec: &spec::ROOT,
            used_entries: Vec::new(),
            used_children: vec![false; doc.nodes().len()],
            next_arg: 0,
        }
    }

    /// The node's name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The span of the node's name (where "missing ..." errors point).
    pub fn span(&self) -> SourceSpan {
        self.span
    }

    /// The next positional argument, if any.
    pub fn arg(&mut self) -> Option<Val<'a>> {
        // Only this method marks arguments (entries without a name) as used, and in order.
        let (i, entry) = self
            .entries
            .iter()
            .enumerate()
            .skip(self.next_arg)
            .find(|(_, e)| e.name().is_none())?;
        self.next_arg = i + 1;
        self.used_entries[i] = true;
        Some(Val {
            value: entry.value(),
            span: entry.span(),
            name: self.name,
        })
    }

    /// The next positional argument; reports `missing_value` when there is none.
    pub fn required_arg(&mut self, cx: &mut Cx, what: &str, example: &str) -> Option<Val<'a>> {
        let arg = self.arg();
        if arg.is_none() {
            cx.diags
                .error(
                    Code::MissingValue,
                    self.span,
                    format!("`{}` needs {what}", self.name),
                )
                .label(format!("{what} missing"))
                .help(format!("write it like: {example}"));
        }
        arg
    }

    /// All remaining positional arguments.
    pub fn rest_args(&mut self) -> Vec<Val<'a>> {
        std::iter::from_fn(|| self.arg()).collect()
    }

    fn check_declared_prop(&self, name: &str) {
        debug_assert!(
            self.spec.prop(name).is_some(),
            "decoder reads property `{name}` that the spec of `{}` does not declare",
            self.spec.name
        );
    }

    fn check_declared_child(&self, name: &str) {
        debug_assert!(
            self.spec.child(name).is_some(),
            "decoder reads child `{name}` that the spec of `{}` does not declare",
            self.spec.name
        );
    }

    /// The values of a property written as `name=value` or as child nodes `name v1 v2 ...`.
    fn setting(&mut self, cx: &mut Cx, name: &str, many: bool) -> Vec<Val<'a>> {
        self.check_declared_prop(name);
        let mut found: Vec<(SourceSpan, Vec<Val<'a>>)> = Vec::new();
        for (i, entry) in self.entries.iter().enumerate() {
            if let Some(key) = entry.name().filter(|n| n.value() == name) {
                self.used_entries[i] = true;
                found.push((
                    entry.span(),
                    vec![Val {
                        value: entry.value(),
                        span: entry.span(),
                        name: key.value(),
                    }],
                ));
            }
        }
        for (i, child) in self.children.iter().enumerate() {
            if child.name().value() != name {
                continue;
            }
            self.used_children[i] = true;
            if let Some(ty) = child.ty() {
                type_annotation_error(cx, ty.span());
            }
            for entry in child.entries() {
                if let Some(ty) = entry.ty() {
                    type_annotation_error(cx, ty.span());
                }
            }
            let mut values: Vec<Val<'a>> = child
                .entries()
                .iter()
                .filter(|e| e.name().is_none())
                .map(|e| Val {
                    value: e.value(),
                    span: e.span(),
                    name: child.name().value(),
                })
                .collect();
            if values.is_empty() {
                cx.diags
                    .error(
                        Code::MissingValue,
                        child.name().span(),
                        format!("`{name}` needs a value"),
                    )
                    .label("value missing")
                    .help(format!(
                        "write `{name} \"...\"` or `{name}=\"...\"` on `{}`",
                        self.name
                    ));
            } else if !many && values.len() > 1 {
                cx.diags
                    .error(
                        Code::UnexpectedArgument,
                        values[1].span,
                        format!("`{name}` takes one value"),
                    )
                    .label("extra value");
                values.truncate(1);
            }
            for entry in child.entries().iter().filter(|e| e.name().is_some()) {
                cx.diags
                    .error(
                        Code::UnknownProperty,
                        entry.span(),
                        format!("`{name}` is a plain setting and takes no properties"),
                    )
                    .label("unexpected property");
            }
            if let Some(grand) = child.children()
                && let Some(first) = grand.nodes().first()
            {
                cx.diags
                    .error(
                        Code::UnknownNode,
                        first.name().span(),
                        format!("`{name}` is a plain setting and has no child nodes"),
                    )
                    .label("unexpected child node");
            }
            found.push((child.name().span(), values));
        }
        if found.len() > 1 {
            let (first_span, _) = found[0];
            for (span, _) in &found[1..] {
                cx.diags
                    .error(
                        Code::DuplicateProperty,
                        *span,
                        format!("`{name}` is set more than once"),
                    )
                    .label("set again here")
                    .related(first_span, "first set here")
                    .help("keep one of them");
            }
        }
        found.into_iter().next().map(|(_, v)| v).unwrap_or_default()
    }

    /// A property with one value (`name=value` or child `name value`).
    pub fn prop(&mut self, cx: &mut Cx, name: &str) -> Option<Val<'a>> {
        self.setting(cx, name, false).into_iter().next()
    }

    /// A property that must be present.
    pub fn required_prop(&mut self, cx: &mut Cx, name: &str, example: &str) -> Option<Val<'a>> {
        let v = self.prop(cx, name);
        if v.is_none() {
            self.missing(cx, name, example);
        }
        v
    }

    /// A property whose child form may list several values (`to "a" "b"`).
    pub fn prop_many(&mut self, cx: &mut Cx, name: &str) -> Vec<Val<'a>> {
        self.setting(cx, name, true)
    }

    /// Reports that `name` is missing on this node.
    pub fn missing(&self, cx: &mut Cx, name: &str, example: &str) {
        cx.diags
            .error(
                Code::MissingValue,
                self.span,
                format!("`{}` needs `{name}`", self.name),
            )
            .label(format!("`{name}` missing"))
            .help(format!("add it, e.g. {example}"));
    }

    /// All child nodes called `name`.
    pub fn children(&mut self, name: &str) -> Vec<&'a KdlNode> {
        self.check_declared_child(name);
        let mut out = Vec::new();
        for (i, child) in self.children.iter().enumerate() {
            if child.name().value() == name {
                self.used_children[i] = true;
                out.push(child);
            }
        }
        out
    }

    /// The child node called `name`, which may appear once; repeats are reported.
    pub fn child(&mut self, cx: &mut Cx, name: &str) -> Option<&'a KdlNode> {
        let all = self.children(name);
        if let Some(first) = all.first() {
            for again in &all[1..] {
                cx.diags
                    .error(
                        Code::DuplicateNode,
                        again.name().span(),
                        format!("`{name}` may appear only once here"),
                    )
                    .label("appears again here")
                    .related(first.name().span(), "first appears here")
                    .help("merge them into one node");
            }
        }
        all.first().copied()
    }

    /// Reports everything that was not read: extra arguments, unknown properties and nodes.
    pub fn finish(self, cx: &mut Cx) {
        for (i, entry) in self.entries.iter().enumerate() {
            if self.used_entries[i] {
                continue;
            }
            match entry.name() {
                None => {
                    let takes = match self.spec.args.len() {
                        0 => "no arguments".to_owned(),
                        1 if !self.spec.args[0].many => "one argument".to_owned(),
                        n => format!("{n} arguments"),
                    };
                    cx.diags
                        .error(
                            Code::UnexpectedArgument,
                            entry.span(),
                            format!("`{}` takes {takes}", self.name),
                        )
                        .label("unexpected argument");
                }
                Some(key) => {
                    let key_name = key.value();
                    if self.spec.child(key_name).is_some_and(|c| c.secret) {
                        cx.diags
                            .error(
                                Code::InlineSecret,
                                entry.span(),
                                format!("`{key_name}` must not be written inline"),
                            )
                            .label("secret in the config file")
                            .help(format!(
                                "write `{key_name} env=\"VARIABLE\"` or `{key_name} file=\"/path\"` inside `{}`",
                                self.name
                            ));
                        continue;
                    }
                    let d = cx.diags.error(
                        Code::UnknownProperty,
                        key.span(),
                        format!("`{}` has no property `{key_name}`", self.name),
                    );
                    d.label("unknown property");
                    if let Some(s) = suggest(key_name, self.spec.props.iter().map(|p| p.name)) {
                        d.help(format!("did you mean `{s}`?"));
                    } else if self.spec.child(key_name).is_some() {
                        d.help(format!(
                            "`{key_name}` is a child node: write it inside `{} {{ ... }}`",
                            self.name
                        ));
                    } else if self.spec.props.is_empty() {
                        d.help(format!("`{}` takes no properties", self.name));
                    } else {
                        let names: Vec<_> = self.spec.props.iter().map(|p| format!("`{}`", p.name)).collect();
                        d.help(format!("`{}` takes {}", self.name, names.join(", ")));
                    }
                }
            }
        }
        for (i, child) in self.children.iter().enumerate() {
            if self.used_children[i] {
                continue;
            }
            let name = child.name().value();
            let place = if self.spec.name == spec::ROOT.name {
                "at the top level".to_owned()
            } else {
                format!("inside `{}`", self.name)
            };
            let d = cx.diags.error(
                Code::UnknownNode,
                child.name().span(),
                format!("unknown node `{name}` {place}"),
            );
            d.label("unknown node");
            if let Some(s) = suggest(name, self.spec.child_names()) {
                d.help(format!("did you mean `{s}`?"));
            } else if let Some(parent) = spec::where_allowed(name) {
                d.help(format!("`{name}` belongs inside `{parent}`"));
            }
        }
    }
}

/// The closest candidate within a small edit distance.
pub fn suggest<'s>(word: &str, candidates: impl Iterator<Item = &'s str>) -> Option<&'s str> {
    let length = word.chars().count();
    let limit = (length / 3).max(1);
    candidates
        // The distance is at least the difference in length: skip the O(n·m) computation for
        // candidates that cannot be close (a megabyte-long value against a 10-letter word).
        .filter(|c| c.chars().count().abs_diff(length) <= limit)
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Damerau–Levenshtein (optimal string alignment) distance, case-insensitive.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

fn kdl_type(value: &KdlValue) -> String {
    match value {
        KdlValue::String(s) => format!("the string \"{s}\""),
        KdlValue::Integer(i) => format!("the number {i}"),
        KdlValue::Float(f) => format!("the number {f}"),
        KdlValue::Bool(b) => format!("#{b}"),
        KdlValue::Null => "#null".to_owned(),
    }
}

fn wrong_type(cx: &mut Cx, v: Val<'_>, expected: &str, help: Option<String>) {
    let d = cx.diags.error(
        Code::WrongType,
        v.span,
        format!("`{}` expects {expected}, found {}", v.name, kdl_type(v.value)),
    );
    d.label(format!("expected {expected}"));
    if let Some(h) = help {
        d.help(h);
    }
}

/// A string value.
pub fn string(cx: &mut Cx, v: Val<'_>) -> Option<Spanned<String>> {
    match v.value {
        KdlValue::String(s) => Some(Spanned::new(s.clone(), v.span)),
        KdlValue::Integer(_) | KdlValue::Float(_) => {
            let help = Some(format!("quote it: \"{}\"", v.value));
            wrong_type(cx, v, "a string", help);
            None
        }
        _ => {
            wrong_type(cx, v, "a string", None);
            None
        }
    }
}

/// A string parsed by `parse`; failures are reported with `code`.
pub fn parsed<T>(
    cx: &mut Cx,
    v: Val<'_>,
    code: Code,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<Spanned<T>> {
    let s = string(cx, v)?;
    match parse(&s.value) {
        Ok(t) => Some(Spanned::new(t, s.span)),
        Err(msg) => {
            cx.diags
                .error(code, s.span, msg)
                .label(format!("invalid `{}`", v.name));
            None
        }
    }
}

/// A whole number within `min..=max`.
pub fn integer(cx: &mut Cx, v: Val<'_>, min: i64, max: i64) -> Option<Spanned<i64>> {
    match v.value {
        KdlValue::Integer(i) => {
            if *i < i128::from(min) || *i > i128::from(max) {
                cx.diags
                    .error(
                        Code::OutOfRange,
                        v.span,
                        format!("`{}` must be between {min} and {max}, not {i}", v.name),
                    )
                    .label("out of range");
                return None;
            }
            Some(Spanned::new(*i as i64, v.span))
        }
        KdlValue::String(s) if s.trim().parse::<i64>().is_ok() => {
            wrong_type(
                cx,
                v,
                "a number",
                Some(format!("remove the quotes: {}", s.trim())),
            );
            None
        }
        _ => {
            wrong_type(cx, v, "a whole number", None);
            None
        }
    }
}

/// A number (integer or float) within `min..=max`.
pub fn float(cx: &mut Cx, v: Val<'_>, min: f64, max: f64) -> Option<Spanned<f64>> {
    let f = match v.value {
        KdlValue::Float(f) => *f,
        KdlValue::Integer(i) => *i as f64,
        _ => {
            wrong_type(cx, v, "a number", None);
            return None;
        }
    };
    if !f.is_finite() || f < min || f > max {
        cx.diags
            .error(
                Code::OutOfRange,
                v.span,
                format!("`{}` must be between {min} and {max}", v.name),
            )
            .label("out of range");
        return None;
    }
    Some(Spanned::new(f, v.span))
}

/// `#true` or `#false`.
pub fn boolean(cx: &mut Cx, v: Val<'_>) -> Option<Spanned<bool>> {
    match v.value {
        KdlValue::Bool(b) => Some(Spanned::new(*b, v.span)),
        KdlValue::String(s) if s == "true" || s == "false" => {
            wrong_type(
                cx,
                v,
                "#true or #false",
                Some(format!("write #{s} (KDL 2.0 booleans)")),
            );
            None
        }
        _ => {
            wrong_type(cx, v, "#true or #false", None);
            None
        }
    }
}

/// One of `choices`.
pub fn choice(cx: &mut Cx, v: Val<'_>, choices: &'static [&'static str]) -> Option<Spanned<&'static str>> {
    let raw = match v.value {
        KdlValue::String(s) => s.clone(),
        KdlValue::Integer(_) | KdlValue::Float(_) => v.value.to_string(),
        _ => {
            wrong_type(cx, v, "a word", None);
            return None;
        }
    };
    if let Some(c) = choices.iter().find(|c| **c == raw) {
        return Some(Spanned::new(*c, v.span));
    }
    let list = choices
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let d = cx.diags.error(
        Code::InvalidChoice,
        v.span,
        format!("`{}` cannot be \"{raw}\"", v.name),
    );
    d.label("not allowed here");
    match suggest(&raw, choices.iter().copied()) {
        Some(s) => d.help(format!("did you mean \"{s}\"? (one of {list})")),
        None => d.help(format!("use one of {list}")),
    };
    None
}

/// A path; relative paths are taken from the config file's folder.
pub fn path(cx: &mut Cx, v: Val<'_>) -> Option<Spanned<PathBuf>> {
    let s = string(cx, v)?;
    if s.value.trim().is_empty() {
        cx.diags
            .error(
                Code::MissingValue,
                s.span,
                format!("`{}` is an empty path", v.name),
            )
            .label("empty");
        return None;
    }
    Some(Spanned::new(resolve_path(&cx.base_dir, &s.value), s.span))
}

/// Joins `p` to `base` when relative, then removes `.` and `..` components lexically.
pub fn resolve_path(base: &Path, p: &str) -> PathBuf {
    let joined = base.join(p);
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("hostnmae", ["hostname", "listen"].into_iter()),
            Some("hostname")
        );
        assert_eq!(suggest("qouta", ["quota", "alias"].into_iter()), Some("quota"));
        assert_eq!(suggest("zzz", ["quota", "alias"].into_iter()), None);
        assert_eq!(edit_distance("abc", "acb"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn reading_every_argument_is_linear() {
        // Issue 10 item 11: `trusted-networks` with 100,000 arguments. Each `arg()` used to
        // search from the first entry again: 5·10⁹ steps for this node, now 10⁵.
        let mut node = KdlNode::new("trusted-networks");
        for i in 0..100_000 {
            node.push(KdlEntry::new(format!("10.0.{}.{}/32", i / 256 % 256, i % 256)));
        }
        node.push(KdlEntry::new_prop("unknown", 1));
        let mut cx = Cx {
            diags: Diagnostics::default(),
            base_dir: PathBuf::from("/"),
        };
        let started = std::time::Instant::now();
        let mut r = Reader::new(&mut cx, &node, &spec::TRUSTED_NETWORKS);
        assert_eq!(r.rest_args().len(), 100_000);
        assert!(r.arg().is_none());
        r.finish(&mut cx);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // Only the property is left over.
        assert_eq!(cx.diags.iter().count(), 1);
    }

    #[test]
    fn suggestions_skip_candidates_of_very_different_length() {
        let long = "x".repeat(1 << 22);
        let started = std::time::Instant::now();
        assert_eq!(suggest(&long, ["none", "quarantine", "reject"].into_iter()), None);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn paths_resolve_against_the_base() {
        let base = Path::new("/etc/yubin");
        assert_eq!(resolve_path(base, "../var/x"), PathBuf::from("/etc/var/x"));
        assert_eq!(resolve_path(base, "/abs/./y"), PathBuf::from("/abs/y"));
        assert_eq!(resolve_path(base, "k.pem"), PathBuf::from("/etc/yubin/k.pem"));
    }
}
