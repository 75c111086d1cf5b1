//! The hjemmekontor client: reaches the office PC through the card-authenticated tunnel.
fn main() {}
