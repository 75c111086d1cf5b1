//! The gateway: TLS front, login, access policy, relay, and the audit log.
//!
//! - [`audit`]: the append-only, hash-chained record of every login attempt and session,
//!   durable before the client gets its answer; and `audit verify|query`.

pub mod audit;
