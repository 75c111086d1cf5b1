//! The gateway's codes, worded by the client (`client/gateway_words.rs`): why a login was
//! rejected, why a connection was refused, why a session ended. The gateway sends the code
//! and the facts that go with it; its own `message` is shown only for a code this client
//! does not know (`docs/protocol.md`).

use super::Msg;

catalogue! {
    // `rejected`: why a login was refused.
    BAD_CREDENTIALS = "gateway.bad-credentials" {
        nb: "Brukernavn eller passord er feil, eller kortet tilhører ikke denne brukeren.",
        en: "The username or the password is wrong, or the card does not belong to this user." }
    BAD_CREDENTIALS_FIX = "gateway.bad-credentials-fix" {
        nb: "Sjekk brukernavn og passord, og at det er ditt eget kort som står i leseren. Etter for mange feil blir innloggingen sperret en stund.",
        en: "Check the username and the password, and that the card in the reader is your own. After too many failures, logging in is blocked for a while." }
    LOCKED_OUT = "gateway.locked-out" {
        nb: "Innloggingen er midlertidig sperret etter for mange mislykkede forsøk.",
        en: "Logging in is blocked for a while after too many failed tries." }
    LOCKED_OUT_FIX = "gateway.locked-out-fix" {
        nb: "Vent {wait} og prøv igjen. Kontakt brukerstøtte hvis du ikke husker passordet.",
        en: "Wait {wait} and try again. Contact support if you do not remember the password." }
    LOCKED_OUT_FIX_UNTIMED = "gateway.locked-out-fix-untimed" {
        nb: "Vent litt og prøv igjen. Kontakt brukerstøtte hvis du ikke husker passordet.",
        en: "Wait a while and try again. Contact support if you do not remember the password." }
    POSTURE_REFUSED = "gateway.posture-refused" {
        nb: "Datamaskinen oppfyller ikke sikkerhetskravene til tjenesten ({rules}).",
        en: "The computer does not meet the service's security requirements ({rules})." }
    POSTURE_REFUSED_FIX = "gateway.posture-refused-fix" {
        nb: "Rett opp det som står under, og logg inn på nytt. `hjemmekontor posture --gateway` viser det samme uten å spørre om PIN.",
        en: "Fix what is listed below, and log in again. `hjemmekontor posture --gateway` shows the same without asking for the PIN." }
    NO_GRANTS = "gateway.no-grants" {
        nb: "Du er logget inn, men brukeren din har ikke tilgang til noen kontor-PC.",
        en: "You are logged in, but your user has access to no office PC." }
    NO_GRANTS_FIX = "gateway.no-grants-fix" {
        nb: "Be den som styrer tilgangene i kommunen om å gi deg tilgang til kontor-PC-en din.",
        en: "Ask whoever manages access in your municipality to give you access to your office PC." }
    PROTOCOL_VERSION = "gateway.protocol-version" {
        nb: "Denne versjonen av hjemmekontor er for gammel eller for ny for gatewayen.",
        en: "This version of hjemmekontor is too old or too new for the gateway." }
    LOGIN_NOT_UNDERSTOOD = "gateway.login-not-understood" {
        nb: "Gatewayen forstod ikke innloggingen.",
        en: "The gateway did not understand the login." }
    INSTALL_RECOMMENDED = "gateway.install-recommended" {
        nb: "Installer den versjonen IT-ansvarlig anbefaler.",
        en: "Install the version your IT administrator recommends." }
    SESSIONS_AT_LIMIT = "gateway.sessions-at-limit" {
        nb: "Du har allerede {n} økter åpne mot gatewayen.",
        en: "You already have {n} sessions open to the gateway." }
    SESSIONS_AT_LIMIT_FIX = "gateway.sessions-at-limit-fix" {
        nb: "Avslutt en av dem (eller vent et minutt om en forbindelse nettopp ble brutt), og koble til igjen.",
        en: "Close one of them (or wait a minute if a connection was just lost), and connect again." }

    // `refused`: why a connection to the office PC was refused.
    NOT_GRANTED = "gateway.not-granted" {
        nb: "Du har ikke tilgang til denne maskinen.",
        en: "You have no access to this machine." }
    TARGET_UNREACHABLE = "gateway.target-unreachable" {
        nb: "Kontor-PC-en svarer ikke. Sjekk at den er slått på og koblet til nettet, eller kontakt IT-ansvarlig.",
        en: "The office PC does not answer. Check that it is on and connected to the network, or contact your IT administrator." }
    TOO_MANY_STREAMS = "gateway.too-many-streams" {
        nb: "For mange samtidige forbindelser i denne økten. Lukk en og prøv igjen.",
        en: "Too many connections at once in this session. Close one and try again." }
    STREAM_NOT_UNDERSTOOD = "gateway.stream-not-understood" {
        nb: "Klienten sendte en ugyldig forespørsel, og økten er avsluttet. Oppdater hjemmekontor.",
        en: "The client sent an invalid request, and the session is ended. Update hjemmekontor." }

    // `ending`: why the gateway ended the session.
    ENDED_IDLE = "gateway.ended-idle" {
        nb: "Økten er avsluttet fordi den ikke ble brukt på {limit}; logg inn igjen.",
        en: "The session has ended because it was not used for {limit}; log in again." }
    ENDED_IDLE_UNTIMED = "gateway.ended-idle-untimed" {
        nb: "Økten er avsluttet fordi den ikke ble brukt på en stund; logg inn igjen.",
        en: "The session has ended because it was not used for a while; log in again." }
    ENDED_LIFETIME = "gateway.ended-lifetime" {
        nb: "Økten er avsluttet etter {limit}; logg inn igjen.",
        en: "The session has ended after {limit}; log in again." }
    ENDED_LIFETIME_UNTIMED = "gateway.ended-lifetime-untimed" {
        nb: "Økten er avsluttet fordi den har vart så lenge den kan; logg inn igjen.",
        en: "The session has ended because it lasted as long as it may; log in again." }
    ENDED_REVOKED = "gateway.ended-revoked" {
        nb: "Økten er avsluttet fordi sertifikatet på kortet er trukket tilbake. Kontakt IT-ansvarlig.",
        en: "The session has ended because the certificate on the card was revoked. Contact your IT administrator." }
    ENDED_SHUTDOWN = "gateway.ended-shutdown" {
        nb: "Gatewayen stopper eller starter på nytt. Koble til igjen om litt.",
        en: "The gateway is stopping or restarting. Connect again in a little while." }
    ENDED_POSTURE = "gateway.ended-posture" {
        nb: "Økten er avsluttet fordi maskinen ikke lenger oppfyller sikkerhetskravene til tjenesten. Rett opp det som står under, og logg inn igjen.",
        en: "The session has ended because the computer no longer meets the service's security requirements. Fix what is listed below, and log in again." }
    ENDED_POSTURE_OVERDUE = "gateway.ended-posture-overdue" {
        nb: "Økten er avsluttet fordi hjemmekontor ikke sendte en ny sjekk av maskinen i tide. Logg inn igjen; meld fra til IT-ansvarlig om det skjer igjen.",
        en: "The session has ended because hjemmekontor did not send a new check of the computer in time. Log in again; tell your IT administrator if it happens again." }
}
