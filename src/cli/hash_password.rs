//! `yubin hash-password`: argon2id (m=19456 KiB, t=2, p=1), PHC string on stdout.

use std::io::{BufRead, IsTerminal};

use argon2::{Argon2, PasswordHasher};

use super::{EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE};

fn read_password() -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the two passwords differ".into());
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let trimmed = line.strip_suffix('\n').unwrap_or(&line);
        Ok(trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned())
    }
}

/// Hashes a password with yubin's parameters.
pub fn hash(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Runs the command: passwords shorter than `min_length` characters are refused.
pub fn run(min_length: usize) -> u8 {
    let password = match read_password() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_UNREADABLE;
        }
    };
    if password.is_empty() {
        eprintln!("error: the password is empty");
        return EXIT_INVALID;
    }
    let length = password.chars().count();
    if length < min_length {
        eprintln!(
            "error: the password has {length} characters; use at least {min_length}: a short one falls to \
             guessing within hours once its hash leaks (a few words together make a long password easy \
             to remember; --min-length changes the minimum)"
        );
        return EXIT_INVALID;
    }
    match hash(&password) {
        Ok(h) => {
            println!("{h}");
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_UNREADABLE
        }
    }
}
