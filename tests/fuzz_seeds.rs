//! Writes the seed corpus of the fuzz targets (`tests/fuzz/corpus/<target>/`) from the
//! project's own encoders, the virtual cards and the TEST PKI, so no seed is a hand-made
//! blob. Run on purpose, when a format changes:
//!
//! ```sh
//! cargo test --test fuzz_seeds -- --ignored
//! ```
//!
//! Each seed is written under a fixed name and replaced; other files in the corpus (inputs a
//! fuzz run found, crashes kept as regressions) are left alone. Keys and times of the TEST
//! PKI differ from run to run, so rewritten seeds differ in their bytes, not in their form.
//! The input forms (two parts, a scripted card) are those of `tests/fuzz/src/lib.rs`.

#[allow(dead_code)] // the helpers of every target; the seeds need the card's steps
#[path = "fuzz/src/lib.rs"]
mod fuzz_input;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hjemmekontor::card::emulated::SimulatedCard;
use hjemmekontor::card::piv::Slot;
use hjemmekontor::card::{CardTransport, Transmit, TransportError};
use hjemmekontor::gateway::audit::{AuditEvent, AuditLog, EndReason, RefusalReason, TargetRefusal};
use hjemmekontor::posture::policy::{Action, Policy, Rule};
use hjemmekontor::posture::report::{
    Antivirus, Fact, Firewall, OsFacts, Report, ScreenLock, Updates,
};
use hjemmekontor::secret::{Password, Pin};
use hjemmekontor::tunnel::busy;
use hjemmekontor::tunnel::mux::{MuxClient, MuxConfig, MuxServer};
use hjemmekontor::tunnel::protocol::{
    encode_frame, Accepted, ClientEndReason, ClientMessage, End, Ending, GatewayEndReason,
    GatewayMessage, Login, Open, Opened, PostureChecked, PostureNotice, PublishedPolicy, Redirect,
    RefuseCode, Refused, RejectCode, Rejected, TargetInfo, PROTOCOL_VERSION,
};
use hjemmekontor::vcard::pki::{self, PkiOptions, TestPki};
use hjemmekontor::vcard::{PivConfig, SlotKey, VirtualBeid, VirtualPiv};
use time::macros::datetime;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};

/// The fuzz targets judge at 2026-06-01 00:00 UTC; the TEST PKI is made a day before, so its
/// valid certificates are valid then.
const PKI_TIME: OffsetDateTime = datetime!(2026-05-31 00:00 UTC);
const NOW_UNIX: i64 = 1_780_272_000;
const MAX_FRAME: usize = 65_536;
/// The instructions that end a PIV session (a signature) and a Buypass one (the PIN state).
const GENERAL_AUTHENTICATE: u8 = 0x87;
const VERIFY: u8 = 0x20;

fn corpus(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn seed(target: &str, name: &str, bytes: &[u8]) {
    std::fs::write(corpus(target).join(name), bytes).unwrap();
}

/// A 2-byte big-endian length and the bytes, as the targets cut their inputs.
fn chunk(bytes: &[u8]) -> Vec<u8> {
    let len = u16::try_from(bytes.len()).expect("a chunk under 64 KiB");
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

fn two_parts(first: &[u8], second: &[u8]) -> Vec<u8> {
    let mut out = chunk(first);
    out.extend_from_slice(second);
    out
}

#[test]
#[ignore = "writes the fuzz seed corpus; run it on purpose"]
fn write_fuzz_seeds() {
    let pki = pki::generate(&PkiOptions::new(PKI_TIME)).unwrap();
    card_seeds(&pki);
    certificate_seeds(&pki);
    crl_seeds(&pki);
    frame_seeds();
    config_seeds();
    audit_seeds();
    posture_seeds();
    mux_seeds();
}

/// What a simulated card was asked and answered.
#[derive(Default)]
struct Recording {
    commands: Vec<Vec<u8>>,
    answers: Vec<Vec<u8>>,
}

struct Recorder<C> {
    card: C,
    extended: bool,
    log: Arc<Mutex<Recording>>,
}

struct RecorderTx<'a, C>(&'a mut Recorder<C>);

impl<C: SimulatedCard> Transmit for RecorderTx<'_, C> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let answer = self.0.card.process(command);
        let mut log = self.0.log.lock().unwrap();
        log.commands.push(command.to_vec());
        log.answers.push(answer.clone());
        Ok(answer)
    }
}

impl<C: SimulatedCard> CardTransport for Recorder<C> {
    fn transaction(&mut self) -> Result<Box<dyn Transmit + '_>, TransportError> {
        Ok(Box::new(RecorderTx(self)))
    }
    fn atr(&self) -> Vec<u8> {
        self.card.atr()
    }
    fn supports_extended_length(&self) -> bool {
        self.extended
    }
    fn describe(&self) -> String {
        "recorder".into()
    }
}

/// Drives a card with the `card_answers` target's own steps, and returns what was said. The
/// virtual cards answer every step, so the last step's instruction, `last_ins`, is sent.
fn session<C: SimulatedCard + 'static>(
    card: C,
    extended: bool,
    last_ins: u8,
) -> (Vec<u8>, Recording) {
    let atr = card.atr();
    let log = Arc::new(Mutex::new(Recording::default()));
    fuzz_input::drive_card(Recorder {
        card,
        extended,
        log: Arc::clone(&log),
    });
    let recording = std::mem::take(&mut *log.lock().unwrap());
    assert!(
        recording
            .commands
            .iter()
            .any(|c| c.get(1) == Some(&last_ins)),
        "the session stopped before its last step"
    );
    (atr, recording)
}

/// The data objects (`53 …`) the card gave, each put together from its `61xx` pieces.
fn data_objects(answers: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut objects = Vec::new();
    let mut pieces = Vec::new();
    for answer in answers {
        let (data, sw) = answer.split_at(answer.len() - 2);
        pieces.extend_from_slice(data);
        if sw[0] == 0x61 {
            continue;
        }
        if sw == [0x90, 0x00] && pieces.first() == Some(&0x53) {
            objects.push(std::mem::take(&mut pieces));
        }
        pieces.clear();
    }
    objects
}

fn script(extended: bool, atr: &[u8], answers: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![u8::from(extended)];
    out.extend(chunk(atr));
    for answer in answers {
        out.extend(chunk(answer));
    }
    out
}

fn card_seeds(pki: &TestPki) {
    let key = |name: &str| {
        let issued = pki.get(name).unwrap();
        SlotKey::from_pem(&issued.cert_pem, &issued.key_pem).unwrap()
    };
    let rsa = VirtualPiv::new(
        PivConfig::new(key("person-high")).with_slot(Slot::Signature, key("person-high-ec")),
    )
    .unwrap();
    let mut gz = PivConfig::new(key("person-high-ec"));
    gz.gzip_certificates = true;
    let ec = VirtualPiv::new(gz).unwrap();
    let beid = VirtualBeid::new(&Pin::from_input("1234".into()).unwrap()).unwrap();

    let (atr, rec) = session(rsa, false, GENERAL_AUTHENTICATE);
    seed(
        "card_answers",
        "piv-rsa-short",
        &script(false, &atr, &rec.answers),
    );
    seed("apdu", "piv-select-command", &rec.commands[0]);
    seed("apdu", "piv-select-answer", &rec.answers[0]);
    for (i, object) in data_objects(&rec.answers).iter().enumerate() {
        seed("tlv", &format!("piv-object-{i}"), object);
    }
    let (atr, rec) = session(ec, true, GENERAL_AUTHENTICATE);
    seed(
        "card_answers",
        "piv-ec-gzip-extended",
        &script(true, &atr, &rec.answers),
    );
    if let Some(cmd) = rec.commands.iter().find(|c| c.len() > 260) {
        seed("apdu", "extended-command", cmd);
    }
    let (atr, rec) = session(beid, false, VERIFY);
    seed(
        "card_answers",
        "buypass",
        &script(false, &atr, &rec.answers),
    );
    seed("apdu", "buypass-pin-status", rec.answers.last().unwrap());

    // The certificate object of the gzip card, as the driver unpacks it.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &pki.get("person-high").unwrap().cert_der).unwrap();
    let mut object = hjemmekontor::card::tlv::encode(0x70, &gz.finish().unwrap());
    object.extend(hjemmekontor::card::tlv::encode(0x71, &[1]));
    object.extend(hjemmekontor::card::tlv::encode(0xFE, &[]));
    seed("tlv", "certificate-object-gzip", &object);
}

fn certificate_seeds(pki: &TestPki) {
    let high = pki.get("person-high").unwrap();
    seed("certificate", "person-high.der", &high.cert_der);
    seed(
        "certificate",
        "person-ec-chain.pem",
        format!(
            "{}{}{}",
            pki.get("person-high-ec").unwrap().cert_pem,
            pki.person_ca_pem,
            pki.root_ca_pem
        )
        .as_bytes(),
    );
    seed(
        "certificate",
        "enterprise.pem",
        pki.get("enterprise").unwrap().cert_pem.as_bytes(),
    );
    seed(
        "certificate",
        "expired.pem",
        pki.get("expired").unwrap().cert_pem.as_bytes(),
    );
    for name in ["person-high", "person-standard", "enterprise"] {
        let der = &pki.get(name).unwrap().cert_der;
        if let Some(value) = qc_statements(der) {
            seed("qc_statements", name, &value);
        }
    }
    let id = high.personal_id.as_deref().unwrap();
    seed("qc_statements", "personal-id", id.as_bytes());
}

/// The qcStatements extension's value in a certificate, if it has one.
fn qc_statements(der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    cert.extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == hjemmekontor::cert::parse::OID_QC_STATEMENTS)
        .map(|e| e.value.to_vec())
}

fn crl_seeds(pki: &TestPki) {
    seed(
        "crl",
        "person-ca-and-crl",
        &two_parts(pki.person_ca_pem.as_bytes(), pki.crl_pem.as_bytes()),
    );
    let newer = pki
        .revocation_list(
            PKI_TIME + time::Duration::hours(1),
            7,
            &["revoked", "person-high"],
        )
        .unwrap();
    let cas = format!("{}{}", pki.root_ca_pem, pki.person_ca_pem);
    seed(
        "crl",
        "root-and-person-ca-newer-crl",
        &two_parts(cas.as_bytes(), newer.as_bytes()),
    );
    let der = hjemmekontor::cert::crls_from_bytes(newer.as_bytes()).unwrap();
    let ca_der = hjemmekontor::cert::certificates_from_bytes(pki.person_ca_pem.as_bytes()).unwrap();
    seed("crl", "der", &two_parts(&ca_der[0], &der[0]));
}

fn frames<T: serde::Serialize>(messages: &[T]) -> Vec<u8> {
    messages
        .iter()
        .flat_map(|m| encode_frame(m, MAX_FRAME).unwrap().to_vec())
        .collect()
}

fn healthy_report() -> Report {
    Report {
        version: 1,
        taken_at: NOW_UNIX - 60,
        os: Fact::known(OsFacts {
            family: "windows".into(),
            name: "Windows 11 Pro".into(),
            version: "10.0.22631".into(),
            build: Some("22631.3447".into()),
            architecture: "x86_64".into(),
        }),
        firewall: Fact::known(vec![Firewall {
            name: "Windows Defender Firewall (Public)".into(),
            enabled: true,
        }]),
        antivirus: Fact::known(vec![Antivirus {
            name: "Microsoft Defender Antivirus".into(),
            real_time: true,
            definitions_at: Some(NOW_UNIX - 86_400),
        }]),
        updates: Fact::known(Updates {
            pending_security: 2,
            pending_since: Some(NOW_UNIX - 20 * 86_400),
            last_success: Some(NOW_UNIX - 30 * 86_400),
            reboot_pending: true,
        }),
        disk_encryption: Fact::known(false),
        screen_lock: Fact::known(ScreenLock {
            enabled: true,
            timeout_secs: Some(600),
        }),
    }
}

fn login() -> Login {
    Login {
        version: PROTOCOL_VERSION,
        client_version: "0.1.0".into(),
        username: "ola".into(),
        password: Password::from_input("korrekt hest batteri stift".into()),
    }
}

fn notice() -> PostureNotice {
    PostureNotice {
        rule: "disk-encryption".into(),
        action: Action::Warn,
        nb: "Systemdisken er ikke kryptert.".into(),
        en: "The system disk is not encrypted.".into(),
    }
}

fn frame_seeds() {
    let client = |name: &str, messages: &[ClientMessage]| {
        seed("client_frames", name, &frames(messages));
    };
    client(
        "posture-then-login",
        &[
            ClientMessage::Posture(Box::new(healthy_report())),
            ClientMessage::Login(login()),
        ],
    );
    client("login-only", &[ClientMessage::Login(login())]);
    client(
        "open-and-end",
        &[
            ClientMessage::Open(Open {
                target: "kontor-pc-17".into(),
            }),
            ClientMessage::End(End {
                reason: ClientEndReason::CardRemoved,
            }),
        ],
    );
    client(
        "recheck",
        &[ClientMessage::Posture(Box::new(Report::unknown(
            NOW_UNIX,
            "not probed",
        )))],
    );

    let accepted = GatewayMessage::Accepted(Accepted {
        session_id: "s-1".into(),
        display_name: "Ola Nordmann".into(),
        targets: vec![TargetInfo {
            id: "kontor-pc-17".into(),
            name: "Kontor-PC, legekontoret".into(),
            redirect: Redirect {
                printers: true,
                clipboard: true,
                drives: false,
            },
        }],
        idle_timeout_secs: 3600,
        posture_warnings: vec![notice()],
        posture_recheck_secs: 900,
    });
    let rejected = |code, retry: Option<u64>| {
        GatewayMessage::Rejected(Rejected {
            code,
            message: "Innloggingen ble avvist.".into(),
            remediation: Some("Prøv igjen.".into()),
            failed_rules: vec![notice()],
            retry_after_secs: retry,
            open_sessions: Some(2),
        })
    };
    let gateway = |name: &str, messages: &[GatewayMessage]| {
        seed("gateway_frames", name, &frames(messages));
    };
    gateway(
        "accepted-opened-ending",
        &[
            accepted,
            GatewayMessage::Opened(Opened {
                target: "kontor-pc-17".into(),
            }),
            GatewayMessage::PostureChecked(PostureChecked {
                warnings: vec![notice()],
            }),
            GatewayMessage::Ending(Ending {
                reason: GatewayEndReason::IdleTimeout,
                message: "Økten var ubrukt for lenge.".into(),
                failed_rules: Vec::new(),
                limit_secs: Some(3600),
            }),
        ],
    );
    gateway(
        "rejections",
        &[
            rejected(RejectCode::LockedOut, Some(300)),
            rejected(RejectCode::PostureRefused, None),
            rejected(RejectCode::ServerBusy, None),
            GatewayMessage::Refused(Refused {
                code: RefuseCode::NotGranted,
                message: "Ikke tilgang.".into(),
            }),
        ],
    );
    gateway(
        "policy",
        &[GatewayMessage::Policy(PublishedPolicy {
            policy: Policy::of([
                (Rule::Firewall, Action::Deny),
                (
                    Rule::Antivirus {
                        max_definitions_age_days: Some(7),
                    },
                    Action::Warn,
                ),
                (
                    Rule::Updates {
                        max_pending_days: 14,
                    },
                    Action::Deny,
                ),
            ]),
            recheck_secs: 900,
            gateway_time: Some(NOW_UNIX + 30),
        })],
    );
    seed("gateway_frames", "busy", &busy::greeting(30));
}

fn config_seeds() {
    let example = include_str!("../installer/gateway/gateway.example.toml");
    seed("gateway_config", "example.toml", example.as_bytes());
    // The same without its posture policy and users: what a first configuration looks like.
    let end = example.find("[[user]]").unwrap();
    seed(
        "gateway_config",
        "no-users.toml",
        &example.as_bytes()[..end],
    );
}

fn audit_events() -> Vec<AuditEvent> {
    let source: std::net::SocketAddr = "192.0.2.7:50412".parse().unwrap();
    vec![
        AuditEvent::GatewayStarted {
            version: "0.1.0".into(),
            dangerous: vec!["test_environment".into()],
        },
        AuditEvent::LoginRefused {
            reason: RefusalReason::WrongPassword,
            user: Some("ola".into()),
            personal_id: Some("9578-4050-12345678".into()),
            source,
            detail: None,
        },
        AuditEvent::LoginAccepted {
            user: "ola".into(),
            personal_id: "9578-4050-12345678".into(),
            source,
            session_id: "s-1".into(),
            targets: vec!["kontor-pc-17".into()],
        },
        AuditEvent::TargetRefused {
            user: "ola".into(),
            session_id: "s-1".into(),
            target: "server-3".into(),
            source,
            reason: TargetRefusal::NotGranted,
        },
        AuditEvent::SessionEnded {
            session_id: "s-1".into(),
            user: "ola".into(),
            target_streams: 2,
            bytes_to_target: 1234,
            bytes_from_target: 567_890,
            duration_ms: 3_723_000,
            reason: EndReason::CardRemoved,
        },
    ]
}

fn audit_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(&path).unwrap();
    let start = datetime!(2026-05-31 08:00 UTC);
    for (i, event) in audit_events().into_iter().enumerate() {
        log.append(event, start + time::Duration::minutes(i as i64))
            .unwrap();
    }
    drop(log);
    let text = std::fs::read(&path).unwrap();
    seed("audit_log", "five-records", &text);
    let first_line = text.iter().position(|b| *b == b'\n').unwrap() + 1;
    seed("audit_log", "one-record", &text[..first_line]);
}

fn posture_seeds() {
    let json = |report: &Report| serde_json::to_vec(report).unwrap();
    seed("posture_report", "healthy", &json(&healthy_report()));
    seed(
        "posture_report",
        "unknown",
        &json(&Report::unknown(NOW_UNIX, "not probed")),
    );
    let mut linux = healthy_report();
    linux.os = Fact::known(OsFacts {
        family: "linux".into(),
        name: "Debian GNU/Linux".into(),
        version: "12".into(),
        build: None,
        architecture: "x86_64".into(),
    });
    linux.antivirus = Fact::unknown("no antivirus found");
    linux.disk_encryption = Fact::known(true);
    seed("posture_report", "linux", &json(&linux));
}

/// Copies `from` to `to` until `from` ends, and returns what went by.
async fn tap(mut from: ReadHalf<DuplexStream>, mut to: WriteHalf<DuplexStream>) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf).await.unwrap_or(0);
        if n == 0 || to.write_all(&buf[..n]).await.is_err() {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    let _ = to.shutdown().await;
    seen
}

/// A short session between the real multiplexers, tapped on the wire: a stream that opens
/// a target, sends bytes, finishes and reads the answer; one reset at once; the close.
/// Returns what the client sent and what the gateway sent.
async fn mux_session() -> (Vec<u8>, Vec<u8>) {
    let (client_io, client_wire) = tokio::io::duplex(1 << 20);
    let (gateway_io, gateway_wire) = tokio::io::duplex(1 << 20);
    let (client, client_driver) = MuxClient::new(client_io, MuxConfig::default());
    let (mut gateway, gateway_driver) = MuxServer::new(gateway_io, MuxConfig::default());
    tokio::spawn(client_driver);
    tokio::spawn(gateway_driver);
    let (from_client, to_client) = tokio::io::split(client_wire);
    let (from_gateway, to_gateway) = tokio::io::split(gateway_wire);
    let up = tokio::spawn(tap(from_client, to_gateway));
    let down = tokio::spawn(tap(from_gateway, to_client));
    let answers = tokio::spawn(async move {
        while let Some(mut stream) = gateway.next_stream().await {
            let mut asked = Vec::new();
            let _ = stream.read_to_end(&mut asked).await;
            let _ = stream.write_all(&asked[..asked.len().min(100)]).await;
            let _ = stream.shutdown().await;
        }
    });
    let mut stream = client.open_stream().await.unwrap();
    let open = ClientMessage::Open(Open {
        target: "kontor-pc".into(),
    });
    stream.write_all(&frames(&[open])).await.unwrap();
    stream.write_all(&[0x42; 3000]).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).await.unwrap();
    drop(client.open_stream().await.unwrap());
    client.closer().close();
    drop((client, stream));
    answers.await.unwrap();
    (up.await.unwrap(), down.await.unwrap())
}

fn mux_seeds() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (client_sent, gateway_sent) = runtime.block_on(mux_session());
    seed("mux_frames", "client-session", &client_sent);
    seed("mux_frames", "gateway-session", &gateway_sent);
}
