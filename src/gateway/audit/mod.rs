//! The audit log: every login attempt (accepted, or refused with its reason), every session's
//! start and end, and the gateway's own starts and reloads, as Norm for
//! informasjonssikkerhet requires.
//!
//! - [`record`] (pure): the events, the line format, and what the hash covers;
//! - [`verify`] (pure over a reader): checking the chain, and reading records with a filter;
//! - [`log`]: the file, with group commit on one writer thread, flushed before it answers;
//!   one writer at a time (a lock), and it stops taking records when the file is moved;
//! - [`postgres`]: the same chain in a PostgreSQL table that several gateways append to;
//! - [`coalesce`] (pure): repeated refusals from one address counted, not recorded one by one;
//! - [`cli`]: `hjemmekontor-gateway audit verify|query`.
//!
//! The log is JSON Lines. Each record carries the hash of the one before, so an edited,
//! removed or moved line is found by `audit verify`. No event has a field that could hold
//! a password, a password hash or a PIN.

pub mod cli;
pub mod coalesce;
pub mod log;
pub mod postgres;
pub mod record;
pub mod verify;

pub use coalesce::{Admission, RefusalCoalescer};
pub use log::{AuditError, AuditLog, AuditStats, DatabaseFailure, FileChange, LOCK_WAIT};
pub use record::{
    AuditEvent, AuditRecord, EndReason, EventKind, PostureOutcome, RefusalReason, TargetRefusal,
    GENESIS,
};
pub use verify::{query, verify, Filter, Problem, VerifyError, VerifyReport};
