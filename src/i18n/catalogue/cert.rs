//! Certificates: levels, why one cannot log in, what to know about one, files that cannot be
//! read (`cli/cert_words.rs`), and `hjemmekontor cert inspect` (`cli/cert_inspect.rs`).

use super::Msg;

catalogue! {
    // Levels (`level_words`).
    LEVEL_PERSON_HIGH = "cert.level-person-high" {
        nb: "Person-High (nivå høyt), nøkkel på smartkort",
        en: "Person-High (level high), key on a smart card" }
    LEVEL_PERSON_HIGH_HSM = "cert.level-person-high-hsm" {
        nb: "Person-High, nøkkel hos utstederen (HSM), ikke på smartkort",
        en: "Person-High, key held by the issuer (HSM), not on a smart card" }
    LEVEL_ENTERPRISE = "cert.level-enterprise" {
        nb: "virksomhetssertifikat",
        en: "enterprise certificate" }
    LEVEL_TEST = "cert.level-test" {
        nb: "testsertifikat",
        en: "test certificate" }
    LEVEL_UNKNOWN = "cert.level-unknown" {
        nb: "ukjent nivå",
        en: "unknown level" }

    // Why a certificate cannot log in (`reason`).
    ORDER_NEW_FROM = "cert.order-new-from" {
        nb: "Bestill nytt kort fra {provider}.",
        en: "Order a new card from {provider}." }
    ORDER_NEW = "cert.order-new" {
        nb: "Bestill nytt kort fra utstederen av kortet ditt.",
        en: "Order a new card from the issuer of your card." }
    USE_HIGH_CARD = "cert.use-high-card" {
        nb: "Bruk et smartkort med personlig sertifikat på nivå høyt (Person-High), for eksempel Buypass ID på smartkort.",
        en: "Use a smart card with a personal certificate at level high (Person-High), for example Buypass ID on a smart card." }
    USE_AUTHENTICATION_CERTIFICATE = "cert.use-authentication-certificate" {
        nb: "Bruk autentiseringssertifikatet på kortet ditt.",
        en: "Use the authentication certificate on your card." }
    NOT_PERSONAL = "cert.not-personal" {
        nb: "Dette er et CA-sertifikat (et utstedersertifikat), ikke et personlig sertifikat.",
        en: "This is a CA certificate (an issuer's certificate), not a personal certificate." }
    NOT_YET_VALID = "cert.not-yet-valid" {
        nb: "Sertifikatet ditt er ikke gyldig før {date}.",
        en: "Your certificate is not valid until {date}." }
    NOT_YET_VALID_FIX = "cert.not-yet-valid-fix" {
        nb: "Vent til da, eller kontroller at klokken på maskinen går riktig.",
        en: "Wait until then, or check that the computer's clock is right." }
    EXPIRED = "cert.expired" {
        nb: "Sertifikatet ditt utløp {date}.",
        en: "Your certificate expired on {date}." }
    NO_DIGITAL_SIGNATURE = "cert.no-digital-signature" {
        nb: "Sertifikatet kan ikke brukes til innlogging (mangler digitalSignature; nøkkelbruken er {usage}).",
        en: "The certificate cannot be used to log in (it lacks digitalSignature; its key usage is {usage})." }
    NO_DIGITAL_SIGNATURE_FIX = "cert.no-digital-signature-fix" {
        nb: "Dette er trolig signeringssertifikatet på kortet; bruk autentiseringssertifikatet.",
        en: "This is probably the card's signing certificate; use the authentication certificate." }
    NO_CLIENT_AUTH = "cert.no-client-auth" {
        nb: "Sertifikatet kan ikke brukes til innlogging (utvidet nøkkelbruk {usage} mangler clientAuth).",
        en: "The certificate cannot be used to log in (its extended key usage {usage} lacks clientAuth)." }
    EMPTY = "cert.empty" {
        nb: "tom",
        en: "empty" }
    MISSING_PERSONAL_ID = "cert.missing-personal-id" {
        nb: "Sertifikatet har ingen norsk personidentifikator (serialNumber UN:NO-9578-…), så det kan ikke knyttes til deg.",
        en: "The certificate has no Norwegian personal identifier (serialNumber UN:NO-9578-…), so it cannot be tied to you." }
    UNKNOWN_ISSUER = "cert.unknown-issuer" {
        nb: "Sertifikatet er ikke utstedt av en utsteder som er godkjent her.",
        en: "The certificate is not issued by an issuer approved here." }
    UNKNOWN_ISSUER_FIX = "cert.unknown-issuer-fix" {
        nb: "Kontroller at du bruker riktig kort. Administrator: kontroller tillitsankrene (rotsertifikatene).",
        en: "Check that you use the right card. Administrator: check the trust anchors (the root certificates)." }
    REVOKED = "cert.revoked" {
        nb: "Sertifikatet er sperret (tilbakekalt) av utstederen.",
        en: "The certificate is revoked by its issuer." }
    REVOCATION_UNKNOWN = "cert.revocation-unknown" {
        nb: "Ingen av sperrelistene dekker dette sertifikatet, så det er ukjent om det er sperret.",
        en: "None of the revocation lists covers this certificate, so it is unknown whether it is revoked." }
    REVOCATION_UNKNOWN_FIX = "cert.revocation-unknown-fix" {
        nb: "Administrator: hent sperrelisten (CRL) fra utstederen av sertifikatet.",
        en: "Administrator: get the revocation list (CRL) from the certificate's issuer." }
    CRL_EXPIRED = "cert.crl-expired" {
        nb: "Sperrelisten (CRL) er utdatert: den gjaldt til {date}.",
        en: "The revocation list (CRL) is out of date: it was valid until {date}." }
    CRL_EXPIRED_FIX = "cert.crl-expired-fix" {
        nb: "Administrator: hent en ny sperreliste fra utstederen.",
        en: "Administrator: get a new revocation list from the issuer." }
    CRL_INVALID = "cert.crl-invalid" {
        nb: "Sperrelisten (CRL) er ikke gyldig signert av utstederen ({detail}).",
        en: "The revocation list (CRL) is not validly signed by the issuer ({detail})." }
    CRL_INVALID_FIX = "cert.crl-invalid-fix" {
        nb: "Administrator: hent sperrelisten på nytt fra utstederen.",
        en: "Administrator: get the revocation list again from the issuer." }
    ISSUER_NOT_VALID = "cert.issuer-not-valid" {
        nb: "Et utstedersertifikat i kjeden er ikke gyldig nå ({detail}).",
        en: "An issuer certificate in the chain is not valid now ({detail})." }
    ISSUER_NOT_VALID_FIX = "cert.issuer-not-valid-fix" {
        nb: "Administrator: oppdater utstedersertifikatene.",
        en: "Administrator: update the issuer certificates." }
    CHAIN_INVALID = "cert.chain-invalid" {
        nb: "Sertifikatkjeden kunne ikke godkjennes ({detail}).",
        en: "The certificate chain could not be validated ({detail})." }
    CHAIN_INVALID_FIX = "cert.chain-invalid-fix" {
        nb: "Administrator: kontroller rotsertifikatene og de mellomliggende sertifikatene.",
        en: "Administrator: check the root certificates and the intermediate certificates." }
    LEVEL_TOO_LOW = "cert.level-too-low" {
        nb: "Sertifikatet har nivå {found} ({words}), men {required} kreves.",
        en: "The certificate has level {found} ({words}), but {required} is required." }
    TEST_REFUSED = "cert.test-refused" {
        nb: "Dette er et testsertifikat; det godtas bare i et testmiljø.",
        en: "This is a test certificate; it is accepted only in a test environment." }
    TEST_REFUSED_FIX = "cert.test-refused-fix" {
        nb: "Bruk ditt vanlige kort med sertifikat på nivå høyt (Person-High).",
        en: "Use your usual card, with a certificate at level high (Person-High)." }
    HSM_NOT_HIGH = "cert.hsm-not-high" {
        nb: "Sertifikatet er ikke på nivå høyt (Person-High) med nøkkel på smartkort: nøkkelen ligger hos utstederen, ikke på et kort du har.",
        en: "The certificate is not at level high (Person-High) with the key on a smart card: the key is held by the issuer, not on a card you have." }
    ENTERPRISE_NOT_HIGH = "cert.enterprise-not-high" {
        nb: "Sertifikatet er ikke på nivå høyt (Person-High): det er et virksomhetssertifikat, ikke et personlig sertifikat.",
        en: "The certificate is not at level high (Person-High): it is an enterprise certificate, not a personal one." }
    POLICY_NOT_HIGH = "cert.policy-not-high" {
        nb: "Sertifikatet er ikke på nivå høyt (Person-High): sertifikatpolicyen er ikke kjent som Person-High.",
        en: "The certificate is not at level high (Person-High): its certificate policy is not known as Person-High." }

    // What to know about a certificate (`warning`).
    WITHIN_A_DAY = "cert.within-a-day" {
        nb: "i løpet av et døgn",
        en: "within a day" }
    IN_ONE_DAY = "cert.in-one-day" {
        nb: "om 1 dag",
        en: "in 1 day" }
    IN_DAYS = "cert.in-days" {
        nb: "om {n} dager",
        en: "in {n} days" }
    EXPIRES_SOON = "cert.expires-soon" {
        nb: "Sertifikatet ditt utløper {date} ({when}).",
        en: "Your certificate expires on {date} ({when})." }
    IN_GOOD_TIME = "cert.in-good-time" {
        nb: "{order} Gjør det i god tid.",
        en: "{order} Do it in good time." }
    TEST_ACCEPTED = "cert.test-accepted" {
        nb: "Dette er et testsertifikat; det godtas fordi dette er et testmiljø.",
        en: "This is a test certificate; it is accepted because this is a test environment." }
    LEVEL_UNCONFIRMED = "cert.level-unconfirmed" {
        nb: "Det er ikke bekreftet at sertifikater med policy {policy} har nøkkelen på smartkort.",
        en: "It is not confirmed that certificates with policy {policy} have their key on a smart card." }
    LEVEL_UNCONFIRMED_FIX = "cert.level-unconfirmed-fix" {
        nb: "Administrator: bekreft eller rett nivået for denne policyen i konfigurasjonen.",
        en: "Administrator: confirm or correct the level of this policy in the configuration." }
    REVOCATION_NOT_CHECKED = "cert.revocation-not-checked" {
        nb: "Sperrestatus er ikke kontrollert: ingen sperreliste (CRL) er oppgitt.",
        en: "Revocation is not checked: no revocation list (CRL) was given." }
    REVOCATION_NOT_CHECKED_FIX = "cert.revocation-not-checked-fix" {
        nb: "Oppgi sperrelisten med --crl.",
        en: "Give the revocation list with --crl." }
    UNREADABLE_EXTENSIONS = "cert.unreadable-extensions" {
        nb: "Noen utvidelser i sertifikatet kunne ikke leses: {extensions}.",
        en: "Some extensions in the certificate could not be read: {extensions}." }

    // Files that hold no usable certificate (`cert_error`).
    NO_CERTIFICATE = "cert.no-certificate" {
        nb: "Fant ikke noe sertifikat i {what}.",
        en: "No certificate was found in {what}." }
    NO_CERTIFICATE_FIX = "cert.no-certificate-fix" {
        nb: "Oppgi en fil med et sertifikat i PEM- eller DER-format.",
        en: "Give a file with a certificate in PEM or DER format." }
    BAD_PEM = "cert.bad-pem" {
        nb: "PEM-innholdet i {what} kunne ikke leses ({detail}).",
        en: "The PEM content of {what} could not be read ({detail})." }
    BAD_PEM_FIX = "cert.bad-pem-fix" {
        nb: "Kontroller at filen er hel, med BEGIN- og END-linjene.",
        en: "Check that the file is whole, with its BEGIN and END lines." }
    NOT_X509 = "cert.not-x509" {
        nb: "{what} inneholder ikke et gyldig X.509-sertifikat ({detail}).",
        en: "{what} does not hold a valid X.509 certificate ({detail})." }
    BAD_TRUST_ANCHOR = "cert.bad-trust-anchor" {
        nb: "Rotsertifikat nummer {index} kan ikke brukes ({detail}).",
        en: "Root certificate number {index} cannot be used ({detail})." }
    BAD_TRUST_ANCHOR_FIX = "cert.bad-trust-anchor-fix" {
        nb: "Kontroller filene du oppga med --roots.",
        en: "Check the files you gave with --roots." }
    BAD_CRL = "cert.bad-crl" {
        nb: "Sperreliste nummer {index} kan ikke leses ({detail}).",
        en: "Revocation list number {index} cannot be read ({detail})." }
    BAD_CRL_FIX = "cert.bad-crl-fix" {
        nb: "Kontroller filene du oppga med --crl.",
        en: "Check the files you gave with --crl." }

    // `hjemmekontor cert inspect` (`cli/cert_inspect.rs`).
    THE_CARD = "inspect.the-card" {
        nb: "kortet",
        en: "the card" }
    FILE_OR_CARD = "inspect.file-or-card" {
        nb: "Oppgi en sertifikatfil eller --card.",
        en: "Give a certificate file or --card." }
    INTERMEDIATES_NEED_ROOTS = "inspect.intermediates-need-roots" {
        nb: "--intermediates brukes bare sammen med --roots.",
        en: "--intermediates is used only together with --roots." }
    CERTIFICATE_FOR = "inspect.certificate-for" {
        nb: "Sertifikat for {name}",
        en: "Certificate for {name}" }
    WITHOUT_NAME = "inspect.without-name" {
        nb: "(uten navn)",
        en: "(no name)" }
    LABEL_PERSONAL_ID = "inspect.label-personal-id" {
        nb: "Personidentifikator:",
        en: "Personal identifier:" }
    LABEL_SUBJECT = "inspect.label-subject" {
        nb: "Emne:",
        en: "Subject:" }
    LABEL_ISSUER = "inspect.label-issuer" {
        nb: "Utsteder:",
        en: "Issuer:" }
    LABEL_LEVEL = "inspect.label-level" {
        nb: "Nivå:",
        en: "Level:" }
    LABEL_VALID = "inspect.label-valid" {
        nb: "Gyldig:",
        en: "Valid:" }
    LABEL_KEY = "inspect.label-key" {
        nb: "Nøkkel:",
        en: "Key:" }
    LABEL_KEY_USAGE = "inspect.label-key-usage" {
        nb: "Nøkkelbruk:",
        en: "Key usage:" }
    LABEL_EXTENDED_KEY_USAGE = "inspect.label-extended-key-usage" {
        nb: "Utvidet nøkkelbruk:",
        en: "Extended key usage:" }
    LABEL_POLICIES = "inspect.label-policies" {
        nb: "Policyer:",
        en: "Policies:" }
    LABEL_QC_STATEMENTS = "inspect.label-qc-statements" {
        nb: "QC-erklæringer:",
        en: "QC statements:" }
    LABEL_CHAIN = "inspect.label-chain" {
        nb: "Kjede:",
        en: "Chain:" }
    LABEL_JUDGED_AT = "inspect.label-judged-at" {
        nb: "Vurdert for:",
        en: "Judged as of:" }
    NOT_YET_VALID_STATUS = "inspect.not-yet-valid" {
        nb: "ikke gyldig ennå",
        en: "not valid yet" }
    EXPIRED_TODAY = "inspect.expired-today" {
        nb: "utløpt i dag",
        en: "expired today" }
    EXPIRED_A_DAY_AGO = "inspect.expired-a-day-ago" {
        nb: "utløpt for 1 dag siden",
        en: "expired 1 day ago" }
    EXPIRED_DAYS_AGO = "inspect.expired-days-ago" {
        nb: "utløpt for {n} dager siden",
        en: "expired {n} days ago" }
    ONE_DAY_LEFT = "inspect.one-day-left" {
        nb: "1 dag igjen",
        en: "1 day left" }
    DAYS_LEFT = "inspect.days-left" {
        nb: "{n} dager igjen",
        en: "{n} days left" }
    NO_RESTRICTION = "inspect.no-restriction" {
        nb: "(ingen begrensning)",
        en: "(no restriction)" }
    CHAIN_NOT_CHECKED = "inspect.chain-not-checked" {
        nb: "ikke kontrollert (oppgi --roots og --crl)",
        en: "not checked (give --roots and --crl)" }
    A_ROOT = "inspect.a-root" {
        nb: "et rotsertifikat",
        en: "a root certificate" }
    CHAIN_NOT_REVOKED = "inspect.chain-not-revoked" {
        nb: "godkjent til «{anchor}», ikke sperret",
        en: "valid up to “{anchor}”, not revoked" }
    CHAIN_REVOCATION_UNCHECKED = "inspect.chain-revocation-unchecked" {
        nb: "godkjent til «{anchor}», sperrestatus ikke kontrollert",
        en: "valid up to “{anchor}”, revocation not checked" }
    CHAIN_NOT_VALID = "inspect.chain-not-valid" {
        nb: "ikke godkjent (se under)",
        en: "not valid (see below)" }
    USABLE = "inspect.usable" {
        nb: "Kan brukes til innlogging.",
        en: "Can be used to log in." }
    NOT_USABLE = "inspect.not-usable" {
        nb: "Kan IKKE brukes til innlogging:",
        en: "Can NOT be used to log in:" }
    NOTE = "inspect.note" {
        nb: "Merk:",
        en: "Note:" }
    QC_COMPLIANCE = "inspect.qc-compliance" {
        nb: "kvalifisert (QcCompliance)",
        en: "qualified (QcCompliance)" }
    QC_SSCD = "inspect.qc-sscd" {
        nb: "nøkkel i kvalifisert enhet (QcSSCD)",
        en: "key in a qualified device (QcSSCD)" }
    QC_NO_SEMANTICS = "inspect.qc-no-semantics" {
        nb: "uten semantikk",
        en: "no semantics" }
}
