//! Host posture: `hjemmekontor posture` (`cli/posture.rs`), the report in words
//! (`cli/posture_words.rs`) and the gateway's notices (`client/posture.rs`).

use super::Msg;

catalogue! {
    // `hjemmekontor posture`.
    CHECKING = "posture.checking" {
        nb: "Sjekker maskinen (brannmur, antivirus, oppdateringer, diskkryptering, skjermlås) …",
        en: "Checking the computer (firewall, antivirus, updates, disk encryption, screen lock) …" }
    ASK_THE_GATEWAY = "posture.ask-the-gateway" {
        nb: "Vil du vite hva gatewayen sier om maskinen? Kjør `hjemmekontor posture --gateway`.",
        en: "Want to know what the gateway says about this computer? Run `hjemmekontor posture --gateway`." }
    WOULD_REFUSE = "posture.would-refuse" {
        nb: "Gatewayen {gateway} ville AVVIST denne maskinen:",
        en: "The gateway {gateway} would REFUSE this computer:" }
    ADMITS_WITH_WARNINGS = "posture.admits-with-warnings" {
        nb: "Gatewayen {gateway} slipper denne maskinen inn, med advarsler:",
        en: "The gateway {gateway} lets this computer in, with warnings:" }
    ADMITS = "posture.admits" {
        nb: "Gatewayen {gateway} slipper denne maskinen inn: alle kravene er oppfylt.",
        en: "The gateway {gateway} lets this computer in: every requirement is met." }
    NO_GATEWAY_FIX = "posture.no-gateway-fix" {
        nb: "Oppgi den med --gateway VERT:PORT (du får adressen fra IT-ansvarlig).",
        en: "Give it with --gateway HOST:PORT (your IT administrator has the address)." }
    NO_GATEWAY_CA_FIX = "posture.no-gateway-ca-fix" {
        nb: "Oppgi filen med --gateway-ca FIL (du får den fra IT-ansvarlig).",
        en: "Give the file with --gateway-ca FILE (your IT administrator has it)." }
    ASKING = "posture.asking" {
        nb: "Spør gatewayen {gateway} om kravene (uten kort og PIN) …",
        en: "Asking the gateway {gateway} for its requirements (no card or PIN) …" }
    UNREACHABLE_FIX = "posture.unreachable-fix" {
        nb: "Sjekk nettverket og adressen, eller kontakt IT-ansvarlig.",
        en: "Check the network and the address, or contact your IT administrator." }
    TLS_FIX = "posture.tls-fix" {
        nb: "Sjekk at --gateway-ca er CA-sertifikatet du fikk av IT-ansvarlig. En eldre gateway publiserer ikke kravene sine.",
        en: "Check that --gateway-ca is the CA certificate your IT administrator gave you. An older gateway does not publish its requirements." }
    POLICY_NOT_SENT = "posture.policy-not-sent" {
        nb: "Gatewayen sendte ikke kravene sine ({detail}).",
        en: "The gateway did not send its requirements ({detail})." }
    POLICY_NOT_SENT_FIX = "posture.policy-not-sent-fix" {
        nb: "Prøv igjen, eller kontakt IT-ansvarlig.",
        en: "Try again, or contact your IT administrator." }

    // The report in words (`describe`).
    YOUR_COMPUTER = "posture.your-computer" {
        nb: "Maskinen din (sjekket {moment}):",
        en: "Your computer (checked {moment}):" }
    OPERATING_SYSTEM = "posture.operating-system" {
        nb: "Operativsystem",
        en: "Operating system" }
    FIREWALL = "posture.firewall" {
        nb: "Brannmur",
        en: "Firewall" }
    UPDATES = "posture.updates" {
        nb: "Oppdateringer",
        en: "Updates" }
    DISK_ENCRYPTION = "posture.disk-encryption" {
        nb: "Diskkryptering",
        en: "Disk encryption" }
    SCREEN_LOCK = "posture.screen-lock" {
        nb: "Skjermlås",
        en: "Screen lock" }
    BUILD = "posture.build" {
        nb: ", bygg {build}",
        en: ", build {build}" }
    NONE_FOUND = "posture.none-found" {
        nb: "ingen funnet",
        en: "none found" }
    ON = "posture.on" {
        nb: "på",
        en: "on" }
    OFF = "posture.off" {
        nb: "AV",
        en: "OFF" }
    DEFINITIONS_UNDATED = "posture.definitions-undated" {
        nb: "definisjoner av ukjent dato",
        en: "definitions of unknown date" }
    DEFINITIONS_FROM = "posture.definitions-from" {
        nb: "definisjoner fra {day}",
        en: "definitions from {day}" }
    REAL_TIME_ON = "posture.real-time-on" {
        nb: "sanntidsbeskyttelse på",
        en: "real-time protection on" }
    REAL_TIME_OFF = "posture.real-time-off" {
        nb: "sanntidsbeskyttelse AV",
        en: "real-time protection OFF" }
    NO_UPDATES_WAITING = "posture.no-updates-waiting" {
        nb: "ingen sikkerhetsoppdateringer venter",
        en: "no security updates waiting" }
    UPDATES_WAITING_SINCE = "posture.updates-waiting-since" {
        nb: "{n} sikkerhetsoppdateringer venter (sett siden {day})",
        en: "security updates waiting: {n} (seen since {day})" }
    UPDATES_WAITING = "posture.updates-waiting" {
        nb: "{n} sikkerhetsoppdateringer venter",
        en: "security updates waiting: {n}" }
    LAST_UPDATED = "posture.last-updated" {
        nb: "sist oppdatert {day}",
        en: "last updated {day}" }
    RESTART_WAITING = "posture.restart-waiting" {
        nb: "venter på omstart",
        en: "waiting for a restart" }
    DISK_ENCRYPTED = "posture.disk-encrypted" {
        nb: "systemdisken er kryptert",
        en: "the system disk is encrypted" }
    DISK_NOT_ENCRYPTED = "posture.disk-not-encrypted" {
        nb: "systemdisken er IKKE kryptert",
        en: "the system disk is NOT encrypted" }
    LOCKS_NEVER = "posture.locks-never" {
        nb: "låses ikke av seg selv",
        en: "does not lock by itself" }
    LOCKS_AFTER = "posture.locks-after" {
        nb: "låses etter {minutes} min uten bruk",
        en: "locks after {minutes} min without use" }
    LOCKS_UNTIMED = "posture.locks-untimed" {
        nb: "låses av seg selv (tid ukjent)",
        en: "locks by itself (time unknown)" }
    UNKNOWN_BECAUSE = "posture.unknown-because" {
        nb: "ukjent ({reason})",
        en: "unknown ({reason})" }

    // The gateway's notices (`notices_text`).
    WARNING_MARK = "posture.warning-mark" {
        nb: "Advarsel: ",
        en: "Warning: " }
}
