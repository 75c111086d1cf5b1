//! The gateway's session logic: relaying authorized streams to the office PCs.

pub mod relay;
