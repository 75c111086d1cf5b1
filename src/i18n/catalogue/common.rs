//! Words every command shares: the failure frame, lengths of time, secrets read from a
//! person or a script, files and the settings file.

use super::Msg;

catalogue! {
    // Every failure (`cli/failure.rs`).
    ERROR = "failure.error" {
        nb: "Feil: {message}",
        en: "Error: {message}" }
    DO_THIS = "failure.do-this" {
        nb: "Gjør dette: {fix}",
        en: "Do this: {fix}" }
    JSON_UNWRITABLE = "common.json-unwritable" {
        nb: "Feil: kunne ikke skrive JSON: {error}",
        en: "Error: could not write JSON: {error}" }
    QUOTED = "common.quoted" {
        nb: "«{text}»",
        en: "“{text}”" }
    // `--hold`: a window opened by a menu entry or shortcut stays until the person has read it.
    HOLD = "common.hold" {
        nb: "Trykk Enter for å lukke vinduet.",
        en: "Press Enter to close this window." }
    NONE = "common.none" {
        nb: "ingen",
        en: "none" }
    NONE_IN_PARENS = "common.none-in-parens" {
        nb: "(ingen)",
        en: "(none)" }

    // Lengths of time (a limit, a wait).
    HOUR_ONE = "common.hour-one" {
        nb: "1 time",
        en: "1 hour" }
    HOURS = "common.hours" {
        nb: "{n} timer",
        en: "{n} hours" }
    MINUTE_ONE = "common.minute-one" {
        nb: "1 minutt",
        en: "1 minute" }
    MINUTES = "common.minutes" {
        nb: "{n} minutter",
        en: "{n} minutes" }
    SECOND_ONE = "common.second-one" {
        nb: "1 sekund",
        en: "1 second" }
    SECONDS = "common.seconds" {
        nb: "{n} sekunder",
        en: "{n} seconds" }

    // Secrets from a person or a script (`cli/prompt.rs`).
    THE_PIN = "secret.the-pin" {
        nb: "PIN-koden",
        en: "the PIN" }
    THE_PASSWORD = "secret.the-password" {
        nb: "passordet",
        en: "the password" }
    SECRET_UNREADABLE = "secret.unreadable" {
        nb: "Kunne ikke lese {what}: {error}.",
        en: "Could not read {what}: {error}." }
    NO_TERMINAL = "secret.no-terminal" {
        nb: "Kan ikke spørre om {what}: det er ingen terminal å skrive i.",
        en: "Cannot ask for {what}: there is no terminal to type it in." }
    NO_TERMINAL_FIX = "secret.no-terminal-fix" {
        nb: "Gi hemmeligheten på standard inn (--pin-stdin / --password-stdin) eller fra en fildeskriptor (--pin-fd N).",
        en: "Give the secret on standard input (--pin-stdin / --password-stdin) or from a file descriptor (--pin-fd N)." }
    STDIN_FIX = "secret.stdin-fix" {
        nb: "Gi hemmeligheten på standard inn (--pin-stdin / --password-stdin).",
        en: "Give the secret on standard input (--pin-stdin / --password-stdin)." }
    FD_NOT_HERE = "secret.fd-not-here" {
        nb: "Kan ikke lese {what} fra fildeskriptor {n}: det går bare på Linux og macOS.",
        en: "Cannot read {what} from file descriptor {n}: that works only on Linux and macOS." }
    PIN_NOT_DIGITS = "secret.pin-not-digits" {
        nb: "PIN-koden kan bare inneholde sifre.",
        en: "The PIN can hold only digits." }
    PIN_LENGTH = "secret.pin-length" {
        nb: "PIN-koden må ha {min} til {max} sifre, men har {len}.",
        en: "The PIN must have {min} to {max} digits, but has {len}." }
    PIN_NOT_SENT = "secret.pin-not-sent" {
        nb: "{problem} Den ble ikke sendt til kortet, så ingen forsøk er brukt.",
        en: "{problem} It was not sent to the card, so no try was used." }

    // Files and the settings file.
    FILE_UNREADABLE = "file.unreadable" {
        nb: "Kunne ikke lese {path}: {error}.",
        en: "Could not read {path}: {error}." }
    FILE_UNREADABLE_FIX = "file.unreadable-fix" {
        nb: "Kontroller filnavnet og at du har lov til å lese filen.",
        en: "Check the file name, and that you may read the file." }
    SETTINGS_UNUSABLE = "file.settings-unusable" {
        nb: "Innstillingsfilen kan ikke brukes: {error}.",
        en: "The settings file cannot be used: {error}." }
    SETTINGS_UNUSABLE_FIX = "file.settings-unusable-fix" {
        nb: "Rett eller slett filen; den lages på nytt ved neste vellykkede innlogging.",
        en: "Correct or delete the file; it is made again at the next successful login." }
    TRACE_UNWRITABLE = "file.trace-unwritable" {
        nb: "Kunne ikke skrive sporingen til {path}: {error}.",
        en: "Could not write the trace to {path}: {error}." }
    TRACE_FILE_UNMAKEABLE = "file.trace-file-unmakeable" {
        nb: "Kunne ikke lage sporingsfilen {path}: {error}.",
        en: "Could not make the trace file {path}: {error}." }
    WRITABLE_FOLDER_FIX = "file.writable-folder-fix" {
        nb: "Velg en fil i en mappe du har skrivetilgang til, for eksempel i hjemmemappen din.",
        en: "Choose a file in a folder you may write to, for example in your home folder." }
}
