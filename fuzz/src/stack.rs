//! Parsing on a thread with the stack a server thread has.
//!
//! libFuzzer calls a target on the main thread (8 MiB of stack). The server parses on tokio
//! workers and blocking-pool threads (2 MiB: IMAP commands, MIME, a configuration reloaded on
//! SIGHUP), so the targets hand their input to one long-lived thread of that size: a recursion
//! that would overflow the server overflows here. A panic or stack overflow there aborts the
//! process (libfuzzer-sys's panic hook), which libFuzzer reports as a crash.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Tokio's default worker stack, which `yubin serve` keeps.
pub const SERVER_STACK: usize = 2 * 1024 * 1024;

type Job = Box<dyn FnOnce() + Send>;

struct Worker {
    jobs: SyncSender<Job>,
    done: Receiver<()>,
}

static WORKER: Mutex<Option<Worker>> = Mutex::new(None);

fn start() -> Worker {
    let (jobs, rx) = sync_channel::<Job>(0);
    let (tx, done) = sync_channel(0);
    std::thread::Builder::new()
        .name("server-stack".into())
        .stack_size(SERVER_STACK)
        .spawn(move || {
            while let Ok(job) = rx.recv() {
                job();
                if tx.send(()).is_err() {
                    return;
                }
            }
        })
        .expect("spawn the parsing thread");
    Worker { jobs, done }
}

/// Runs `f` on the 2 MiB thread and waits for it.
pub fn on_server_stack(f: impl FnOnce() + Send + 'static) {
    let mut guard = WORKER.lock().unwrap_or_else(|e| e.into_inner());
    let worker = guard.get_or_insert_with(start);
    worker.jobs.send(Box::new(f)).expect("the parsing thread is gone");
    worker.done.recv().expect("the parsing thread is gone");
}
