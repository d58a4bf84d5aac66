//! Embeds the git revision and build profile for `yubin --version`.
use std::process::Command;

fn main() {
    let rev = std::env::var("YUBIN_GIT_REV").ok().or_else(|| {
        let out = Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    });
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| o.status.success() && !o.stdout.is_empty());
    let rev = match rev {
        Some(r) if dirty && std::env::var("YUBIN_GIT_REV").is_err() => format!("{r}-dirty"),
        Some(r) => r,
        None => "unknown".to_owned(),
    };
    println!("cargo:rustc-env=YUBIN_GIT_REV={rev}");
    println!(
        "cargo:rustc-env=YUBIN_PROFILE={}",
        std::env::var("PROFILE").unwrap_or_default()
    );
    println!("cargo:rerun-if-env-changed=YUBIN_GIT_REV");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");
}
