//! Helpers shared by the integration tests. Each test binary uses a part of them.
#![allow(dead_code)]

pub mod certs;
pub mod gateway;
pub mod haproxy;
pub mod inproc;
pub mod pki;
pub mod postgres;
pub mod slapd;
pub mod softhsm;
pub mod stack;
pub mod world;
