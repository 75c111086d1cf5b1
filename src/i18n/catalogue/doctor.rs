//! `hjemmekontor doctor`: the status words, the lines and the sum (`doctor/report.rs`), and
//! each check's finding and fix (`doctor/*.rs`, `cli/doctor.rs`). Check ids and JSON keys
//! stay English and are not here.

use super::Msg;

catalogue! {
    // Status words and the report (`doctor/mod.rs`, `doctor/report.rs`).
    STATUS_WARNING = "doctor.status-warning" {
        nb: "ADVARSEL",
        en: "WARNING" }
    STATUS_FAIL = "doctor.status-fail" {
        nb: "FEIL",
        en: "FAILED" }
    FIX_PREFIX = "doctor.fix-prefix" {
        nb: "Gjør dette: {fix}",
        en: "Do this: {fix}" }
    ALL_OK = "doctor.all-ok" {
        nb: "Alt er i orden.",
        en: "Everything is in order." }
    WARNINGS_ABOVE = "doctor.warnings-above" {
        nb: "Alt virker, men se på {n} advarsel(er) over.",
        en: "Everything works, but look at the {n} warning(s) above." }
    FAILURES_ABOVE = "doctor.failures-above" {
        nb: "{n} feil må rettes før innlogging kan virke (se «Gjør dette» over).",
        en: "{n} problem(s) must be fixed before logging in can work (see “Do this” above)." }

    // Name lookup (`doctor/network.rs`).
    DNS_FIX = "doctor.dns-fix" {
        nb: "Maskinen får svar fra en DNS-tjener utenfor Helsenett. Navn som finnes både i Helsenett og på internett må slås opp i Helsenetts DNS: sjekk at maskinen er koblet til Helsenett og bruker DNS-tjeneren derfra, og at ingen hosts-fil eller egen DNS-innstilling (i nettleseren, ruteren eller et VPN) overstyrer navnet. Kontakt IT-ansvarlig om det ikke hjelper.",
        en: "The computer gets its answers from a DNS server outside Helsenett. Names that exist both in Helsenett and on the internet must be looked up in Helsenett's DNS: check that the computer is connected to Helsenett and uses its DNS server, and that no hosts file or DNS setting of its own (in the browser, the router or a VPN) overrides the name. Contact your IT administrator if that does not help." }
    DNS_LITERAL_WRONG = "doctor.dns-literal-wrong" {
        nb: "Gatewayen er oppgitt med IP-adressen {ip}, men innstillingene sier at den skal nås på {expected}.",
        en: "The gateway is given as the IP address {ip}, but the settings say it is reached at {expected}." }
    DNS_LITERAL_WRONG_FIX = "doctor.dns-literal-wrong-fix" {
        nb: "Bruk adressen du fikk av IT-ansvarlig (--gateway), eller rett expect_address i innstillingene.",
        en: "Use the address your IT administrator gave you (--gateway), or correct expect_address in the settings." }
    DNS_LITERAL = "doctor.dns-literal" {
        nb: "Gatewayen er oppgitt med IP-adressen {ip}; ingen navneoppslag trengs.",
        en: "The gateway is given as the IP address {ip}; no name lookup is needed." }
    DNS_WRONG = "doctor.dns-wrong" {
        nb: "«{host}» slår opp til {found}, men skal slå opp til {expected}.",
        en: "“{host}” resolves to {found}, but should resolve to {expected}." }
    DNS_SPLIT = "doctor.dns-split" {
        nb: "«{host}» slår opp til både {found}; bare {expected} er riktig, så forbindelsen kan havne feil.",
        en: "“{host}” resolves to {found}; only {expected} is right, so the connection may end up in the wrong place." }
    DNS_AS_EXPECTED = "doctor.dns-as-expected" {
        nb: "«{host}» slår opp til {found}, som forventet.",
        en: "“{host}” resolves to {found}, as expected." }
    DNS_RESOLVED = "doctor.dns-resolved" {
        nb: "«{host}» slår opp til {found}.",
        en: "“{host}” resolves to {found}." }
    DNS_FAILED = "doctor.dns-failed" {
        nb: "Navnet «{host}» kunne ikke slås opp ({error}).",
        en: "The name “{host}” could not be looked up ({error})." }
    DNS_FAILED_FIX = "doctor.dns-failed-fix" {
        nb: "Sjekk at gateway-adressen er skrevet riktig og at maskinen er på nett. Hjelper ikke det, sjekk DNS-innstillingene eller kontakt IT-ansvarlig.",
        en: "Check that the gateway address is spelled right and that the computer is online. If that does not help, check the DNS settings or contact your IT administrator." }
    DNS_TIMED_OUT = "doctor.dns-timed-out" {
        nb: "Navneoppslaget for «{host}» fikk ikke svar innen {bound}.",
        en: "The name lookup for “{host}” got no answer within {bound}." }
    DNS_TIMED_OUT_FIX = "doctor.dns-timed-out-fix" {
        nb: "DNS-tjeneren svarer ikke. Sjekk nettverket og DNS-innstillingene (er maskinen koblet til Helsenett?), eller kontakt IT-ansvarlig.",
        en: "The DNS server does not answer. Check the network and the DNS settings (is the computer connected to Helsenett?), or contact your IT administrator." }
    NOT_CHECKED_AFTER_DNS = "doctor.not-checked-after-dns" {
        nb: " Porter, TLS og klokke er ikke sjekket.",
        en: " Ports, TLS and clock were not checked." }

    // Ports.
    PORT_OPEN = "doctor.port-open" {
        nb: "Port {port} på {place} svarer.",
        en: "Port {port} on {place} answers." }
    PORT_REFUSED = "doctor.port-refused" {
        nb: "Port {port} på {place} avviser forbindelsen.",
        en: "Port {port} on {place} refuses the connection." }
    PORT_REFUSED_FIX = "doctor.port-refused-fix" {
        nb: "Ingen tjeneste tar imot på porten, eller en brannmur avviser den. Sjekk adressen og porten; er de riktige, kontakt IT-ansvarlig.",
        en: "No service listens on the port, or a firewall refuses it. Check the address and the port; if they are right, contact your IT administrator." }
    PORT_TIMED_OUT = "doctor.port-timed-out" {
        nb: "Port {port} på {place} svarte ikke innen {bound}.",
        en: "Port {port} on {place} did not answer within {bound}." }
    PORT_TIMED_OUT_FIX = "doctor.port-timed-out-fix" {
        nb: "En brannmur stopper trolig forbindelsen (på maskinen, i ruteren eller hos nettleverandøren). Sjekk at porten er åpen ut fra maskinen, eller kontakt IT-ansvarlig.",
        en: "A firewall is probably stopping the connection (on the computer, in the router or at the network provider). Check that the port is open out from the computer, or contact your IT administrator." }
    PORT_FAILED = "doctor.port-failed" {
        nb: "Port {port} på {place} kan ikke nås ({error}).",
        en: "Port {port} on {place} cannot be reached ({error})." }
    PORT_FAILED_FIX = "doctor.port-failed-fix" {
        nb: "Sjekk at maskinen er på nett, og prøv igjen. Kontakt IT-ansvarlig om det varer.",
        en: "Check that the computer is online, and try again. Contact your IT administrator if it goes on." }

    // The clock.
    CLOCK_NOT_TOLD = "doctor.clock-not-told" {
        nb: "Gatewayen oppgir ikke klokken sin (eldre versjon), så klokken er ikke sammenlignet.",
        en: "The gateway does not tell its time (older version), so the clock was not compared." }
    CLOCK_AHEAD = "doctor.clock-ahead" {
        nb: "foran",
        en: "ahead of" }
    CLOCK_BEHIND = "doctor.clock-behind" {
        nb: "etter",
        en: "behind" }
    CLOCK_FIX = "doctor.clock-fix" {
        nb: "Still klokken automatisk: Windows: Innstillinger › Tid og språk › «Still klokken automatisk»; Linux: «timedatectl set-ntp true». Sjekk også tidssonen.",
        en: "Set the clock automatically: Windows: Settings › Time & language › “Set time automatically”; Linux: “timedatectl set-ntp true”. Check the time zone too." }
    CLOCK_IN_STEP = "doctor.clock-in-step" {
        nb: "Klokken går likt med gatewayens (avvik {n} s).",
        en: "The clock agrees with the gateway's (off by {n} s)." }
    CLOCK_OFF = "doctor.clock-off" {
        nb: "Klokken går {by} {way} gatewayens.",
        en: "The clock is {by} {way} the gateway's." }
    CLOCK_FAR_OFF = "doctor.clock-far-off" {
        nb: "Klokken går {by} {way} gatewayens. Sertifikater og sperrelister vurderes etter klokken, så innloggingen kan bli avvist.",
        en: "The clock is {by} {way} the gateway's. Certificates and revocation lists are judged by the clock, so the login may be refused." }
    HOURS = "doctor.hours" {
        nb: "{h} t {min} min",
        en: "{h} h {min} min" }
    DAYS = "doctor.days" {
        nb: "{d} døgn",
        en: "{d} days" }
    CLOCK_NO_POLICY = "doctor.clock-no-policy" {
        nb: "Gatewayen sendte ikke kravene sine ({error}), så klokken er ikke sammenlignet.",
        en: "The gateway did not send its requirements ({error}), so the clock was not compared." }
    TRY_AGAIN_LATER = "doctor.try-again-later" {
        nb: "Prøv igjen om litt; varer det, kontakt IT-ansvarlig.",
        en: "Try again in a while; if it goes on, contact your IT administrator." }

    // TLS (`doctor/tls.rs`).
    TLS_OK = "doctor.tls-ok" {
        nb: "Sikker forbindelse til «{name}» ({addr}); sertifikatet er godkjent.",
        en: "Secure connection to “{name}” ({addr}); the certificate is accepted." }
    TLS_EXPIRES_SOON = "doctor.tls-expires-soon" {
        nb: "Sikker forbindelse til «{name}», men gatewayens sertifikat utløper {until} (om {days} dager).",
        en: "Secure connection to “{name}”, but the gateway's certificate expires {until} (in {days} days)." }
    TLS_EXPIRES_SOON_FIX = "doctor.tls-expires-soon-fix" {
        nb: "Si fra til IT-ansvarlig: gatewayens sertifikat må fornyes før det går ut.",
        en: "Tell your IT administrator: the gateway's certificate must be renewed before it expires." }
    TLS_OK_UNTIL = "doctor.tls-ok-until" {
        nb: "Sikker forbindelse til «{name}» ({addr}); sertifikatet er godkjent og gjelder til {until}.",
        en: "Secure connection to “{name}” ({addr}); the certificate is accepted and valid until {until}." }
    TLS_CLOCK_TOO = "doctor.tls-clock-too" {
        nb: "Sjekk også at klokken på maskinen er riktig.",
        en: "Also check that the computer's clock is right." }
    TLS_OTHER_NAMES = "doctor.tls-other-names" {
        nb: "andre navn",
        en: "other names" }
    TLS_WRONG_NAME = "doctor.tls-wrong-name" {
        nb: "Gatewayen på {addr} viser et sertifikat for {names}, ikke for «{expected}», som du kobler til.",
        en: "The gateway at {addr} shows a certificate for {names}, not for “{expected}”, which you connect to." }
    TLS_WRONG_NAME_FIX = "doctor.tls-wrong-name-fix" {
        nb: "Bruk gateway-adressen med navnet i sertifikatet (--gateway), eller be IT-ansvarlig om et sertifikat for «{expected}». Gir DNS feil adresse, se DNS-linjen.",
        en: "Use the gateway address with the name in the certificate (--gateway), or ask your IT administrator for a certificate for “{expected}”. If DNS gives the wrong address, see the DNS line." }
    TLS_UNKNOWN_ISSUER = "doctor.tls-unknown-issuer" {
        nb: "Gatewayens sertifikat på {addr} er ikke utstedt av CA-sertifikatet du har oppgitt (--gateway-ca).",
        en: "The gateway's certificate at {addr} is not issued by the CA certificate you gave (--gateway-ca)." }
    TLS_UNKNOWN_ISSUER_FIX = "doctor.tls-unknown-issuer-fix" {
        nb: "Sjekk at --gateway-ca er CA-filen du fikk av IT-ansvarlig. Går nettet gjennom en proxy som bryter opp krypterte forbindelser, må gatewayen unntas.",
        en: "Check that --gateway-ca is the CA file your IT administrator gave you. If the network goes through a proxy that opens encrypted connections, the gateway must be exempted." }
    TLS_EXPIRED = "doctor.tls-expired" {
        nb: "Gatewayens sertifikat gikk ut{when}.",
        en: "The gateway's certificate expired{when}." }
    TLS_EXPIRED_FIX = "doctor.tls-expired-fix" {
        nb: "Si fra til IT-ansvarlig: sertifikatet må fornyes. {clock_too}",
        en: "Tell your IT administrator: the certificate must be renewed. {clock_too}" }
    TLS_NOT_YET = "doctor.tls-not-yet" {
        nb: "Gatewayens sertifikat gjelder ikke ennå, etter klokken på denne maskinen.",
        en: "The gateway's certificate is not valid yet, by this computer's clock." }
    TLS_NOT_YET_FIX = "doctor.tls-not-yet-fix" {
        nb: "{clock_too} Stemmer den, si fra til IT-ansvarlig.",
        en: "{clock_too} If it is right, tell your IT administrator." }
    TLS_REVOKED = "doctor.tls-revoked" {
        nb: "Gatewayens sertifikat er trukket tilbake.",
        en: "The gateway's certificate is revoked." }
    TLS_REVOKED_FIX = "doctor.tls-revoked-fix" {
        nb: "Si fra til IT-ansvarlig: gatewayen trenger et nytt sertifikat.",
        en: "Tell your IT administrator: the gateway needs a new certificate." }
    TLS_OLD_GATEWAY = "doctor.tls-old-gateway" {
        nb: "Gatewayen svarer, men er av en eldre versjon som ikke publiserer kravene sine, så sertifikatet, kravene og klokken er ikke sjekket.",
        en: "The gateway answers, but is an older version that does not publish its requirements, so the certificate, the requirements and the clock were not checked." }
    TLS_OLD_GATEWAY_FIX = "doctor.tls-old-gateway-fix" {
        nb: "Be IT-ansvarlig oppdatere gatewayen. Innlogging kan likevel virke.",
        en: "Ask your IT administrator to update the gateway. Logging in may work all the same." }
    TLS_TIMED_OUT = "doctor.tls-timed-out" {
        nb: "Gatewayen på {addr} svarte ikke innen {bound} ({step}).",
        en: "The gateway at {addr} did not answer within {bound} ({step})." }
    TLS_TIMED_OUT_FIX = "doctor.tls-timed-out-fix" {
        nb: "Noe mellom maskinen og gatewayen stopper forbindelsen (en brannmur eller proxy). Kontakt IT-ansvarlig.",
        en: "Something between the computer and the gateway stops the connection (a firewall or proxy). Contact your IT administrator." }
    TLS_NO_CONNECTION = "doctor.tls-no-connection" {
        nb: "Fikk ikke forbindelse med gatewayen på {addr} ({error}).",
        en: "Could not connect to the gateway at {addr} ({error})." }
    TLS_NO_CONNECTION_FIX = "doctor.tls-no-connection-fix" {
        nb: "Sjekk nettverket og adressen; se også port-linjene.",
        en: "Check the network and the address; see the port lines too." }
    TLS_FAILED = "doctor.tls-failed" {
        nb: "Den sikre forbindelsen til gatewayen på {addr} kunne ikke opprettes ({error}).",
        en: "The secure connection to the gateway at {addr} could not be made ({error})." }
    TLS_FAILED_FIX = "doctor.tls-failed-fix" {
        nb: "Sjekk at --gateway-ca er CA-filen du fikk av IT-ansvarlig, eller kontakt IT-ansvarlig.",
        en: "Check that --gateway-ca is the CA file your IT administrator gave you, or contact your IT administrator." }
    STEP_CONNECTING = "doctor.step-connecting" {
        nb: "oppkobling",
        en: "connecting" }
    STEP_HANDSHAKE = "doctor.step-handshake" {
        nb: "TLS-håndtrykk",
        en: "TLS handshake" }
    QUOTED = "doctor.quoted" {
        nb: "«{name}»",
        en: "“{name}”" }

    // The card (`doctor/card.rs`).
    SERVICE_RUNS = "doctor.service-runs" {
        nb: "Smartkorttjenesten kjører.",
        en: "The smart-card service is running." }
    READER_WITH_PIN_PAD = "doctor.reader-with-pin-pad" {
        nb: "«{name}» (med PIN-tastatur)",
        en: "“{name}” (with PIN pad)" }
    ONE_READER = "doctor.one-reader" {
        nb: "Kortleser: {reader}.",
        en: "Card reader: {reader}." }
    MANY_READERS = "doctor.many-readers" {
        nb: "{n} kortlesere: {readers}.",
        en: "{n} card readers: {readers}." }
    CARD_IN = "doctor.card-in" {
        nb: "Kort i «{reader}» (ATR {atr}).",
        en: "Card in “{reader}” (ATR {atr})." }
    NO_CARD_IN_ANY = "doctor.no-card-in-any" {
        nb: "Det er ikke noe kort i noen av kortleserne ({readers}).",
        en: "There is no card in any of the card readers ({readers})." }
    NO_CARD_IN_ANY_FIX = "doctor.no-card-in-any-fix" {
        nb: "Sett inn smartkortet (brikken inn og opp) og prøv igjen.",
        en: "Insert the smart card (chip first, facing up) and try again." }
    APP_PKCS11 = "doctor.app-pkcs11" {
        nb: "Token «{label}» ({manufacturer} {model}) gjennom PKCS#11-modulen {module}; modulen signerer.",
        en: "Token “{label}” ({manufacturer} {model}) through the PKCS#11 module {module}; the module signs." }
    APP_WINDOWS = "doctor.app-windows" {
        nb: "Kortet nås gjennom Windows sitt sertifikatlager; Windows signerer.",
        en: "The card is reached through the Windows certificate store; Windows signs." }
    APP_PIV = "doctor.app-piv" {
        nb: "{application}-kort{in_reader}; hjemmekontor signerer selv med kortet (PIV over PC/SC).",
        en: "{application} card{in_reader}; hjemmekontor signs with the card itself (PIV over PC/SC)." }
    IN_READER = "doctor.in-reader" {
        nb: " i «{reader}»",
        en: " in “{reader}”" }
    NO_NAME = "doctor.no-name" {
        nb: "(uten navn)",
        en: "(no name)" }
    CHAIN_TRUSTED = "doctor.chain-trusted" {
        nb: "kjeden er godkjent til «{anchor}»",
        en: "the chain is trusted up to “{anchor}”" }
    THE_ROOT = "doctor.the-root" {
        nb: "rotsertifikatet",
        en: "the root certificate" }
    CHAIN_UNCHECKED = "doctor.chain-unchecked" {
        nb: "kjeden er ikke kontrollert (oppgi --roots)",
        en: "the chain is not checked (give --roots)" }
    TEST_CERTIFICATE = "doctor.test-certificate" {
        nb: " (testsertifikat)",
        en: " (test certificate)" }
    CERTIFICATE_USABLE = "doctor.certificate-usable" {
        nb: "Sertifikatet for {who}{test}: {level}, kan brukes til innlogging, gyldig til {until} ({days} dager igjen); {chain}.",
        en: "The certificate for {who}{test}: {level}, can be used to log in, valid until {until} ({days} days left); {chain}." }
    PIN_ON_READER = "doctor.pin-on-reader" {
        nb: "; tastes på kortleseren",
        en: "; typed on the card reader" }
    PIN_BY_MIDDLEWARE = "doctor.pin-by-middleware" {
        nb: "; mellomvaren spør selv etter den",
        en: "; the middleware asks for it itself" }
    PIN_LAST_TRY = "doctor.pin-last-try" {
        nb: "PIN-koden har bare 1 forsøk igjen før kortet sperres{how}.",
        en: "The PIN has only 1 try left before the card locks{how}." }
    PIN_LAST_TRY_FIX = "doctor.pin-last-try-fix" {
        nb: "Vær helt sikker på PIN-koden neste gang. Usikker? Lås den opp eller bytt den med PUK-koden fra kortutstederen først.",
        en: "Be quite sure of the PIN next time. Unsure? Unblock or change it with the PUK from the card issuer first." }
    PIN_TRIES_LEFT = "doctor.pin-tries-left" {
        nb: "PIN-koden har {n} forsøk igjen{how}.",
        en: "The PIN has {n} tries left{how}." }
    PIN_TRIED_WRONG = "doctor.pin-tried-wrong" {
        nb: "Feil PIN-kode er tastet siden sist; kortet sier ikke hvor mange forsøk som er igjen{how}.",
        en: "A wrong PIN has been typed since last time; the card does not say how many tries are left{how}." }
    PIN_TRIED_WRONG_FIX = "doctor.pin-tried-wrong-fix" {
        nb: "Vær sikker på PIN-koden neste gang; kortet sperres etter for mange feil på rad.",
        en: "Be sure of the PIN next time; the card locks after too many wrong tries in a row." }
    PIN_VERIFIED = "doctor.pin-verified" {
        nb: "PIN-koden er godkjent i kortet nå{how}.",
        en: "The PIN is verified in the card now{how}." }
    PIN_UNKNOWN_TRIES = "doctor.pin-unknown-tries" {
        nb: "PIN-koden er ikke sperret så langt kortet sier; antall forsøk igjen er ukjent{how}.",
        en: "The PIN is not blocked as far as the card says; the number of tries left is unknown{how}." }

    // The signature test (`doctor/sign.rs`).
    SIGNED = "doctor.signed" {
        nb: "Kortet signerte en tilfeldig utfordring ({scheme}, {ms} ms), og signaturen stemmer med sertifikatet.",
        en: "The card signed a random challenge ({scheme}, {ms} ms), and the signature matches the certificate." }
    SIGNATURE_MISMATCH = "doctor.signature-mismatch" {
        nb: "Kortet signerte, men signaturen stemmer ikke med sertifikatet: nøkkelen på kortet hører ikke til sertifikatet.",
        en: "The card signed, but the signature does not match the certificate: the key on the card does not belong to the certificate." }
    SIGNATURE_MISMATCH_FIX = "doctor.signature-mismatch-fix" {
        nb: "Kortet kan ikke brukes til innlogging slik det er. Kontakt kortutstederen eller IT-støtte.",
        en: "The card cannot be used to log in as it is. Contact the card issuer or IT support." }
    SIGN_NOT_RUN = "doctor.sign-not-run" {
        nb: "Signaturtesten ble ikke gjort: {why}",
        en: "The signature test was not run: {why}" }
    SIGN_NOT_RUN_FIX = "doctor.sign-not-run-fix" {
        nb: "Rett feilen over, og kjør «hjemmekontor doctor --sign-test» igjen.",
        en: "Fix the problem above, and run “hjemmekontor doctor --sign-test” again." }

    // Posture (`doctor/posture.rs`); the fact names are in `posture`.
    NOT_SEEN = "doctor.not-seen" {
        nb: " Ikke sett: {facts}.",
        en: " Not seen: {facts}." }
    UNKNOWN_FACT = "doctor.unknown-fact" {
        nb: "ukjent",
        en: "unknown" }
    POSTURE_NO_GATEWAY = "doctor.posture-no-gateway" {
        nb: "Maskinen er sjekket, men ikke vurdert: ingen gateway er oppgitt.{not_seen}",
        en: "The computer is checked, but not judged: no gateway is given.{not_seen}" }
    POSTURE_NO_POLICY = "doctor.posture-no-policy" {
        nb: "Maskinen er sjekket, men ikke vurdert: gatewayens krav kunne ikke hentes.{not_seen}",
        en: "The computer is checked, but not judged: the gateway's requirements could not be fetched.{not_seen}" }
    POSTURE_NO_POLICY_FIX = "doctor.posture-no-policy-fix" {
        nb: "Se linjene om nettverket; når gatewayen svarer, kjør «hjemmekontor doctor» igjen.",
        en: "See the network lines; when the gateway answers, run “hjemmekontor doctor” again." }
    POSTURE_REFUSED = "doctor.posture-refused" {
        nb: "Gatewayen ville avvist maskinen (krav som ikke er oppfylt: {rules}).",
        en: "The gateway would refuse the computer (requirements not met: {rules})." }
    POSTURE_WARNED = "doctor.posture-warned" {
        nb: "Gatewayen slipper maskinen inn, med advarsler ({rules}).",
        en: "The gateway lets the computer in, with warnings ({rules})." }
    POSTURE_ADMITTED = "doctor.posture-admitted" {
        nb: "Gatewayen slipper maskinen inn: alle kravene er oppfylt.",
        en: "The gateway lets the computer in: every requirement is met." }

    // The command (`cli/doctor.rs`).
    REPORT_WRITTEN = "doctor.report-written" {
        nb: "Rapporten er skrevet til {path} (bare du kan lese den).",
        en: "The report is written to {path} (only you can read it)." }
    REPORT_UNWRITABLE = "doctor.report-unwritable" {
        nb: "Kunne ikke skrive rapporten til {path}: {error}.",
        en: "Could not write the report to {path}: {error}." }
    NO_GATEWAY_CA = "doctor.no-gateway-ca" {
        nb: "Det er ikke oppgitt hvilket CA-sertifikat gatewayen bruker, så TLS-forbindelsen er ikke sjekket.",
        en: "No CA certificate for the gateway is given, so the TLS connection was not checked." }
    GATEWAY_CA_UNUSABLE_FIX = "doctor.gateway-ca-unusable-fix" {
        nb: "Oppgi CA-filen du fikk av IT-ansvarlig med --gateway-ca FIL.",
        en: "Give the CA file your IT administrator gave you with --gateway-ca FILE." }
    PART_CARD = "doctor.part-card" {
        nb: "kortet",
        en: "the card" }
    PART_POSTURE = "doctor.part-posture" {
        nb: "maskinsjekken",
        en: "the computer check" }
    PART_NETWORK = "doctor.part-network" {
        nb: "nettverket",
        en: "the network" }
    CHECKING_CARD = "doctor.checking-card" {
        nb: "Sjekker smartkorttjenesten, kortleseren og kortet (ingen PIN-forsøk brukes) …",
        en: "Checking the smart-card service, the card reader and the card (no PIN tries are used) …" }
    CHECKING_NETWORK = "doctor.checking-network" {
        nb: "Sjekker nettverket mot {host}:{port} …",
        en: "Checking the network towards {host}:{port} …" }
    STILL_WAITING = "doctor.still-waiting" {
        nb: "… venter fortsatt på {parts}",
        en: "… still waiting for {parts}" }
    AND = "doctor.and" {
        nb: " og ",
        en: " and " }
    CARD_HUNG = "doctor.card-hung" {
        nb: "Kortleseren eller kortet svarte ikke innen {bound} s.",
        en: "The card reader or the card did not answer within {bound} s." }
    POSTURE_HUNG = "doctor.posture-hung" {
        nb: "Maskinsjekken ble ikke ferdig innen {bound} s.",
        en: "The computer check did not finish within {bound} s." }
    NETWORK_HUNG = "doctor.network-hung" {
        nb: "Nettverkssjekkene ble ikke ferdige innen {bound} s.",
        en: "The network checks did not finish within {bound} s." }
    HUNG_FIX = "doctor.hung-fix" {
        nb: "Prøv igjen. Skjer det igjen, send rapporten fra «hjemmekontor doctor --report FIL» til IT-støtte.",
        en: "Try again. If it happens again, send the report from “hjemmekontor doctor --report FILE” to IT support." }
    NO_GATEWAY = "doctor.no-gateway" {
        nb: "Ingen gateway er oppgitt eller husket, så nettverket er ikke sjekket (oppgi --gateway VERT:PORT).",
        en: "No gateway is given or remembered, so the network was not checked (give --gateway HOST:PORT)." }

    // The card phase and the signature test (`cli/doctor/card.rs`).
    KEY_CANNOT_SIGN_TLS = "doctor.key-cannot-sign-tls" {
        nb: "Nøkkelen til sertifikatet kan ikke signere noe TLS godtar, så kortet kan ikke logge inn.",
        en: "The certificate's key cannot sign anything TLS accepts, so the card cannot log in." }
    KEY_CANNOT_SIGN_TLS_FIX = "doctor.key-cannot-sign-tls-fix" {
        nb: "Kontakt IT-støtte med utskriften fra «hjemmekontor card».",
        en: "Contact IT support with the output of “hjemmekontor card”." }
    CARD_UNUSABLE = "doctor.card-unusable" {
        nb: "kortet eller sertifikatet kan ikke brukes (se linjene over).",
        en: "the card or the certificate cannot be used (see the lines above)." }
    SIGN_TEST_PIN = "doctor.sign-test-pin" {
        nb: "PIN-kode for signaturtesten (prøves én gang): ",
        en: "PIN for the signature test (tried once): " }
    CARD_SILENT = "doctor.card-silent" {
        nb: "Kortet svarte ikke innen {bound} s.",
        en: "The card did not answer within {bound} s." }
    CARD_SILENT_FIX = "doctor.card-silent-fix" {
        nb: "Ta kortet ut og sett det inn igjen, lukk andre programmer som bruker kortet, og prøv igjen.",
        en: "Take the card out and put it back in, close other programs that use the card, and try again." }
}
