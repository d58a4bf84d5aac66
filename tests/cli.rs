//! The command line: exit statuses, output formats, secrets, hashing, plans and diffs.

mod common;

use common::{TempDir, run};

const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$2mrBFeubwnP46byj1V5ycw$bVeL7q9cYfXfDKEc+wWxozcMXQoOdrGuRz7CtvHEwSk";

fn base(extra: &str) -> String {
    format!(
        "hostname \"mail.example.com\"\ndomain \"example.com\" {{\n    dkim selector=\"s1\"\n    user \"alice\" password-hash=\"{HASH}\"\n    alias \"postmaster\" to=\"alice\"\n}}\n{extra}"
    )
}

fn write(dir: &TempDir, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write config");
    p.to_str().expect("utf-8").to_owned()
}

#[test]
fn unreadable_file_exits_2() {
    let out = run(&["validate", "/nonexistent/mail.kdl"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let out = run(&["validate", "--format", "json", "/nonexistent/mail.kdl"], None);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["code"], "yubin::config::unreadable");
}

#[test]
fn not_kdl_exits_2_with_position() {
    let dir = TempDir::new("cli");
    let f = write(&dir, "m.kdl", "hostname \"mail.example.com\nfoo");
    let out = run(&["validate", "--format", "short", &f], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error[yubin::config::syntax]"), "{err}");
    assert!(err.contains("m.kdl:1:"), "{err}");
}

#[test]
fn warnings_pass_unless_denied() {
    let dir = TempDir::new("cli");
    let f = write(
        &dir,
        "m.kdl",
        &base("domain \"example.net\" {\n    dmarc policy=\"none\"\n}\n"),
    );
    let out = run(&["validate", &f], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("dmarc_policy_none") && err.contains("domain_without_dkim"),
        "{err}"
    );
    assert!(err.contains("valid, 2 warnings"), "{err}");
    let out = run(&["validate", "--deny-warnings", &f], None);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn human_format_shows_the_source_line_and_help() {
    let dir = TempDir::new("cli");
    let f = write(&dir, "m.kdl", &base("limits {\n    mesage-size \"1MiB\"\n}\n"));
    let out = run(&["validate", &f], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("yubin::config::unknown_node"), "{err}");
    assert!(err.contains("mesage-size \"1MiB\""), "{err}");
    assert!(err.contains("did you mean `message-size`?"), "{err}");
    assert!(err.contains("m.kdl:8:5"), "{err}");
}

#[test]
fn secrets_are_checked_only_on_request() {
    let dir = TempDir::new("cli");
    let secret_file = dir.join("relay-password");
    let relay = format!(
        "relay \"smtp.example.net:587\" {{\n    username \"u\"\n    password file=\"{}\"\n}}\ninbound-webhook {{\n    token env=\"YUBIN_TEST_TOKEN_UNSET\"\n}}\n",
        secret_file.display()
    );
    let f = write(&dir, "m.kdl", &base(&relay));
    assert_eq!(run(&["validate", &f], None).status.code(), Some(0));

    let out = run(&["validate", "--check-secrets", "--format", "json", &f], None);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.matches("yubin::config::secret_unavailable").count(),
        2,
        "{stdout}"
    );

    std::fs::write(&secret_file, "s3cret-value\n").expect("write secret");
    let out = common::yubin()
        .args(["validate", "--check-secrets", &f])
        .env("YUBIN_TEST_TOKEN_UNSET", "tok")
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let plan = common::yubin()
        .args(["plan", &f])
        .env("YUBIN_TEST_TOKEN_UNSET", "tok")
        .output()
        .expect("run");
    let json = String::from_utf8_lossy(&plan.stdout);
    assert!(
        !json.contains("s3cret-value") && !json.contains("\"tok\""),
        "secret value in plan"
    );
    assert!(
        json.contains("YUBIN_TEST_TOKEN_UNSET") && json.contains("relay-password"),
        "references kept"
    );
}

#[test]
fn inline_secrets_never_appear_in_any_output_format() {
    // Issue 10 item 13: the human format printed the secret back in its snippet.
    let dir = TempDir::new("cli-redact");
    let files = [
        // The refusal corpus's three inline forms.
        base("relay \"smtp.example.net:587\" {\n    username \"apikey\"\n    password \"hunter2-arg\"\n}\n"),
        base("relay \"smtp.example.net:587\" username=\"apikey\" password=\"hunter2-prop\"\n"),
        base("storage {\n    database \"postgres://yubin:hunter2-url@db/yubin\"\n}\n"),
        // A URL yubin cannot use: its message quotes it.
        base("storage {\n    database \"mysql://yubin:hunter2-mysql@db/yubin\"\n}\n"),
        // A plain password where the hash belongs.
        base(
            "domain \"example.org\" {\n    user \"bob\" {\n        password-hash \"hunter2-hash\"\n    }\n}\n",
        ),
        // Another problem on the next line: the secret is only context in its snippet.
        base(
            "inbound-webhook {\n    token env=\"T\"\n    tokne \"hunter2-context\"\n}\nrelay \"r.example.net:587\" {\n    password \"hunter2-near\"\n    usrname \"u\"\n}\n",
        ),
        // Not even KDL: the syntax error's snippet shows the line before.
        base("relay \"r.example.net:587\" {\n    password \"hunter2-syntax\"\n    username \"u\" = =\n}\n"),
    ];
    for (i, text) in files.iter().enumerate() {
        let f = write(&dir, &format!("m{i}.kdl"), text);
        for format in ["human", "short", "json"] {
            let out = common::yubin()
                .args(["validate", "--format", format, &f])
                .env("NO_COLOR", "1")
                .output()
                .expect("run");
            assert_ne!(out.status.code(), Some(0), "file {i} should be refused");
            let shown = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!shown.contains("hunter2"), "file {i}, {format}:\n{shown}");
            if format == "human" {
                assert!(
                    shown.contains("*******"),
                    "file {i}: the snippet is still shown:\n{shown}"
                );
            }
        }
    }
}

#[test]
fn hash_password_output_is_accepted_by_validate() {
    let out = run(&["hash-password"], Some("correct horse battery\n"));
    assert_eq!(out.status.code(), Some(0));
    let hash = String::from_utf8(out.stdout).expect("utf-8").trim().to_owned();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");

    use argon2::{Argon2, PasswordVerifier, password_hash::phc::PasswordHash};
    let parsed = PasswordHash::new(&hash).expect("phc");
    assert!(
        Argon2::default()
            .verify_password(b"correct horse battery", &parsed)
            .is_ok()
    );
    assert!(
        Argon2::default()
            .verify_password(b"correct horse battery\n", &parsed)
            .is_err()
    );

    let dir = TempDir::new("cli");
    let f = write(&dir, "m.kdl", &base("").replace(HASH, &hash));
    assert_eq!(
        run(&["validate", "--deny-warnings", &f], None).status.code(),
        Some(0)
    );

    let empty = run(&["hash-password"], Some("\n"));
    assert_eq!(empty.status.code(), Some(1));

    // Issue 13: five characters were accepted. 12 at least, unless the admin chooses.
    let short = run(&["hash-password"], Some("abcde\n"));
    assert_eq!(short.status.code(), Some(1));
    let err = String::from_utf8_lossy(&short.stderr);
    assert!(err.contains("has 5 characters; use at least 12"), "{err}");
    assert_eq!(
        run(&["hash-password", "--min-length", "5"], Some("abcde\n"))
            .status
            .code(),
        Some(0)
    );
    // Characters, not bytes: twelve kana are enough.
    assert_eq!(
        run(&["hash-password"], Some("ながいながいパスワード!\n"))
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn plan_diff_says_what_changes() {
    let dir = TempDir::new("cli");
    let old = write(
        &dir,
        "old.kdl",
        &base("limits {\n    message-size \"25MiB\"\n}\n"),
    );
    let new_text = base("limits {\n    message-size \"50MiB\"\n}\n").replace(
        "    alias \"postmaster\"",
        &format!("    user \"bob\" password-hash=\"{HASH}\" quota=\"1GiB\"\n    alias \"postmaster\""),
    );
    let new = write(&dir, "new.kdl", &new_text);
    let out = run(&["plan", "--diff", &old, &new], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("+ mailbox bob@example.com"), "{text}");
    assert!(text.contains("+ route bob@example.com"), "{text}");
    // Issue 13: which changes wait for a restart.
    assert!(
        text.contains("~ limits.message_size_bytes: 26214400 → 52428800  (after a restart)\n"),
        "{text}"
    );
    assert!(
        text.contains("+ mailbox bob@example.com\n"),
        "a reload applies it: {text}"
    );
    assert!(
        text.ends_with("3 changes; 1 of them take effect after a restart, the others at a reload\n"),
        "{text}"
    );
    assert!(!text.contains("argon2id"), "hashes are not printed: {text}");

    let same = run(&["plan", "--diff", &old, &old], None);
    assert_eq!(String::from_utf8_lossy(&same.stdout), "no changes\n");

    let bad = write(&dir, "bad.kdl", "hostname 5\n");
    assert_eq!(run(&["plan", "--diff", &old, &bad], None).status.code(), Some(1));
}

#[test]
fn plan_writes_to_a_file() {
    let dir = TempDir::new("cli");
    let f = write(&dir, "m.kdl", &base(""));
    let out_path = dir.join("plan.json");
    let out = run(&["plan", &f, "-o", out_path.to_str().expect("utf-8")], None);
    assert_eq!(out.status.code(), Some(0));
    let plan: yubin::plan::Plan =
        serde_json::from_slice(&std::fs::read(&out_path).expect("plan")).expect("parse");
    assert_eq!(plan.hostname, "mail.example.com");
    assert_eq!(
        plan.routes["postmaster@example.com"].mailboxes,
        ["alice@example.com"]
    );
}

#[test]
fn relative_paths_start_at_the_config_folder() {
    let dir = TempDir::new("cli");
    std::fs::create_dir_all(dir.join("etc")).expect("mkdir");
    let f = write(&dir, "etc/m.kdl", &base("storage {\n    data \"../var\"\n}\n"));
    let out = run(&["plan", &f], None);
    let plan: yubin::plan::Plan = serde_json::from_slice(&out.stdout).expect("plan");
    let real = std::fs::canonicalize(&dir.0).expect("canonical");
    assert_eq!(plan.storage.data_dir, real.join("var").display().to_string());
    // Issue 13: copying such a file elsewhere moves its data; validate says so.
    let err = String::from_utf8_lossy(&run(&["validate", "--format", "short", &f], None).stderr).into_owned();
    assert!(err.contains("data_outside_config_folder"), "{err}");
    let inside = write(
        &dir,
        "etc/n.kdl",
        &base("storage {\n    data \"var/./x/../y\"\n}\n"),
    );
    let err =
        String::from_utf8_lossy(&run(&["validate", "--format", "short", &inside], None).stderr).into_owned();
    assert!(!err.contains("data_outside_config_folder"), "{err}");
}

#[test]
fn version_names_revision_and_profile() {
    let out = run(&["--version"], None);
    let v = String::from_utf8_lossy(&out.stdout);
    assert!(v.starts_with("yubin 0."), "{v}");
    assert!(
        v.contains("(rev ") && (v.contains("debug") || v.contains("release")),
        "{v}"
    );
}

#[test]
fn a_missing_test_component_fails_loudly() {
    // Issue 14: tests used to return early (and pass) when a tool was missing.
    if std::env::var("YUBIN_TESTS_ALLOW_MISSING").is_ok_and(|v| v == "1") {
        return;
    }
    let r = std::panic::catch_unwind(|| common::server::have("yubin-no-such-tool"));
    let msg = r.expect_err("a missing tool must fail the test");
    let text = msg
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| msg.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(text.contains("yubin-no-such-tool is not installed"), "{text}");
    assert!(text.contains(".ci/install-packages"), "{text}");
}

/// Issue 13: the appliance's sample config shipped the README's example hash and a disabled
/// postmaster without a word from `validate`.
#[test]
fn published_example_passwords_and_a_disabled_postmaster_are_flagged() {
    let dir = TempDir::new("cli");
    let alice =
        "$argon2id$v=19$m=19456,t=2,p=1$jGeMXANpfiemq/i9LDa6ug$oGD23m3qvii2iTtKHk3Sxsa151Oy3hsOO6aq/gzEQXE";
    let f = write(&dir, "m.kdl", &base("").replace(HASH, alice));
    let out = run(&["validate", "--format", "short", &f], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("example_password_hash") && err.contains("alice-password"),
        "{err}"
    );

    let disabled = "hostname \"mail.example.com\"\ndomain \"example.com\" {\n    dkim selector=\"s1\"\n    \
                    user \"postmaster\" password-hash=\"HASH\" disabled=#true\n}\n"
        .replace("HASH", HASH);
    let f = write(&dir, "d.kdl", &disabled);
    let err = String::from_utf8_lossy(&run(&["validate", "--format", "short", &f], None).stderr).into_owned();
    assert!(
        err.contains("no_postmaster") && err.contains("disabled mailbox"),
        "{err}"
    );

    // An alias whose only target is a disabled user does not count either.
    let via_alias = "hostname \"mail.example.com\"\ndomain \"example.com\" {\n    dkim selector=\"s1\"\n    \
                     user \"bob\" password-hash=\"HASH\" disabled=#true\n    alias \"postmaster\" to=\"bob\"\n}\n"
        .replace("HASH", HASH);
    let f = write(&dir, "a.kdl", &via_alias);
    let err = String::from_utf8_lossy(&run(&["validate", "--format", "short", &f], None).stderr).into_owned();
    assert!(err.contains("no_postmaster"), "{err}");

    // The appliance's own sample says both.
    let sample = common::root().join("appliance/mail.kdl");
    let err = String::from_utf8_lossy(
        &run(
            &["validate", "--format", "short", sample.to_str().expect("path")],
            None,
        )
        .stderr,
    )
    .into_owned();
    assert!(
        err.contains("example_password_hash") && err.contains("no_postmaster"),
        "{err}"
    );
}
