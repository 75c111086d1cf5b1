//! The virtual card and its TEST PKI: development and test tools, never on users' machines.

pub mod pki;
