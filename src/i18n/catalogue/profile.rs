//! Connection profiles (`hjemmekontor profile`, the window's first-run screen): what was
//! imported, and why a profile could not be.

use super::Msg;

catalogue! {
    IMPORTED = "profile.imported" {
        nb: "Importerte «{name}»: gatewayen er {gateway}.",
        en: "Imported “{name}”: the gateway is {gateway}." }
    REPLACED = "profile.replaced" {
        nb: "Den erstatter gatewayen {old}.",
        en: "It replaces the gateway {old}." }
    FINGERPRINT = "profile.fingerprint" {
        nb: "Gatewayens CA-sertifikat har SHA-256-fingeravtrykket {fingerprint}; det skal være det samme som IT har gitt deg.",
        en: "The gateway's CA certificate has the SHA-256 fingerprint {fingerprint}; it should be the one IT gave you." }
    NEXT = "profile.next" {
        nb: "Sjekk oppsettet med «hjemmekontor doctor», eller koble til med «hjemmekontor connect».",
        en: "Check the setup with “hjemmekontor doctor”, or connect with “hjemmekontor connect”." }
    WROTE = "profile.wrote" {
        nb: "Skrev profilen «{name}» til {path}. Gi den til brukerne; de importerer den med «hjemmekontor profile import» eller i vinduet.",
        en: "Wrote the profile “{name}” to {path}. Give it to the users; they import it with “hjemmekontor profile import” or in the window." }
    SHOW_NAME = "profile.show-name" {
        nb: "Tjeneste: {name}",
        en: "Service: {name}" }
    SHOW_GATEWAY = "profile.show-gateway" {
        nb: "Gatewayens adresse: {gateway}",
        en: "Gateway address: {gateway}" }
    SHOW_ADDRESS = "profile.show-address" {
        nb: "Forventet adresse: {address}",
        en: "Expected address: {address}" }
    SHOW_PORTS = "profile.show-ports" {
        nb: "Porter som må være åpne: {ports}",
        en: "Ports that must be open: {ports}" }
    SHOW_CA = "profile.show-ca" {
        nb: "CA-fingeravtrykk (SHA-256): {fingerprint}",
        en: "CA fingerprint (SHA-256): {fingerprint}" }
    UNREADABLE = "profile.unreadable" {
        nb: "Kunne ikke lese profilen {path}: {error}.",
        en: "Could not read the profile {path}: {error}." }
    UNREADABLE_FIX = "profile.unreadable-fix" {
        nb: "Sjekk at filen finnes og at du har lest den ned helt, eller be IT om den på nytt.",
        en: "Check that the file is there and fully downloaded, or ask IT for it again." }
    ALTERED = "profile.altered" {
        nb: "Profilen {path} er endret eller skadet etter at IT laget den, så den blir ikke brukt.",
        en: "The profile {path} was changed or damaged after IT made it, so it is not used." }
    ALTERED_FIX = "profile.altered-fix" {
        nb: "Be IT sende profilen på nytt, og importer filen slik den kom, uten å åpne den i et annet program først.",
        en: "Ask IT to send the profile again, and import the file as it came, without opening it in another program first." }
    INVALID = "profile.invalid" {
        nb: "{path} er ikke en brukbar hjemmekontor-profil: {error}.",
        en: "{path} is not a usable hjemmekontor profile: {error}." }
    INVALID_FIX = "profile.invalid-fix" {
        nb: "Be IT om profilfilen for hjemmekontor (den slutter med en linje «# sha256: …»).",
        en: "Ask IT for the hjemmekontor profile file (its last line is “# sha256: …”)." }
    NEWER = "profile.newer" {
        nb: "Profilen {path} er laget for en nyere utgave av hjemmekontor (format {found}).",
        en: "The profile {path} was made for a newer version of hjemmekontor (format {found})." }
    NEWER_FIX = "profile.newer-fix" {
        nb: "Oppdater hjemmekontor, og importer profilen igjen.",
        en: "Update hjemmekontor, then import the profile again." }
    CREATE_INVALID = "profile.create-invalid" {
        nb: "Kan ikke lage profilen: {error}.",
        en: "Cannot make the profile: {error}." }
    CREATE_INVALID_FIX = "profile.create-invalid-fix" {
        nb: "Rett verdien og prøv igjen; --gateway er vert:port, og --gateway-ca er CA-sertifikatet i PEM som gatewayens sertifikat er utstedt av.",
        en: "Correct the value and try again; --gateway is host:port, and --gateway-ca is the PEM CA certificate the gateway's certificate is issued by." }
    CA_UNREADABLE = "profile.ca-unreadable" {
        nb: "Kunne ikke lese CA-sertifikatet {path}: {error}.",
        en: "Could not read the CA certificate {path}: {error}." }
    EXISTS = "profile.exists" {
        nb: "{path} finnes fra før.",
        en: "{path} already exists." }
    EXISTS_FIX = "profile.exists-fix" {
        nb: "Velg et annet filnavn, eller legg til --force for å skrive over den.",
        en: "Choose another file name, or add --force to overwrite it." }
    UNWRITABLE = "profile.unwritable" {
        nb: "Kunne ikke skrive {path}: {error}.",
        en: "Could not write {path}: {error}." }
    NO_SETTINGS_DIR = "profile.no-settings-dir" {
        nb: "Fant ingen mappe å lagre innstillingene i (brukeren har ingen hjemmemappe).",
        en: "Found no folder to keep the settings in (the user has no home folder)." }
    NO_SETTINGS_DIR_FIX = "profile.no-settings-dir-fix" {
        nb: "Logg inn som en vanlig bruker med hjemmemappe, og importer profilen igjen.",
        en: "Log in as an ordinary user with a home folder, and import the profile again." }
}
