//! The hjemmekontor client: reach the office PC through a smartcard-authenticated tunnel.
fn main() {}
