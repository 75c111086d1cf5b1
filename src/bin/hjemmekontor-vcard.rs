//! hjemmekontor-vcard: the virtual card and the TEST PKI generator, for development and tests only.
fn main() {}
