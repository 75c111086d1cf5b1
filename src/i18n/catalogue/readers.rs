//! `hjemmekontor readers` (`cli/readers.rs`) and its watch (`cli/readers_watch.rs`).

use super::Msg;

catalogue! {
    // The list.
    CARD = "readers.card" {
        nb: "Kort",
        en: "Card" }
    NOTE = "readers.note" {
        nb: "Merk",
        en: "Note" }
    PIN_PAD = "readers.pin-pad" {
        nb: "PIN-tastatur",
        en: "PIN pad" }
    CARD_MUTE = "readers.card-mute" {
        nb: "kort satt inn, men det svarer ikke (snudd feil vei eller skadet?)",
        en: "card inserted, but it does not answer (upside down or damaged?)" }
    BUYPASS_CARD = "readers.buypass-card" {
        nb: "Buypass-kort (BEID); brukes gjennom Buypass sin mellomvare (Buypass Access)",
        en: "Buypass card (BEID); used through Buypass's middleware (Buypass Access)" }
    PIV_CARD = "readers.piv-card" {
        nb: "PIV-kort",
        en: "PIV card" }
    UNKNOWN_CARD = "readers.unknown-card" {
        nb: "kort satt inn (ukjent applikasjon)",
        en: "card inserted (unknown application)" }
    NO_CARD = "readers.no-card" {
        nb: "ingen kort",
        en: "no card" }
    EXCLUSIVE = "readers.exclusive" {
        nb: "et annet program bruker kortet alene akkurat nå",
        en: "another program is using the card on its own right now" }
    PAD_YES = "readers.pad-yes" {
        nb: "ja (PIN tastes på leseren)",
        en: "yes (the PIN is typed on the reader)" }
    PAD_NO = "readers.pad-no" {
        nb: "nei",
        en: "no" }
    PAD_UNKNOWN = "readers.pad-unknown" {
        nb: "ukjent",
        en: "unknown" }

    // The watch.
    WATCHING = "readers.watching" {
        nb: "Følger med på kortlesere og kort. Trykk Ctrl-C for å avslutte.",
        en: "Watching card readers and cards. Press Ctrl-C to stop." }
    READER_PRESENT = "readers.reader-present" {
        nb: "Kortleser: «{reader}»",
        en: "Card reader: “{reader}”" }
    CARD_PRESENT = "readers.card-present" {
        nb: "Kort i «{reader}»: {application}, ATR {atr}",
        en: "Card in “{reader}”: {application}, ATR {atr}" }
    READER_ATTACHED = "readers.reader-attached" {
        nb: "Kortleser koblet til: «{reader}»",
        en: "Card reader plugged in: “{reader}”" }
    READER_DETACHED = "readers.reader-detached" {
        nb: "Kortleser koblet fra: «{reader}»",
        en: "Card reader unplugged: “{reader}”" }
    CARD_INSERTED = "readers.card-inserted" {
        nb: "Kort satt inn i «{reader}»: {application}, ATR {atr}",
        en: "Card inserted in “{reader}”: {application}, ATR {atr}" }
    CARD_REMOVED = "readers.card-removed" {
        nb: "Kort tatt ut av «{reader}»",
        en: "Card taken out of “{reader}”" }
    SERVICE_LOST = "readers.service-lost" {
        nb: "Smartkorttjenesten svarer ikke; venter på at den kommer tilbake …",
        en: "The smart-card service does not answer; waiting for it to come back …" }
    SERVICE_BACK = "readers.service-back" {
        nb: "Smartkorttjenesten svarer igjen.",
        en: "The smart-card service answers again." }
    BUYPASS_SHORT = "readers.buypass-short" {
        nb: "Buypass-kort (BEID)",
        en: "Buypass card (BEID)" }
    UNKNOWN_APPLICATION = "readers.unknown-application" {
        nb: "ukjent applikasjon",
        en: "unknown application" }
}
