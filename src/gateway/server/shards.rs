//! Where the gateway binary runs its sessions: one runtime with a single worker per core,
//! sessions dealt out in turn. A session's tasks (the multiplexer's driver, one relay per
//! stream) then hand bytes to each other on one thread, never waking another core for a
//! chunk, while the sessions together use every core (`docs/performance.md`). The accept
//! loop, reloads and the audit log stay on the main runtime.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// The session runtimes; they stop when this is dropped (their tasks are cancelled).
#[derive(Debug)]
pub struct Shards {
    handles: Vec<Handle>,
    next: AtomicUsize,
    stop: CancellationToken,
}

impl Shards {
    /// Starts one single-worker runtime per core the system gives this process.
    pub fn per_core() -> std::io::Result<Shards> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Shards::start(cores)
    }

    /// Starts `count` single-worker runtimes (at least one), each kept by a thread of its own.
    pub fn start(count: usize) -> std::io::Result<Shards> {
        let stop = CancellationToken::new();
        let mut handles = Vec::new();
        for n in 0..count.max(1) {
            // Multi-threaded with one worker rather than current-thread: a task that must
            // block (the refusal counts' file) can hand the worker on.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name(format!("sessions-{n}"))
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("sessions-{n}-keeper"))
                .spawn(move || runtime.block_on(stop.cancelled()))?;
        }
        Ok(Shards {
            handles,
            next: AtomicUsize::new(0),
            stop,
        })
    }

    /// The runtime for the next session.
    pub(super) fn next(&self) -> &Handle {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        &self.handles[n % self.handles.len()]
    }
}

impl Drop for Shards {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_dealt_out_over_every_runtime_in_turn() {
        let shards = Shards::start(3).unwrap();
        let ran_on: Vec<String> = (0..4)
            .map(|_| {
                let runtime = shards.next().clone();
                let task = runtime
                    .spawn(async { std::thread::current().name().unwrap_or("?").to_owned() });
                runtime.block_on(task).unwrap()
            })
            .collect();
        assert_eq!(
            ran_on,
            ["sessions-0", "sessions-1", "sessions-2", "sessions-0"]
        );
    }
}
