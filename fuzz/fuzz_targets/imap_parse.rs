//! The IMAP command parser (`yubin::imap::parse::parse`) on a server thread's 2 MiB stack: any
//! command line (literals inline, as the session hands them over) parses or is refused,
//! without a panic, a stack overflow (SEARCH nesting has a depth budget) or super-linear time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yubin_fuzz::stack::on_server_stack;

fuzz_target!(|line: &[u8]| {
    let line = line.to_vec();
    on_server_stack(move || {
        let _ = yubin::imap::parse::command_name(&line);
        match yubin::imap::parse::parse(&line) {
            Ok((tag, _)) => assert!(!tag.is_empty(), "a command with an empty tag"),
            Err((_, e)) => assert!(!e.0.contains(['\r', '\n']), "CR or LF in a BAD text: {:?}", e.0),
        }
    });
});
