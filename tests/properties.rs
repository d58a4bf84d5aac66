//! Property tests: arbitrary bytes and mutated valid configurations never panic the parser, the
//! checks or the compiler, and whatever compiles yields a plan that serialises and parses back.

use std::path::Path;

use proptest::prelude::*;

use yubin::config;
use yubin::plan::{self, Plan};

fn seeds() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["examples", "tests/invalid"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
            .collect();
        files.sort();
        out.extend(files.iter().map(|p| std::fs::read_to_string(p).expect("read")));
    }
    out
}

fn check(text: &str) {
    let outcome = config::parse(Path::new("fuzz.kdl"), text, Path::new("/tmp"));
    for d in &outcome.diagnostics {
        // Every span must point inside the text, so reports can always be rendered.
        assert!(
            d.span.offset() + d.span.len() <= text.len(),
            "span out of bounds: {d:?}"
        );
        let _ = outcome.source.line_col(d.span.offset());
    }
    // The text snippets are printed from: secrets hidden, every offset and line kept.
    let shown = outcome.source.named().inner();
    assert_eq!(shown.len(), text.len(), "redaction changed the length");
    assert!(
        shown
            .char_indices()
            .filter(|(_, c)| *c == '\n')
            .map(|(i, _)| i)
            .eq(text.char_indices().filter(|(_, c)| *c == '\n').map(|(i, _)| i)),
        "redaction moved a line break"
    );
    if let Some(cfg) = &outcome.config {
        let p = plan::compile(cfg);
        let json = p.to_canonical_json();
        let back: Plan = serde_json::from_str(&json).expect("plan parses back");
        assert_eq!(back, p);
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, String),
    Duplicate(usize, usize),
    Swap(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let token = prop_oneof![
        Just("\"".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("=".to_owned()),
        Just("#true".to_owned()),
        Just("#null".to_owned()),
        Just("user \"x\"".to_owned()),
        Just(" alias \"postmaster\" to=\"postmaster\"".to_owned()),
        Just("domain \"example.com\"".to_owned()),
        Just("-1".to_owned()),
        Just("99999999999999999999999".to_owned()),
        Just("\u{0}\u{feff}é\n".to_owned()),
        Just("(t)".to_owned()),
        "[a-z@.:/ \"=0-9-]{0,12}",
    ];
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), token).prop_map(|(a, t)| Mutation::Insert(a, t)),
        (any::<usize>(), 0usize..200).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
    ]
}

fn boundary(s: &str, i: usize) -> usize {
    let mut i = i % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(mut s: String, m: &Mutation) -> String {
    match m {
        Mutation::Delete(a, n) => {
            let a = boundary(&s, *a);
            let b = boundary(&s, (a + n).min(s.len()));
            if b > a {
                s.replace_range(a..b, "");
            }
        }
        Mutation::Insert(a, t) => {
            let a = boundary(&s, *a);
            s.insert_str(a, t);
        }
        Mutation::Duplicate(a, n) => {
            let a = boundary(&s, *a);
            let b = boundary(&s, (a + n).min(s.len()).max(a));
            let piece = s[a..b].to_owned();
            s.insert_str(b, &piece);
        }
        Mutation::Swap(a, b) => {
            let lines: Vec<&str> = s.lines().collect();
            if lines.len() > 1 {
                let (i, j) = (a % lines.len(), b % lines.len());
                let mut v: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
                v.swap(i, j);
                s = v.join("\n");
            }
        }
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn kdl_shaped_text_never_panics(text in "[a-z\\-]{1,12}( \"[^\"]{0,20}\"| [a-z\\-]{1,8}=(\"[^\"]{0,20}\"|[0-9]{1,4}|#true)){0,4}( \\{\n[a-z\\-]{1,12} \"[^\"]{0,30}\"\n\\})?\n") {
        check(&text);
    }

    #[test]
    fn mutated_configs_never_panic(seed in 0usize..1000, muts in proptest::collection::vec(mutation(), 1..6)) {
        let seeds = seeds();
        let mut text = seeds[seed % seeds.len()].clone();
        for m in &muts {
            text = apply(text, m);
        }
        check(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn hostile_fragment_soup_never_crashes(
        fragments in proptest::collection::vec(
            prop_oneof![
                Just("{"), Just("}"), Just("a"), Just(" "), Just("\n"), Just("/-"), Just("/*"),
                Just("*/"), Just("*"), Just("\""), Just("#\""), Just("\"#"), Just("="), Just("\\"),
                Just("//"), Just("("), Just(")"), Just("password"), Just("\"\"\"\n"),
            ],
            0..1500,
        ),
        repeat in 1usize..30,
    ) {
        // Issue 10 item 4: nesting, stray tokens and comment pieces made kdl recurse without
        // bound; in this process a stack overflow would abort the whole test run.
        let text: String = fragments.concat().repeat(repeat);
        check(&text);
    }
}
