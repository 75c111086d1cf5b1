//! The card: the smart-card service, readers, the card's answers, PINs, middleware and
//! certificate stores (`cli/card_words.rs`, `cli/credential_words.rs`, `cli/card_open.rs`),
//! `hjemmekontor card` (`cli/card.rs`) and the card watch (`client/card_watch.rs`).

use super::Msg;

catalogue! {
    // The smart-card service and the reader (`explain_transport`).
    NO_SERVICE = "card.no-service" {
        nb: "Smartkorttjenesten kjører ikke, så kortleseren kan ikke brukes.",
        en: "The smart card service is not running, so the card reader cannot be used." }
    NO_SERVICE_FIX_WINDOWS = "card.no-service-fix-windows" {
        nb: "Start tjenesten «Smart Card» (SCardSvr) i Tjenester, eller start maskinen på nytt.",
        en: "Start the “Smart Card” service (SCardSvr) in Services, or restart the computer." }
    NO_SERVICE_FIX = "card.no-service-fix" {
        nb: "Start tjenesten: «sudo systemctl start pcscd» (installer pakken pcscd om den mangler).",
        en: "Start the service: `sudo systemctl start pcscd` (install the pcscd package if it is missing)." }
    NO_READER = "card.no-reader" {
        nb: "Fant ingen kortleser.",
        en: "No card reader was found." }
    NO_READER_FIX = "card.no-reader-fix" {
        nb: "Koble kortleseren til maskinen og prøv igjen. Kjør «hjemmekontor readers» for å se hva maskinen finner.",
        en: "Connect the card reader to the computer and try again. Run `hjemmekontor readers` to see what the computer finds." }
    UNKNOWN_READER = "card.unknown-reader" {
        nb: "Fant ingen kortleser som heter «{name}».",
        en: "No card reader is called “{name}”." }
    UNKNOWN_READER_FIX = "card.unknown-reader-fix" {
        nb: "Kjør «hjemmekontor readers» og bruk et av navnene derfra.",
        en: "Run `hjemmekontor readers` and use one of the names it lists." }
    NO_CARD = "card.no-card" {
        nb: "Det er ikke noe kort i kortleseren «{reader}».",
        en: "There is no card in the card reader “{reader}”." }
    NO_CARD_IN_ANY = "card.no-card-in-any" {
        nb: "Det er ikke noe kort i noen av kortleserne ({readers}).",
        en: "There is no card in any of the card readers ({readers})." }
    INSERT_CARD = "card.insert-card" {
        nb: "Sett inn smartkortet (brikken inn og opp) og prøv igjen.",
        en: "Insert the smart card (chip first, facing up) and try again." }
    CARD_REMOVED = "card.removed" {
        nb: "Kortet ble tatt ut mens det var i bruk.",
        en: "The card was taken out while it was in use." }
    CARD_REMOVED_FIX = "card.removed-fix" {
        nb: "Sett inn kortet igjen og prøv på nytt.",
        en: "Put the card back in and try again." }
    CARD_RESET = "card.reset" {
        nb: "Kortet ble nullstilt av et annet program.",
        en: "Another program reset the card." }
    CARD_RESET_FIX = "card.reset-fix" {
        nb: "Prøv igjen. Skjer det ofte, lukk andre programmer som bruker kortet.",
        en: "Try again. If it happens often, close other programs that use the card." }
    CARD_BUSY = "card.busy" {
        nb: "Et annet program bruker kortet alene.",
        en: "Another program has the card to itself." }
    CARD_BUSY_FIX = "card.busy-fix" {
        nb: "Lukk andre programmer som bruker kortet (for eksempel signeringsprogrammer) og prøv igjen.",
        en: "Close other programs that use the card (signing programs, for example) and try again." }
    CARD_MUTE = "card.mute" {
        nb: "Kortet svarer ikke.",
        en: "The card does not answer." }
    CARD_MUTE_FIX = "card.mute-fix" {
        nb: "Ta kortet ut og sett det inn igjen med brikken inn og opp. Svarer det fortsatt ikke, kan kortet være skadet.",
        en: "Take the card out and insert it again, chip first and facing up. If it still does not answer, the card may be damaged." }
    REPLAY_MISMATCH = "card.replay-mismatch" {
        nb: "Opptaket av kortsamtalen stemmer ikke: {what}.",
        en: "The recording of the card conversation does not match: {what}." }
    SMARTCARD_ERROR = "card.smartcard-error" {
        nb: "Smartkorttjenesten meldte en feil: {what}.",
        en: "The smart card service reported an error: {what}." }
    SMARTCARD_ERROR_FIX_WINDOWS = "card.smartcard-error-fix-windows" {
        nb: "Prøv igjen. Hjelper ikke det, start tjenesten «Smart Card» (SCardSvr) eller maskinen på nytt.",
        en: "Try again. If that does not help, restart the “Smart Card” service (SCardSvr) or the computer." }
    SMARTCARD_ERROR_FIX = "card.smartcard-error-fix" {
        nb: "Prøv igjen. Hjelper ikke det, start tjenesten pcscd (eller maskinen) på nytt.",
        en: "Try again. If that does not help, restart the pcscd service (or the computer)." }

    // The card's answers (`explain_piv`).
    CARD_PROTOCOL = "card.protocol" {
        nb: "Kortet svarte på en måte vi ikke forstår ({error}).",
        en: "The card answered in a way we do not understand ({error})." }
    CARD_PROTOCOL_FIX = "card.protocol-fix" {
        nb: "Ta kortet ut og sett det inn igjen. Skjer det igjen, kontakt IT-støtte og legg ved utskriften fra «hjemmekontor -vv card».",
        en: "Take the card out and insert it again. If it happens again, contact IT support and attach the output of `hjemmekontor -vv card`." }
    PIN_REQUIRED = "card.pin-required" {
        nb: "Kortet krever PIN for dette.",
        en: "The card needs the PIN for this." }
    DATA_MALFORMED = "card.data-malformed" {
        nb: "Data på kortet er ødelagt eller ukjent ({object}: {problem}).",
        en: "Data on the card is damaged or unknown ({object}: {problem})." }
    DATA_MALFORMED_FIX = "card.data-malformed-fix" {
        nb: "Kontakt IT-støtte; kortet må kanskje byttes.",
        en: "Contact IT support; the card may have to be replaced." }
    COMMAND_REFUSED = "card.command-refused" {
        nb: "Kortet avviste en kommando ({error}).",
        en: "The card refused a command ({error})." }
    COMMAND_REFUSED_FIX = "card.command-refused-fix" {
        nb: "Ta kortet ut og sett det inn igjen. Skjer det igjen, kontakt IT-støtte.",
        en: "Take the card out and insert it again. If it happens again, contact IT support." }

    // PINs.
    WRONG_PIN_ONE_LEFT = "card.wrong-pin-one-left" {
        nb: "Feil PIN. Du har 1 forsøk igjen før kortet sperres.",
        en: "Wrong PIN. You have 1 try left before the card is blocked." }
    WRONG_PIN_TRIES_LEFT = "card.wrong-pin-tries-left" {
        nb: "Feil PIN. Du har {n} forsøk igjen før kortet sperres.",
        en: "Wrong PIN. You have {n} tries left before the card is blocked." }
    WRONG_PIN = "card.wrong-pin" {
        nb: "Feil PIN. Kortet sperres etter for mange feil forsøk på rad.",
        en: "Wrong PIN. The card is blocked after too many wrong tries in a row." }
    WRONG_PIN_FIX = "card.wrong-pin-fix" {
        nb: "Sjekk PIN-koden nøye før du prøver igjen. Vi prøver aldri PIN på nytt automatisk.",
        en: "Check the PIN carefully before you try again. We never try a PIN again by ourselves." }
    PIN_BLOCKED = "card.pin-blocked" {
        nb: "Kortet er sperret etter for mange feil PIN-forsøk.",
        en: "The card is blocked after too many wrong PIN tries." }
    PIN_BLOCKED_FIX = "card.pin-blocked-fix" {
        nb: "Lås opp kortet med PUK-koden fra kortutsteder (for Buypass: på buypass.no, «Lås opp kort»), eller bestill nytt kort.",
        en: "Unblock the card with the PUK code from the card issuer (for Buypass: on buypass.no, “Lås opp kort”), or order a new card." }
    PIN_FORGOTTEN = "card.pin-forgotten" {
        nb: "Kortet husker ikke lenger PIN-koden.",
        en: "The card no longer remembers the PIN." }

    // What the card is (`unknown_application`, `buypass_needs_middleware`).
    UNKNOWN_APPLICATION = "card.unknown-application" {
        nb: "Kortet har ingen applikasjon hjemmekontor kjenner (verken PIV eller et støttet Buypass-kort).",
        en: "The card has no application hjemmekontor knows (neither PIV nor a supported Buypass card)." }
    UNKNOWN_APPLICATION_FIX = "card.unknown-application-fix" {
        nb: "Sjekk at det er ditt personlige smartkort (nivå høyt) som står i leseren, og ikke for eksempel et bankkort.",
        en: "Check that the card in the reader is your personal smart card (level high), and not, say, a bank card." }
    NO_LOGIN_CERTIFICATE = "card.no-login-certificate" {
        nb: "Kortet har ikke noe sertifikat for innlogging (på PIV-kort: PIV Authentication, 9A).",
        en: "The card has no certificate to log in with (on PIV cards: PIV Authentication, 9A)." }
    NO_LOGIN_CERTIFICATE_FIX = "card.no-login-certificate-fix" {
        nb: "Kontakt kortutstederen eller IT-støtte; kortet er ikke klargjort for innlogging.",
        en: "Contact the card issuer or IT support; the card is not set up for logging in." }
    BUYPASS_MIDDLEWARE = "card.buypass-middleware" {
        nb: "Dette er et Buypass-kort. Det leses gjennom Buypass sin mellomvare ({middleware}, en utgave av Net iD, med PKCS#11-modulen {module}), ikke direkte av hjemmekontor.",
        en: "This is a Buypass card. It is read through Buypass's middleware ({middleware}, an edition of Net iD, with the PKCS#11 module {module}), not by hjemmekontor directly." }
    BUYPASS_MIDDLEWARE_FIX = "card.buypass-middleware-fix" {
        nb: "Installer {middleware} fra buypass.no og kjør kommandoen på nytt med «--backend pkcs11» (og eventuelt «--pkcs11-module STI» til {module} om den ikke finnes av seg selv).",
        en: "Install {middleware} from buypass.no and run the command again with `--backend pkcs11` (and `--pkcs11-module PATH` to {module} if it is not found by itself)." }
    BUYPASS_LIKE = "card.buypass-like" {
        nb: "Kortet ligner et Buypass-kort; det leses gjennom Buypass sin mellomvare (Buypass Access, PKCS#11).",
        en: "The card looks like a Buypass card; it is read through Buypass's middleware (Buypass Access, PKCS#11)." }
    BUYPASS_ONE_TRY = "card.buypass-one-try" {
        nb: "Kortet har 1 PIN-forsøk igjen før det sperres.",
        en: "The card has 1 PIN try left before it is blocked." }
    BUYPASS_TRIES = "card.buypass-tries" {
        nb: "Kortet har {n} PIN-forsøk igjen.",
        en: "The card has {n} PIN tries left." }
    BUYPASS_BLOCKED = "card.buypass-blocked" {
        nb: "PIN-koden er sperret; den må låses opp med PUK.",
        en: "The PIN is blocked; it must be unblocked with the PUK." }

    // Middleware and certificate stores (`credential_words`).
    PKCS11_ERROR = "card.pkcs11-error" {
        nb: "Kortets mellomvare (PKCS#11) meldte en feil i {function}: {detail}.",
        en: "The card's middleware (PKCS#11) reported an error in {function}: {detail}." }
    PKCS11_ERROR_FIX = "card.pkcs11-error-fix" {
        nb: "Ta kortet ut og sett det inn igjen. Skjer det igjen, send IT-støtte sporingen fra «--trace FIL».",
        en: "Take the card out and insert it again. If it happens again, send IT support the trace from `--trace FILE`." }
    STORE_ERROR = "card.store-error" {
        nb: "Windows sertifikatlager meldte en feil: {detail}.",
        en: "The Windows certificate store reported an error: {detail}." }
    STORE_ERROR_FIX = "card.store-error-fix" {
        nb: "Sjekk at kortleseren og Buypass Access er installert, eller prøv --backend pkcs11.",
        en: "Check that the card reader and Buypass Access are installed, or try --backend pkcs11." }
    KEY_UNSUPPORTED = "card.key-unsupported" {
        nb: "Nøkkelen på kortet kan ikke brukes til innlogging ({detail}).",
        en: "The key on the card cannot be used to log in ({detail})." }
    KEY_UNSUPPORTED_FIX = "card.key-unsupported-fix" {
        nb: "Kontakt IT-støtte med utskriften fra «hjemmekontor card».",
        en: "Contact IT support with the output of `hjemmekontor card`." }
    NO_PKCS11_MODULE = "card.no-pkcs11-module" {
        nb: "Fant ingen kortmellomvare (PKCS#11-modul). Lette etter: {tried}.",
        en: "No card middleware (PKCS#11 module) was found. Looked for: {tried}." }
    NO_KNOWN_PLACES = "card.no-known-places" {
        nb: "ingen kjente steder",
        en: "no known places" }
    NO_PKCS11_MODULE_FIX = "card.no-pkcs11-module-fix" {
        nb: "Installer {product} (for Buypass-kort) eller OpenSC, eller oppgi modulen med --pkcs11-module FIL.",
        en: "Install {product} (for Buypass cards) or OpenSC, or give the module with --pkcs11-module FILE." }
    PKCS11_UNUSABLE = "card.pkcs11-unusable" {
        nb: "Kortmellomvaren {module} kan ikke lastes ({detail}).",
        en: "The card middleware {module} cannot be loaded ({detail})." }
    PKCS11_UNUSABLE_FIX = "card.pkcs11-unusable-fix" {
        nb: "Sjekk at filen er en PKCS#11-modul for denne maskinen (64-bit), eller installer mellomvaren på nytt.",
        en: "Check that the file is a PKCS#11 module for this computer (64-bit), or install the middleware again." }
    NO_PKCS11_TOKEN = "card.no-pkcs11-token" {
        nb: "Kortmellomvaren {module} ser ikke noe kort.",
        en: "The card middleware {module} sees no card." }
    NO_PKCS11_TOKEN_FIX = "card.no-pkcs11-token-fix" {
        nb: "Sett inn smartkortet og prøv igjen. Kjør «hjemmekontor readers» for å se hva maskinen finner.",
        en: "Insert the smart card and try again. Run `hjemmekontor readers` to see what the computer finds." }
    BACKEND_WINDOWS_ONLY = "card.backend-windows-only" {
        nb: "Kortveien «{backend}» finnes bare på Windows.",
        en: "The card backend “{backend}” exists only on Windows." }
    BACKEND_WINDOWS_ONLY_FIX = "card.backend-windows-only-fix" {
        nb: "Bruk --backend auto, piv eller pkcs11.",
        en: "Use --backend auto, piv or pkcs11." }
    CHOOSE_CERTIFICATE = "card.choose-certificate" {
        nb: "Kortet har flere sertifikater som kan brukes til innlogging.",
        en: "The card has several certificates that can log in." }
    CHOOSE_CERTIFICATE_FIX = "card.choose-certificate-fix" {
        nb: "Velg ett med --cert SHA256: {listing}.",
        en: "Pick one with --cert SHA256: {listing}." }
    CERTIFICATE_NOT_FOUND = "card.certificate-not-found" {
        nb: "Kortet har ikke noe sertifikat med SHA-256 «{wanted}».",
        en: "The card has no certificate with SHA-256 “{wanted}”." }
    CERTIFICATES_ON_CARD = "card.certificates-on-card" {
        nb: "Sertifikatene på kortet: {listing}.",
        en: "The certificates on the card: {listing}." }
    STORE_UNOPENED = "card.store-unopened" {
        nb: "Windows sertifikatlager kan ikke åpnes ({detail}).",
        en: "The Windows certificate store cannot be opened ({detail})." }
    STORE_UNOPENED_FIX = "card.store-unopened-fix" {
        nb: "Start maskinen på nytt. Hjelper ikke det, prøv --backend pkcs11.",
        en: "Restart the computer. If that does not help, try --backend pkcs11." }
    NO_STORE_CERTIFICATE = "card.no-store-certificate" {
        nb: "Fant ingen sertifikater med kortnøkkel i Windows sertifikatlager.",
        en: "No certificate with a card key was found in the Windows certificate store." }
    NO_STORE_CERTIFICATE_FIX = "card.no-store-certificate-fix" {
        nb: "Sett inn kortet og vent til Buypass Access har lest det, eller prøv --backend pkcs11.",
        en: "Insert the card and wait until Buypass Access has read it, or try --backend pkcs11." }

    // `hjemmekontor card` (`cli/card.rs`).
    CERTIFICATE_REFUSED = "card.certificate-refused" {
        nb: "Kortet kan ikke brukes til innlogging. {reasons}",
        en: "The card cannot be used to log in. {reasons}" }
    SLOT_LOGIN = "card.slot-login" {
        nb: "innlogging",
        en: "login" }
    SLOT_SIGNATURE = "card.slot-signature" {
        nb: "signering",
        en: "signing" }
    SLOT_KEY_MANAGEMENT = "card.slot-key-management" {
        nb: "kryptering",
        en: "encryption" }
    SLOT_CARD_AUTHENTICATION = "card.slot-card-authentication" {
        nb: "kortautentisering",
        en: "card authentication" }
    SLOT_UNKNOWN = "card.slot-unknown" {
        nb: "ukjent",
        en: "unknown" }
    CERTIFICATE = "card.certificate" {
        nb: "sertifikat",
        en: "certificate" }
    CERTIFICATES = "card.certificates" {
        nb: "Sertifikater:",
        en: "Certificates:" }
    LOGS_IN = "card.logs-in" {
        nb: " — brukes til innlogging",
        en: " — used to log in" }
    UNREADABLE = "card.unreadable" {
        nb: "Kan ikke leses: {problem}",
        en: "Cannot be read: {problem}" }
    UNKNOWN_ERROR = "card.unknown-error" {
        nb: "ukjent feil",
        en: "unknown error" }
    LABEL_BACKEND = "card.label-backend" {
        nb: "Kortvei:",
        en: "Backend:" }
    LABEL_READER = "card.label-reader" {
        nb: "Kortleser:",
        en: "Card reader:" }
    LABEL_MODULE = "card.label-module" {
        nb: "PKCS#11-modul:",
        en: "PKCS#11 module:" }
    LABEL_APPLICATION = "card.label-application" {
        nb: "Applikasjon:",
        en: "Application:" }
    LABEL_CARD_ID = "card.label-card-id" {
        nb: "Kort-ID:",
        en: "Card ID:" }
    LABEL_PIN_CHECK = "card.label-pin-check" {
        nb: "PIN-sjekk:",
        en: "PIN check:" }
    LABEL_LOGIN = "card.label-login" {
        nb: "Innlogging:",
        en: "Login:" }
    PIN_RIGHT = "card.pin-right" {
        nb: "riktig PIN",
        en: "correct PIN" }
    PIN_WRONG = "card.pin-wrong" {
        nb: "feil PIN",
        en: "wrong PIN" }
    TLS12_PKCS1 = "card.tls12-pkcs1" {
        nb: "TLS 1.2 (nøkkelen kan bare signere med PKCS#1 v1.5, som TLS 1.3 ikke tillater)",
        en: "TLS 1.2 (the key can only sign with PKCS#1 v1.5, which TLS 1.3 does not allow)" }
    NO_TLS = "card.no-tls" {
        nb: "ingen: nøkkelen kan ikke signere noe TLS godtar",
        en: "none: the key cannot sign anything TLS accepts" }
    PIN_STATE_BLOCKED = "card.pin-state-blocked" {
        nb: "SPERRET",
        en: "BLOCKED" }
    PIN_STATE_VERIFIED = "card.pin-state-verified" {
        nb: "godkjent",
        en: "verified" }
    PIN_STATE_LAST_TRY = "card.pin-state-last-try" {
        nb: "1 forsøk igjen (siste)",
        en: "1 try left (the last)" }
    PIN_STATE_TRIES_LEFT = "card.pin-state-tries-left" {
        nb: "{n} forsøk igjen",
        en: "{n} tries left" }
    PIN_STATE_COUNT_LOW = "card.pin-state-count-low" {
        nb: "feil PIN er tastet siden sist; antall forsøk igjen er ukjent",
        en: "a wrong PIN was typed since the last right one; the tries left are unknown" }
    PIN_STATE_UNKNOWN = "card.pin-state-unknown" {
        nb: "antall forsøk igjen er ukjent",
        en: "the tries left are unknown" }
    PIN_ON_PAD = "card.pin-on-pad" {
        nb: "{state}; tast PIN-koden på kortleseren",
        en: "{state}; type the PIN on the card reader" }
    PIN_BY_MIDDLEWARE = "card.pin-by-middleware" {
        nb: "{state}; mellomvaren spør selv etter PIN",
        en: "{state}; the middleware asks for the PIN itself" }
    PIN_NOT_NEEDED = "card.pin-not-needed" {
        nb: "trengs ikke",
        en: "not needed" }

    // The card watch (`client/card_watch.rs`).
    WATCH_LOST = "card.watch-lost" {
        nb: "Kortleseren kan ikke lenger overvåkes ({detail}), så tunnelen er lukket for sikkerhets skyld.",
        en: "The card reader can no longer be watched ({detail}), so the tunnel was closed to be safe." }
    WATCH_LOST_FIX = "card.watch-lost-fix" {
        nb: "Sjekk at smartkorttjenesten kjører og at kortleseren står i, og koble til på nytt.",
        en: "Check that the smart card service is running and the card reader is plugged in, and connect again." }
    PULLED = "card.pulled" {
        nb: "Kortet ble tatt ut, så tunnelen er lukket.",
        en: "The card was taken out, so the tunnel is closed." }
    PULLED_FIX = "card.pulled-fix" {
        nb: "Sett inn kortet og koble til på nytt.",
        en: "Insert the card and connect again." }
}
