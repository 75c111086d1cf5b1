//! The gateway: configuration, access policy and login decisions (pure cores), and the
//! command shells of `hjemmekontor-gateway`.
//!
//! - [`config`]: the TOML file, checked, with every error's line and column;
//! - [`access`]: which office PCs a user may reach (grants, groups);
//! - [`auth`]: argon2id password hashes, lockout, and the login decision in its fixed order;
//! - [`config_cli`]: `check-config` and `hash-password`.

pub mod access;
pub mod auth;
pub mod config;
pub mod config_cli;
