//! `hjemmekontor-vcard`: the virtual test card.
fn main() {}
