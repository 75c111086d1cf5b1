//! The gateway's password checks: a fixed pool of threads behind a bounded queue.
//!
//! argon2 is slow and big on purpose (about 19 MiB per check with the recommended parameters).
//! Each pool thread keeps one [`HashMemory`] for its whole life, so the memory argon2 can use is
//! `threads × m` however many logins arrive at once, and nothing is allocated or freed per
//! check (freed blocks of that size would otherwise stay in the allocator's heap). A login that
//! finds every thread taken and the queue full is answered "busy" at once: it neither waits
//! nor holds memory. The async side only queues a job and awaits its answer on a oneshot
//! channel, so no tokio thread ever blocks on a hash.
//!
//! [`PasswordPool::check_login`] is the I/O edge around the pure steps of [`super::auth`]:
//! the lockout is asked first (a locked attempt never reaches the pool), then the password is
//! checked here, then the rest of the decision is taken.

use std::net::IpAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::oneshot;

use super::auth::{self, hash_memory_kib, Accepted, Claim, HashMemory, Refusal};
use super::config::Config;
use super::lockout::LockKey;
use super::lockout_postgres::LockoutBook;
use crate::secret::Password;
use crate::tunnel::protocol::Login;

/// Why a password was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unchecked {
    /// Every thread is taken and the queue is full.
    Busy,
    /// No thread could take it (none could be started), or the check itself failed (logged).
    Failed,
}

/// How a login came out, and what the server answers.
#[derive(Debug)]
pub enum LoginOutcome {
    /// Decided: the audit record first, then `accepted`, or `rejected` with what
    /// [`Refusal::client`] says.
    Decided(Result<Accepted, Refusal>),
    /// Not decided, nothing counted: the password checks are all taken. Answer
    /// `server-busy`; the client may try again shortly.
    Busy,
    /// Not decided: the check failed (already logged). Close without an answer.
    Failed,
    /// Not decided, nothing counted: a part the decision needs (the shared lockout counts)
    /// cannot be reached. Answer "cannot log in now"; the reason is for the audit log.
    Unavailable(String),
}

/// One password to check, and where the answer goes.
struct Job {
    hash: String,
    password: Password,
    answer: oneshot::Sender<bool>,
}

/// The pool: its threads hold the receiving end; dropping the pool ends them once they have
/// finished what they hold.
#[derive(Debug)]
pub struct PasswordPool {
    jobs: SyncSender<Job>,
    threads: usize,
    room_kib: u32,
}

impl PasswordPool {
    /// The pool for a configuration: `[limits]` says how many threads and how long a queue,
    /// and each thread's memory has room for the largest configured hash (the dummy hash
    /// included).
    pub fn for_config(config: &Config) -> PasswordPool {
        let room_kib = config
            .users
            .iter()
            .map(|u| u.password_hash.as_str())
            .chain([config.dummy_hash.as_str()])
            .map(hash_memory_kib)
            .max()
            .unwrap_or(0);
        PasswordPool::start(
            config.limits.password_check_threads,
            config.limits.password_check_queue,
            room_kib,
        )
    }

    /// Starts `threads` threads (0: one per core) behind a queue of `queue` waiting checks;
    /// each thread's memory has room for hashes of `room_kib` KiB. A thread that cannot be
    /// started is logged; with none, every check fails.
    pub fn start(threads: u32, queue: u32, room_kib: u32) -> PasswordPool {
        let wanted = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n as usize,
        };
        let (mut pool, waiting) = PasswordPool::without_threads(queue, room_kib);
        for _ in 0..wanted {
            pool.add_thread(&waiting);
        }
        pool
    }

    /// The queue alone, and its receiving end for the threads to share.
    fn without_threads(queue: u32, room_kib: u32) -> (PasswordPool, Arc<Mutex<Receiver<Job>>>) {
        let (jobs, waiting) = mpsc::sync_channel(queue as usize);
        let pool = PasswordPool {
            jobs,
            threads: 0,
            room_kib,
        };
        (pool, Arc::new(Mutex::new(waiting)))
    }

    /// Starts one more thread on the queue; one that cannot be started is logged.
    fn add_thread(&mut self, waiting: &Arc<Mutex<Receiver<Job>>>) {
        let waiting = Arc::clone(waiting);
        let memory = HashMemory::new(self.room_kib);
        let spawned = std::thread::Builder::new()
            .name(format!("password-check-{}", self.threads))
            .spawn(move || work(&waiting, memory));
        match spawned {
            Ok(_) => self.threads += 1,
            Err(e) => tracing::error!("a password-check thread could not be started: {e}"),
        }
    }

    /// Threads running.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The most memory the threads' argon2 buffers hold together, in KiB, as long as no hash
    /// needs more than the room they were sized for.
    pub fn memory_bound_kib(&self) -> u64 {
        self.threads as u64 * u64::from(self.room_kib)
    }

    /// Whether `password` matches the PHC string `hash`, checked on a pool thread. Returns at
    /// once with [`Unchecked::Busy`] when the queue is full. The password moves to the pool
    /// and is wiped there (or here, if it never gets in).
    pub async fn check(&self, hash: &str, password: Password) -> Result<bool, Unchecked> {
        self.submit(hash, password)?
            .await
            .map_err(|_| Unchecked::Failed)
    }

    /// Queues a check; the answer comes on the returned channel.
    fn submit(&self, hash: &str, password: Password) -> Result<oneshot::Receiver<bool>, Unchecked> {
        let (answer, answered) = oneshot::channel();
        let job = Job {
            hash: hash.to_owned(),
            password,
            answer,
        };
        match self.jobs.try_send(job) {
            Ok(()) => Ok(answered),
            Err(TrySendError::Full(_)) => Err(Unchecked::Busy),
            Err(TrySendError::Disconnected(_)) => Err(Unchecked::Failed),
        }
    }

    /// Decides a login: the lockout first (a locked attempt is refused without hashing), then
    /// the password on the pool (against the dummy hash for an unknown user or a foreign card,
    /// so those cost the same), then counting, posture and grants (see [`super::auth`]).
    /// `now` (monotonic, and the wall clock's Unix milliseconds for shared counts) is read
    /// before and after the check. The login's password is moved, never copied.
    #[allow(clippy::too_many_arguments)]
    pub async fn check_login(
        &self,
        config: &Config,
        lockout: &LockoutBook,
        now: impl Fn() -> (Instant, i64),
        source: IpAddr,
        personal_id: &str,
        login: Login,
        posture: impl FnOnce() -> crate::posture::policy::Verdict,
    ) -> LoginOutcome {
        let Login {
            username, password, ..
        } = login;
        let claim = Claim {
            source,
            personal_id,
            username: &username,
        };
        let keys = LockKey::of_login(&username, &claim.card(), source);
        let before = now();
        if let Err(e) = lockout.refresh(&keys, before).await {
            return LoginOutcome::Unavailable(e.to_string());
        }
        let planned = auth::plan_login(config, &lockout.lock(), before.0, &claim);
        let check = match planned {
            Ok(check) => check,
            Err(refusal) => return LoginOutcome::Decided(Err(refusal)),
        };
        let matched = match self.check(check.hash(), password).await {
            Ok(matched) => matched,
            Err(Unchecked::Busy) => return LoginOutcome::Busy,
            Err(Unchecked::Failed) => return LoginOutcome::Failed,
        };
        let credentials = check.outcome(matched);
        let after = now();
        let decided = lockout
            .count(&keys, after, |lockout| {
                auth::decide_login(config, lockout, after.0, &claim, credentials, posture)
            })
            .await;
        match decided {
            Ok(decision) => LoginOutcome::Decided(decision),
            Err(e) => LoginOutcome::Unavailable(e.to_string()),
        }
    }
}

/// One pool thread: takes the next job, skips it if its login has gone (timed out, client
/// left), checks it in the thread's own memory and answers.
fn work(waiting: &Mutex<Receiver<Job>>, mut memory: HashMemory) {
    loop {
        let next = waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        let Ok(job) = next else {
            return;
        };
        if job.answer.is_closed() {
            continue;
        }
        match panic::catch_unwind(AssertUnwindSafe(|| memory.verify(&job.hash, &job.password))) {
            Ok(matched) => {
                let _ = job.answer.send(matched);
            }
            Err(_) => tracing::error!("a password check failed unexpectedly"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::auth::{hash_password_with, HashParams, Lockout, RefusalReason};
    use crate::gateway::testutil::{self, pw, KARI_ID, KARI_PASSWORD, OLA_ID};
    use crate::posture::policy::Verdict;
    use crate::tunnel::protocol::PROTOCOL_VERSION;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 10));

    fn login(username: &str, password: &str) -> Login {
        Login {
            version: PROTOCOL_VERSION,
            client_version: "test".into(),
            username: username.into(),
            password: pw(password),
        }
    }

    #[tokio::test]
    async fn checks_answer_right_and_wrong() {
        let hash = hash_password_with(&pw("riktig"), HashParams::TEST_ONLY).unwrap();
        let pool = PasswordPool::start(2, 4, 64);
        assert_eq!(pool.threads(), 2);
        assert_eq!(pool.memory_bound_kib(), 128);
        assert_eq!(pool.check(&hash, pw("riktig")).await, Ok(true));
        assert_eq!(pool.check(&hash, pw("feil")).await, Ok(false));
        assert_eq!(pool.check("ikke en hash", pw("riktig")).await, Ok(false));
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once() {
        let hash = hash_password_with(&pw("riktig"), HashParams::TEST_ONLY).unwrap();
        // No thread yet: two checks fit in the queue and the third is turned away.
        let (mut pool, waiting) = PasswordPool::without_threads(2, 64);
        let first = pool.submit(&hash, pw("riktig")).unwrap();
        let second = pool.submit(&hash, pw("feil")).unwrap();
        assert_eq!(
            pool.submit(&hash, pw("riktig")).unwrap_err(),
            Unchecked::Busy
        );
        pool.add_thread(&waiting);
        assert_eq!(first.await, Ok(true));
        assert_eq!(second.await, Ok(false));
        // Room again.
        assert_eq!(pool.check(&hash, pw("riktig")).await, Ok(true));
    }

    #[tokio::test]
    async fn a_pool_without_threads_fails_instead_of_hanging() {
        let (pool, waiting) = PasswordPool::without_threads(1, 0);
        drop(waiting);
        assert_eq!(pool.check("x", pw("y")).await, Err(Unchecked::Failed));
    }

    #[tokio::test]
    async fn a_locked_attempt_never_reaches_the_pool_and_an_unknown_user_does() {
        let config = testutil::config();
        let lockout = LockoutBook::alone(Lockout::new(config.lockout));
        // A pool without threads and a full queue: anything that reaches it is answered busy.
        let (pool, _waiting) = PasswordPool::without_threads(1, 64);
        let _queued = pool.submit("x", pw("y")).unwrap();
        let decide = |username: &'static str, card: &'static str| {
            pool.check_login(
                &config,
                &lockout,
                || (Instant::now(), 0),
                HOME,
                card,
                login(username, "gjetning"),
                Verdict::default,
            )
        };
        // An unknown user costs a check like a known one.
        assert!(matches!(
            decide("finnes-ikke", KARI_ID).await,
            LoginOutcome::Busy
        ));
        assert!(matches!(decide("kari", KARI_ID).await, LoginOutcome::Busy));
        // Kari locked (three wrong passwords): refused without a check, whatever the password.
        for _ in 0..3 {
            let mut l = lockout.lock();
            l.record_failure("kari", HOME, Instant::now());
        }
        match decide("kari", KARI_ID).await {
            LoginOutcome::Decided(Err(r)) => {
                assert_eq!(r.reason, RefusalReason::LockedOut);
                assert!(matches!(r.client, auth::ClientRefusal::LockedOut { .. }));
            }
            other => panic!("{other:?}"),
        }
        // Only Kari is locked (the address takes five failures): Ola is still checked.
        assert!(matches!(decide("ola", OLA_ID).await, LoginOutcome::Busy));
    }

    #[tokio::test]
    async fn a_login_is_decided_with_its_password_checked_on_the_pool() {
        let config = testutil::config();
        let lockout = LockoutBook::alone(Lockout::new(config.lockout));
        let pool = PasswordPool::for_config(&config);
        assert_eq!(pool.room_kib, 64, "sized for the configured hashes");
        let decide = |password: &'static str| {
            pool.check_login(
                &config,
                &lockout,
                || (Instant::now(), 0),
                HOME,
                KARI_ID,
                login("kari", password),
                Verdict::default,
            )
        };
        match decide(KARI_PASSWORD).await {
            LoginOutcome::Decided(Ok(accepted)) => assert_eq!(accepted.user, "kari"),
            other => panic!("{other:?}"),
        }
        match decide("feil").await {
            LoginOutcome::Decided(Err(r)) => assert_eq!(r.reason, RefusalReason::WrongPassword),
            other => panic!("{other:?}"),
        }
        assert_eq!(lockout.lock().tracked(), (1, 1));
    }
}
