//! The window's words (`hjemmekontor-gui`, `src/gui/`): its labels, buttons and states.
//! Failures are the command line's own sentences, from the other areas.

use super::Msg;

catalogue! {
    // The title, when no profile names the service.
    TITLE = "gui.title" {
        nb: "Hjemmekontor",
        en: "Home office" }

    // The card.
    CARD = "gui.card" {
        nb: "Kort",
        en: "Card" }
    LOOKING = "gui.looking" {
        nb: "Ser etter kortleseren …",
        en: "Looking for the card reader …" }
    NO_READER = "gui.no-reader" {
        nb: "Ingen kortleser. Koble til kortleseren.",
        en: "No card reader. Connect the card reader." }
    INSERT_CARD = "gui.insert-card" {
        nb: "Sett inn kortet",
        en: "Insert your card" }
    READING = "gui.reading" {
        nb: "Leser kortet …",
        en: "Reading the card …" }
    CARD_READY = "gui.card-ready" {
        nb: "Kortet er klart",
        en: "Card ready" }
    CARD_UNUSABLE = "gui.card-unusable" {
        nb: "Kortet kan ikke brukes",
        en: "The card cannot be used" }
    CERT_VALID = "gui.cert-valid" {
        nb: "Sertifikat {level}, gyldig i {days} dager til (til {date})",
        en: "Certificate {level}, valid {days} more days (until {date})" }
    TEST_CERTIFICATE = "gui.test-certificate" {
        nb: "Dette er et TEST-sertifikat.",
        en: "This is a TEST certificate." }
    PIN_TRIES = "gui.pin-tries" {
        nb: "PIN-forsøk igjen: {n}",
        en: "PIN tries left: {n}" }
    PIN_LAST_TRY = "gui.pin-last-try" {
        nb: "Siste PIN-forsøk: én feil PIN til sperrer kortet.",
        en: "Last PIN try: one more wrong PIN blocks the card." }
    PIN_COUNT_LOW = "gui.pin-count-low" {
        nb: "En feil PIN er tastet siden sist. Tast forsiktig.",
        en: "A wrong PIN was typed since the last right one. Type carefully." }

    // The form.
    USERNAME = "gui.username" {
        nb: "Brukernavn",
        en: "Username" }
    PIN = "gui.pin" {
        nb: "PIN-kode",
        en: "PIN" }
    PASSWORD = "gui.password" {
        nb: "Passord",
        en: "Password" }
    CONNECT = "gui.connect" {
        nb: "Koble til",
        en: "Connect" }
    DISCONNECT = "gui.disconnect" {
        nb: "Koble fra",
        en: "Disconnect" }
    START_RDP = "gui.start-rdp" {
        nb: "Start fjernskrivebord",
        en: "Start remote desktop" }
    OK = "gui.ok" {
        nb: "OK",
        en: "OK" }
    CANCEL = "gui.cancel" {
        nb: "Avbryt",
        en: "Cancel" }
    CANCELLED = "gui.cancelled" {
        nb: "Avbrutt.",
        en: "Cancelled." }
    CHOOSE_CERTIFICATE = "gui.choose-certificate" {
        nb: "Kortet har flere innloggingssertifikater. Velg ett:",
        en: "The card has several login certificates. Choose one:" }

    // Progress.
    STEP_CARD = "gui.step-card" {
        nb: "Leser kortet og sjekker sertifikatet",
        en: "Reading the card and checking the certificate" }
    STEP_PIN = "gui.step-pin" {
        nb: "Kortet sjekker PIN-koden",
        en: "The card checks the PIN" }
    STEP_GATEWAY = "gui.step-gateway" {
        nb: "Kobler til og logger inn",
        en: "Connecting and logging in" }
    STEP_TUNNEL = "gui.step-tunnel" {
        nb: "Åpner tunnelen",
        en: "Opening the tunnel" }
    CONNECTED = "gui.connected" {
        nb: "Tilkoblet: {target}",
        en: "Connected: {target}" }
    CONNECTED_ADDRESS = "gui.connected-address" {
        nb: "Fjernskrivebordet kobles til {address}.",
        en: "The remote desktop connects to {address}." }
    RECONNECTING = "gui.reconnecting" {
        nb: "Forbindelsen ble brutt. Kobler til igjen så lenge kortet står i …",
        en: "The connection was lost. Reconnecting while the card stays in …" }
    CLOSING = "gui.closing" {
        nb: "Kobler fra …",
        en: "Disconnecting …" }
    RDP_RUNNING = "gui.rdp-running" {
        nb: "Fjernskrivebordet kjører ({program}).",
        en: "The remote desktop is running ({program})." }

    // Posture.
    POSTURE = "gui.posture" {
        nb: "Maskinen din",
        en: "Your computer" }
    CHECK_AGAIN = "gui.check-again" {
        nb: "Sjekk maskinen på nytt",
        en: "Check the computer again" }

    // The profile.
    NO_PROFILE = "gui.no-profile" {
        nb: "Ingen tilkoblingsprofil ennå. Importer filen du fikk fra IT.",
        en: "No connection profile yet. Import the file IT gave you." }
    PROFILE_FILE = "gui.profile-file" {
        nb: "Profilfil",
        en: "Profile file" }
    IMPORT = "gui.import" {
        nb: "Importer",
        en: "Import" }
    DROP_PROFILE = "gui.drop-profile" {
        nb: "Skriv inn stien til filen, eller slipp filen i vinduet.",
        en: "Type the file's path, or drop the file on the window." }

    // Support.
    SEND_TO_IT = "gui.send-to-it" {
        nb: "Send til IT",
        en: "Send to IT" }
    REPORT_WRITING = "gui.report-writing" {
        nb: "Sjekker maskinen og skriver rapporten …",
        en: "Checking the computer and writing the report …" }
    REPORT_WRITTEN = "gui.report-written" {
        nb: "Rapporten er lagret i {path}. Send filen til IT; den inneholder ingen PIN eller passord.",
        en: "The report is saved in {path}. Send the file to IT; it holds no PIN or password." }
}
