//! The spec table (the documentation's source) and the decoder agree: every node and property
//! the reference documents is understood where it documents it, in both the property form and
//! the child-node form. (The reverse direction, the decoder reading a name the spec lacks, is a
//! debug assertion in the reader that these tests and the corpus exercise.)

use std::path::Path;

use yubin::config::spec::{self, Field, NodeSpec, Ty};
use yubin::config::{self, Code};

const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$jGeMXANpfiemq/i9LDa6ug$oGD23m3qvii2iTtKHk3Sxsa151Oy3hsOO6aq/gzEQXE";

fn sample(f: &Field) -> String {
    match f.ty {
        Ty::String => "\"/x\"".into(),
        Ty::Hostname | Ty::Domain => "\"example.com\"".into(),
        Ty::LocalPart => "\"x\"".into(),
        Ty::Address => "\"x@example.com\"".into(),
        Ty::SocketAddr => "\"127.0.0.1:2525\"".into(),
        Ty::HostPort => "\"smtp.example.net:587\"".into(),
        Ty::Path => "\"/tmp/x\"".into(),
        Ty::Size => "\"1MiB\"".into(),
        Ty::Duration => "\"1h\"".into(),
        Ty::Rate => "\"10/hour\"".into(),
        Ty::Time => "\"03:00\"".into(),
        Ty::Weekday => "\"sun\"".into(),
        Ty::Cidr => "\"10.0.0.0/8\"".into(),
        Ty::Integer => "5".into(),
        Ty::Float => "5.0".into(),
        Ty::Bool => "#true".into(),
        Ty::Choice(words) => format!("\"{}\"", words[0]),
        Ty::Url => "\"http://127.0.0.1:1\"".into(),
        Ty::DatabaseUrl => "\"sqlite:///tmp/x.db\"".into(),
        Ty::PasswordHash => format!("\"{HASH}\""),
        Ty::Endpoint => "\"127.0.0.1:3310\"".into(),
        Ty::EnvName => "\"X\"".into(),
    }
}

fn header(n: &NodeSpec) -> String {
    let mut s = n.name.to_owned();
    for a in n.args {
        s.push(' ');
        s.push_str(&sample(a));
    }
    s
}

const SHAPE: &[Code] = &[
    Code::UnknownNode,
    Code::UnknownProperty,
    Code::UnexpectedArgument,
    Code::WrongType,
    Code::DuplicateProperty,
    Code::InlineSecret,
];

fn assert_understood(doc: &str, what: &str) {
    let outcome = config::parse(Path::new("spec-test.kdl"), doc, Path::new("/tmp"));
    let bad: Vec<_> = outcome
        .diagnostics
        .iter()
        .filter(|d| SHAPE.contains(&d.code) || d.code == Code::Syntax)
        .map(|d| format!("{}: {}", d.code.as_str(), d.message))
        .collect();
    assert!(
        bad.is_empty(),
        "{what} is documented but not understood:\n{doc}\n{bad:#?}"
    );
}

fn walk(path: &mut Vec<&'static NodeSpec>, node: &'static NodeSpec, count: &mut usize) {
    let wrap = |inner: String, path: &[&'static NodeSpec]| -> String {
        let mut doc = inner;
        for anc in path.iter().rev() {
            doc = format!("{} {{\n{doc}\n}}", header(anc));
        }
        doc
    };
    let at = path
        .iter()
        .map(|n| n.name)
        .chain([node.name])
        .collect::<Vec<_>>()
        .join(" > ");
    assert_understood(&wrap(header(node), path), &at);
    for p in node.props {
        let v = sample(p);
        assert_understood(
            &wrap(format!("{} {}={v}", header(node), p.name), path),
            &format!("{at} {}=", p.name),
        );
        assert_understood(
            &wrap(format!("{} {{\n{} {v}\n}}", header(node), p.name), path),
            &format!("{at} {{ {} }}", p.name),
        );
        *count += 2;
    }
    path.push(node);
    for c in node.children {
        walk(path, c, count);
    }
    path.pop();
}

#[test]
fn every_documented_node_and_property_is_understood() {
    let mut count = 0;
    for top in spec::ROOT.children {
        walk(&mut Vec::new(), top, &mut count);
    }
    assert!(count > 80, "only {count} property forms checked");
}

#[test]
fn every_node_example_is_understood() {
    fn walk_examples(path: &mut Vec<&'static NodeSpec>, node: &'static NodeSpec) {
        if !node.example.is_empty() {
            let mut doc = node
                .example
                .replace("\"...\"", &format!("\"{HASH}\""))
                .replace("$argon2id$v=19$m=19456,t=2,p=1$...", HASH);
            for anc in path.iter().rev() {
                doc = format!("{} {{\n{doc}\n}}", header(anc));
            }
            assert_understood(&doc, node.name);
        }
        path.push(node);
        for c in node.children {
            walk_examples(path, c);
        }
        path.pop();
    }
    for top in spec::ROOT.children {
        walk_examples(&mut Vec::new(), top);
    }
}

#[test]
fn every_code_is_documented_and_unique() {
    let mut seen = std::collections::HashSet::new();
    for c in Code::ALL {
        assert!(seen.insert(c.as_str()), "duplicate code {}", c.as_str());
        assert!(
            !c.description().trim().is_empty(),
            "{} has no description",
            c.as_str()
        );
        assert!(c.as_str().starts_with("yubin::config::"));
    }
}
