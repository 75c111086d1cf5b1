//! The connection's messages (`hjemmekontor connect` and the flow in `client/flow/`): its
//! progress, prompts and failures.

use super::Msg;

catalogue! {
    // The connection's progress (`connect`).
    READING_CARD = "connect.reading-card" {
        nb: "Leser kortet …",
        en: "Reading the card …" }
    CERTIFICATE_USABLE = "connect.certificate-usable" {
        nb: "Sertifikatet for {holder} kan brukes (nivå {level}).",
        en: "The certificate for {holder} can be used (level {level})." }
    NOTE = "connect.note" {
        nb: "Merk: {text}",
        en: "Note: {text}" }
    PIN_ON_PIN_PAD = "connect.pin-on-pin-pad" {
        nb: "Tast PIN-koden på kortleseren.",
        en: "Type the PIN on the card reader's keypad." }
    PIN_IN_MIDDLEWARE = "connect.pin-in-middleware" {
        nb: "Kortets mellomvare spør etter PIN-koden i et eget vindu.",
        en: "The card's middleware asks for the PIN in a window of its own." }
    PIN_ACCEPTED = "connect.pin-accepted" {
        nb: "PIN godkjent av kortet.",
        en: "PIN accepted by the card." }
    PKCS1_ONLY = "connect.pkcs1-only" {
        nb: "Merk: kortet kan bare signere med PKCS#1 v1.5, så tunnelen bruker TLS 1.2.",
        en: "Note: the card can only sign with PKCS#1 v1.5, so the tunnel uses TLS 1.2." }
    PIN_FORGOTTEN = "connect.pin-forgotten" {
        nb: "Kortet har glemt PIN-koden (det ble nullstilt). Skriv den inn på nytt.",
        en: "The card has forgotten the PIN (it was reset). Type it again." }
    CONNECTING = "connect.connecting" {
        nb: "Kobler til gatewayen {gateway} …",
        en: "Connecting to the gateway {gateway} …" }
    RETRYING = "connect.retrying" {
        nb: "{message} Prøver igjen om {secs} s.",
        en: "{message} Trying again in {secs} s." }
    LOGGED_IN = "connect.logged-in" {
        nb: "Innlogget som {name} ({tls}).",
        en: "Logged in as {name} ({tls})." }
    POSTURE_WARNINGS = "connect.posture-warnings" {
        nb: "Advarsel fra gatewayen om maskinen din (du slipper inn):",
        en: "The gateway warns about your computer (you are let in):" }
    TUNNEL_UP = "connect.tunnel-up" {
        nb: "Tunnelen til {target} er oppe.",
        en: "The tunnel to {target} is up." }
    POINT_RDP = "connect.point-rdp" {
        nb: "Koble fjernskrivebordet (RDP) til {listen}:",
        en: "Point your remote desktop (RDP) at {listen}:" }
    RDP_MAC = "connect.rdp-mac" {
        nb: "Microsoft Remote Desktop, PC-navn {listen}",
        en: "Microsoft Remote Desktop, PC name {listen}" }
    HOW_TO_STOP = "connect.how-to-stop" {
        nb: "Trykk Ctrl-C for å koble fra. Tar du ut kortet, lukkes tunnelen.",
        en: "Press Ctrl-C to disconnect. Taking out the card closes the tunnel." }
    STREAM_REFUSED = "connect.stream-refused" {
        nb: "Gatewayen avviste forbindelsen: {message}",
        en: "The gateway refused the connection: {message}" }
    STREAM_FAILED = "connect.stream-failed" {
        nb: "Forbindelsen feilet: {reason}",
        en: "The connection failed: {reason}" }
    RECONNECTING = "connect.reconnecting" {
        nb: "Forbindelsen til gatewayen ble brutt. Kobler til igjen mens kortet står i …",
        en: "The connection to the gateway was lost. Reconnecting while the card stays in …" }
    RDP_STARTED = "connect.rdp-started" {
        nb: "Startet {program}.",
        en: "Started {program}." }
    RDP_NOT_STARTED = "connect.rdp-not-started" {
        nb: "Kunne ikke starte fjernskrivebordet: {error}",
        en: "Could not start the remote desktop: {error}" }
    ASK_USERNAME = "connect.ask-username" {
        nb: "Brukernavn: ",
        en: "Username: " }
    ASK_PASSWORD = "connect.ask-password" {
        nb: "Passord for {username}: ",
        en: "Password for {username}: " }
    ASK_PIN = "connect.ask-pin" {
        nb: "PIN: ",
        en: "PIN: " }
    ASK_PIN_TRIES = "connect.ask-pin-tries" {
        nb: "PIN ({n} forsøk igjen): ",
        en: "PIN ({n} tries left): " }
    ASK_PIN_LAST = "connect.ask-pin-last" {
        nb: "PIN (siste forsøk før kortet sperres): ",
        en: "PIN (last try before the card is blocked): " }
    ASK_PIN_LOW = "connect.ask-pin-low" {
        nb: "PIN (feil PIN er tastet før; kortet sperres etter for mange): ",
        en: "PIN (a wrong PIN was typed before; too many block the card): " }
    SEVERAL_CERTIFICATES = "connect.several-certificates" {
        nb: "Kortet har flere sertifikater som kan brukes til innlogging:",
        en: "The card has several certificates that can log in:" }
    PICK_NUMBER = "connect.pick-number" {
        nb: "Velg nummer: ",
        en: "Pick a number: " }
    USERNAME_UNREADABLE = "connect.username-unreadable" {
        nb: "Kunne ikke lese brukernavnet: {error}.",
        en: "Could not read the username: {error}." }
    USERNAME_EMPTY = "connect.username-empty" {
        nb: "Brukernavnet kan ikke være tomt.",
        en: "The username cannot be empty." }
    USERNAME_MISSING = "connect.username-missing" {
        nb: "Brukernavnet er ikke oppgitt.",
        en: "No username was given." }
    USERNAME_MISSING_FIX = "connect.username-missing-fix" {
        nb: "Oppgi det med --username NAVN.",
        en: "Give it with --username NAME." }
    CHOICE_UNREADABLE = "connect.choice-unreadable" {
        nb: "Kunne ikke lese valget: {error}.",
        en: "Could not read the choice: {error}." }

    NO_GATEWAY = "connect.no-gateway" {
        nb: "Det er ikke oppgitt noen gateway.",
        en: "No gateway was given." }
    NO_GATEWAY_FIX = "connect.no-gateway-fix" {
        nb: "Oppgi den med --gateway VERT:PORT (du får adressen fra IT-ansvarlig). Den huskes etterpå.",
        en: "Give it with --gateway HOST:PORT (your IT administrator has the address). It is remembered afterwards." }
    NO_GATEWAY_CA = "connect.no-gateway-ca" {
        nb: "Det er ikke oppgitt hvilket CA-sertifikat gatewayen bruker.",
        en: "No CA certificate for the gateway was given." }
    NO_GATEWAY_CA_FIX = "connect.no-gateway-ca-fix" {
        nb: "Oppgi filen med --gateway-ca FIL (du får den fra IT-ansvarlig). Den huskes etterpå.",
        en: "Give the file with --gateway-ca FILE (your IT administrator has it). It is remembered afterwards." }

    // The connection's failures (`client/flow/words.rs`).
    PIN_STATE_LOST = "flow.pin-state-lost" {
        nb: "Kortet ble nullstilt og husker ikke lenger PIN-koden.",
        en: "The card was reset and no longer remembers the PIN." }
    PIN_STATE_LOST_FIX = "flow.pin-state-lost-fix" {
        nb: "Koble til på nytt; du blir bedt om PIN igjen.",
        en: "Connect again; you will be asked for the PIN again." }
    CARD_SIGN = "flow.card-sign" {
        nb: "Kortet kunne ikke signere ({error}).",
        en: "The card could not sign ({error})." }
    GATEWAY_UNAVAILABLE = "flow.gateway-unavailable" {
        nb: "Gatewayen kan ikke ta imot innlogginger nå.",
        en: "The gateway cannot take logins now." }
    GATEWAY_UNAVAILABLE_FIX = "flow.gateway-unavailable-fix" {
        nb: "Prøv igjen senere. Kortet og PIN-koden er ikke problemet; meld fra til IT-ansvarlig om det varer.",
        en: "Try again later. The card and the PIN are not the problem; tell your IT administrator if it lasts." }
    SERVER_BUSY = "flow.server-busy" {
        nb: "Tjenesten er opptatt, prøv igjen om litt.",
        en: "The service is busy; try again in a little while." }
    SERVER_BUSY_FIX = "flow.server-busy-fix" {
        nb: "Vent et minutt og koble til igjen. Kortet og PIN-koden er ikke problemet; meld fra til IT-ansvarlig om det varer.",
        en: "Wait a minute and connect again. The card and the PIN are not the problem; tell your IT administrator if it lasts." }
    SERVER_BUSY_WAIT = "flow.server-busy-wait" {
        nb: "Vent et minutt og koble til igjen.",
        en: "Wait a minute and connect again." }
    BAD_GATEWAY = "flow.bad-gateway" {
        nb: "«{address}» er ikke en gateway-adresse.",
        en: "“{address}” is not a gateway address." }
    BAD_GATEWAY_FIX = "flow.bad-gateway-fix" {
        nb: "Skriv den som VERT:PORT, for eksempel hjemmekontor.kommune.no:443.",
        en: "Write it as HOST:PORT, for example hjemmekontor.kommune.no:443." }
    GATEWAY_UNREACHABLE = "flow.gateway-unreachable" {
        nb: "Får ikke kontakt med gatewayen {address} ({detail}).",
        en: "Cannot reach the gateway {address} ({detail})." }
    GATEWAY_UNREACHABLE_FIX = "flow.gateway-unreachable-fix" {
        nb: "Sjekk nettverket. Kjør «hjemmekontor doctor», eller kontakt IT-ansvarlig om det varer.",
        en: "Check the network. Run `hjemmekontor doctor`, or contact your IT administrator if it lasts." }
    GATEWAY_DROPPED = "flow.gateway-dropped" {
        nb: "Gatewayen lukket forbindelsen før innloggingen var ferdig; den kan være opptatt eller starte på nytt.",
        en: "The gateway closed the connection before the login was done; it may be busy or restarting." }
    GATEWAY_DROPPED_FIX = "flow.gateway-dropped-fix" {
        nb: "Prøv igjen om litt. Kortet og PIN-koden er ikke problemet.",
        en: "Try again in a little while. The card and the PIN are not the problem." }
    TLS_FAILED = "flow.tls" {
        nb: "Den sikre forbindelsen til gatewayen kunne ikke opprettes ({detail}).",
        en: "The secure connection to the gateway could not be made ({detail})." }
    TLS_FAILED_FIX = "flow.tls-fix" {
        nb: "Gatewayen godtok ikke kortet, eller gatewayens sertifikat stemmer ikke. Kontakt IT-ansvarlig; oppgi tidspunktet.",
        en: "The gateway did not accept the card, or the gateway's certificate does not match. Contact your IT administrator; give the time." }
    PROTOCOL = "flow.protocol" {
        nb: "Gatewayen svarte ikke som ventet ({detail}).",
        en: "The gateway did not answer as expected ({detail})." }
    PROTOCOL_FIX = "flow.protocol-fix" {
        nb: "Oppdater hjemmekontor, eller kontakt IT-ansvarlig.",
        en: "Update hjemmekontor, or contact your IT administrator." }
    TIMEOUT = "flow.timeout" {
        nb: "Gatewayen svarte ikke i tide ({step}, {secs} s).",
        en: "The gateway did not answer in time ({step}, {secs} s)." }
    TIMEOUT_FIX = "flow.timeout-fix" {
        nb: "Sjekk nettverket og prøv igjen.",
        en: "Check the network and try again." }
    UNKNOWN_TARGET = "flow.unknown-target" {
        nb: "Du har ikke tilgang til en maskin med id «{id}».",
        en: "You have no access to a machine with id “{id}”." }
    TARGETS_YOU_CAN_REACH = "flow.targets" {
        nb: "Maskinene du kan nå: {targets}.",
        en: "The machines you can reach: {targets}." }
    NO_TARGETS = "flow.no-targets" {
        nb: "Du har ikke tilgang til noen maskin.",
        en: "You have access to no machine." }
    NO_TARGETS_FIX = "flow.no-targets-fix" {
        nb: "Kontakt IT-ansvarlig i kommunen.",
        en: "Contact your municipality's IT administrator." }
    CHOOSE_TARGET = "flow.choose-target" {
        nb: "Du har tilgang til flere maskiner.",
        en: "You have access to several machines." }
    CHOOSE_TARGET_FIX = "flow.choose-target-fix" {
        nb: "Velg én med --target ID: {targets}.",
        en: "Pick one with --target ID: {targets}." }
    CONNECTION_LOST = "flow.connection-lost" {
        nb: "Forbindelsen til gatewayen ble brutt.",
        en: "The connection to the gateway was lost." }
    LISTEN = "flow.listen" {
        nb: "Kan ikke lytte på {listen}: {error}.",
        en: "Cannot listen on {listen}: {error}." }
    LISTEN_FIX = "flow.listen-fix" {
        nb: "Et annet program bruker porten. Lukk det, eller velg en annen med --listen 127.0.0.1:PORT.",
        en: "Another program uses the port. Close it, or pick another with --listen 127.0.0.1:PORT." }
    RUNTIME = "flow.runtime" {
        nb: "Kunne ikke starte: {error}.",
        en: "Could not start: {error}." }
    CA_UNREADABLE = "flow.ca-unreadable" {
        nb: "Kunne ikke lese {path}: {error}.",
        en: "Could not read {path}: {error}." }
    CA_NOT_CERTIFICATE = "flow.ca-not-certificate" {
        nb: "{path} er ikke et sertifikat: {error}.",
        en: "{path} is not a certificate: {error}." }

    // The steps of a login that can take too long (`client/session.rs`), for `TIMEOUT`.
    STEP_CONNECTING = "flow.step-connecting" {
        nb: "oppkoblingen til gatewayen",
        en: "connecting to the gateway" }
    STEP_TLS = "flow.step-tls" {
        nb: "TLS-håndtrykket",
        en: "the TLS handshake" }
    STEP_LOGIN = "flow.step-login" {
        nb: "innloggingen",
        en: "the login" }
}
