//! The window's state as plain data, and how each report from the card watch and the
//! connection changes it ([`Model::apply`]). No drawing and no I/O here: every rule of what
//! the window shows is tested on values.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::card::credential::{PinEntry, PinState};
use crate::cli::failure::Failure;
use crate::cli::posture::GatewayVerdict;
use crate::client::card_status::{CardStatus, CardSummary};
use crate::client::flow::{CertificateOption, FlowEvent, Outcome};
use crate::tunnel::protocol::{PostureNotice, TargetInfo};

use super::secret_field::{SecretBuffer, PASSWORD_CAPACITY, PIN_CAPACITY};

/// What the card watch last saw.
#[derive(Debug, Clone, PartialEq)]
pub enum CardView {
    /// Not looked yet.
    Starting,
    /// Looking at a card that was just inserted.
    Reading,
    /// What was seen.
    Seen(CardStatus),
}

/// Where the connection is.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Nothing running: the form can be filled in.
    Idle,
    /// The flow runs; the last step it reported.
    Connecting(Step),
    /// The tunnel is up.
    Connected(Tunnel),
    /// The connection was lost; the flow reconnects while the card stays in.
    Reconnecting(Tunnel),
    /// Disconnect was asked for; waiting for the flow to close.
    Closing,
}

/// The steps shown while connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// Reading the card and judging its certificate.
    Card,
    /// The card checks the PIN.
    Pin,
    /// TLS to the gateway and the login.
    Gateway,
    /// Logged in; the tunnel is being opened.
    Tunnel,
}

/// The tunnel that is up.
#[derive(Debug, Clone, PartialEq)]
pub struct Tunnel {
    /// Where the remote-desktop program connects.
    pub listen: SocketAddr,
    /// The office PC.
    pub target: TargetInfo,
    /// The person's name as the gateway knows it.
    pub display_name: String,
    /// The session, for support.
    pub session_id: String,
}

/// The remote-desktop program.
#[derive(Debug, Clone, PartialEq)]
pub enum Rdp {
    /// Not started in this session.
    NotStarted,
    /// Running: which program.
    Running(String),
    /// Could not be started, or ended: what to tell.
    Said(String),
}

/// A question the connection waits on, answered in the window.
#[derive(Debug, Clone, PartialEq)]
pub enum Question {
    /// The card forgot the PIN (it was reset): type it again, once.
    PinAgain(PinState),
    /// Several certificates can log in: pick one.
    Certificate(Vec<CertificateOption>),
}

/// The window's whole state.
#[derive(Debug)]
pub struct Model {
    /// The service's name (from the profile), for the title.
    pub service: String,
    /// The card as last seen.
    pub card: CardView,
    /// The username (remembered after a login).
    pub username: String,
    /// The PIN as typed; wiped when it is taken.
    pub pin: SecretBuffer,
    /// The password as typed; wiped when it is taken.
    pub password: SecretBuffer,
    /// The connection.
    pub phase: Phase,
    /// The question the connection waits on.
    pub question: Option<Question>,
    /// The last failure: one sentence, one fix.
    pub failure: Option<Failure>,
    /// Notes worth showing (certificate warnings, the card reset, a retry).
    pub notes: Vec<String>,
    /// Posture rules that failed with a warning, or that refused the login.
    pub posture: Vec<PostureNotice>,
    /// The remote-desktop program.
    pub rdp: Rdp,
    /// Where the support bundle was written, or why not.
    pub report: Option<Result<PathBuf, Failure>>,
    /// The support bundle is being written.
    pub reporting: bool,
    /// The gateway is configured (a profile was imported, or it was remembered).
    pub configured: bool,
    /// What the gateway's posture rules say about this computer, asked before any login.
    pub machine: MachineCheck,
    /// Where the keyboard goes next, once: the PIN when the card becomes ready, the
    /// remote-desktop button when the tunnel comes up, so Enter is always the next step.
    pub focus: Option<Focus>,
}

/// The gateway's verdict on this computer before a login (`hjemmekontor posture --gateway`).
#[derive(Debug, Clone)]
pub enum MachineCheck {
    /// No gateway to ask yet.
    NotAsked,
    /// The probes run and the gateway is asked.
    Checking,
    /// The gateway's rules applied to this computer's report.
    Judged(GatewayVerdict),
    /// The gateway could not be asked; the login will tell.
    Unknown(Failure),
}

/// A field or button the keyboard is moved to once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The PIN field.
    Pin,
    /// "Start fjernskrivebord".
    StartRdp,
}

/// A report from the card watch or the connection.
#[derive(Debug)]
pub enum Update {
    /// A card was inserted and is being read.
    CardReading,
    /// The card as seen now.
    Card(CardStatus),
    /// The connection's progress.
    Flow(FlowEvent),
    /// The connection waits on an answer.
    Asked(Question),
    /// The connection ended.
    Ended(Result<Outcome, Failure>),
    /// The support bundle was written (or not).
    Report(Result<PathBuf, Failure>),
    /// The gateway's verdict on this computer (or why it could not be asked).
    Machine(Result<GatewayVerdict, Failure>),
}

impl Model {
    /// The window before anything is seen.
    pub fn new(service: String, username: Option<String>, configured: bool) -> Self {
        Model {
            service,
            card: CardView::Starting,
            username: username.unwrap_or_default(),
            pin: SecretBuffer::new(PIN_CAPACITY),
            password: SecretBuffer::new(PASSWORD_CAPACITY),
            phase: Phase::Idle,
            question: None,
            failure: None,
            notes: Vec::new(),
            posture: Vec::new(),
            rdp: Rdp::NotStarted,
            report: None,
            reporting: false,
            configured,
            machine: MachineCheck::NotAsked,
            focus: None,
        }
    }

    /// The card, when it can log in.
    pub fn ready_card(&self) -> Option<&CardSummary> {
        match &self.card {
            CardView::Seen(CardStatus::Ready(summary)) => Some(summary),
            _ => None,
        }
    }

    /// The PIN is typed on the keyboard (not on the reader's PIN pad or by the middleware).
    pub fn pin_typed(&self) -> bool {
        self.ready_card()
            .is_none_or(|c| matches!(c.pin_entry, PinEntry::Keyboard { .. }))
    }

    /// Connect can be pressed: a usable card, a configured gateway, nothing running, and the
    /// fields filled in.
    pub fn can_connect(&self) -> bool {
        let Some(card) = self.ready_card() else {
            return false;
        };
        self.configured
            && self.phase == Phase::Idle
            && card.pin_usable()
            && !self.username.trim().is_empty()
            && !self.password.is_empty()
            && (!self.pin_typed() || !self.pin.is_empty())
    }

    /// The connection runs (connecting, up, reconnecting or closing).
    pub fn busy(&self) -> bool {
        self.phase != Phase::Idle
    }

    /// Takes one report in.
    pub fn apply(&mut self, update: Update) {
        match update {
            Update::CardReading => self.card = CardView::Reading,
            Update::Card(status) => self.card_seen(status),
            Update::Flow(event) => self.flow_event(event),
            Update::Asked(question) => self.question = Some(question),
            Update::Ended(outcome) => self.ended(outcome),
            Update::Report(written) => {
                self.reporting = false;
                self.report = Some(written);
            }
            Update::Machine(Ok(verdict)) => self.machine = MachineCheck::Judged(verdict),
            Update::Machine(Err(failure)) => self.machine = MachineCheck::Unknown(failure),
        }
    }

    fn card_seen(&mut self, status: CardStatus) {
        if matches!(status, CardStatus::NoCard | CardStatus::NoReader) {
            // The card left: whatever was typed, and what was said, was for it.
            self.pin.clear();
            self.question = None;
            self.notes.clear();
        }
        if matches!(status, CardStatus::Ready(_)) && self.ready_card().is_none() {
            self.focus = Some(Focus::Pin);
        }
        self.card = CardView::Seen(status);
    }

    fn ended(&mut self, outcome: Result<Outcome, Failure>) {
        self.phase = Phase::Idle;
        self.question = None;
        // A PIN is used once: a second Connect needs it typed again, never resent by us.
        self.pin.clear();
        self.password.clear();
        match outcome {
            // Declining a question is no failure to show.
            Err(failure) if failure.kind == "cancelled" => {}
            Err(failure) => self.failure = Some(failure),
            Ok(_) => {}
        }
    }

    fn flow_event(&mut self, event: FlowEvent) {
        match event {
            FlowEvent::ReadingCard => self.phase = Phase::Connecting(Step::Card),
            FlowEvent::CertificateUsable { warnings, .. } => {
                // The card's own lines already say what the certificate's warnings say.
                let shown = self
                    .ready_card()
                    .map(|c| c.warnings.clone())
                    .unwrap_or_default();
                let new: Vec<String> = warnings
                    .into_iter()
                    .filter(|w| !shown.contains(w) && !self.notes.contains(w))
                    .collect();
                self.notes.extend(new);
            }
            FlowEvent::PinOnPinPad | FlowEvent::PinInMiddleware | FlowEvent::PinForgotten => {
                self.phase = Phase::Connecting(Step::Pin)
            }
            FlowEvent::PinAccepted | FlowEvent::Connecting { .. } => {
                if !matches!(self.phase, Phase::Reconnecting(_) | Phase::Closing) {
                    self.phase = Phase::Connecting(Step::Gateway);
                }
            }
            FlowEvent::Retrying { message, .. } => self.notes.push(message),
            FlowEvent::LoggedIn { .. } => {
                if !matches!(self.phase, Phase::Reconnecting(_) | Phase::Closing) {
                    self.phase = Phase::Connecting(Step::Tunnel);
                }
            }
            FlowEvent::PostureWarnings { notices } => self.posture = notices,
            FlowEvent::TunnelUp {
                listen,
                target,
                session_id,
                display_name,
            } => {
                if matches!(self.phase, Phase::Connecting(_)) {
                    self.focus = Some(Focus::StartRdp);
                }
                if self.phase != Phase::Closing {
                    self.phase = Phase::Connected(Tunnel {
                        listen,
                        target,
                        display_name,
                        session_id,
                    });
                }
            }
            FlowEvent::Reconnecting => {
                if let Phase::Connected(t) = &self.phase {
                    self.phase = Phase::Reconnecting(t.clone());
                }
            }
            FlowEvent::RdpStarted { program } => self.rdp = Rdp::Running(program),
            FlowEvent::RdpNotStarted { error, fix } => {
                self.rdp = Rdp::Said(format!("{error} {fix}"))
            }
            FlowEvent::RdpExited { sentence, .. } => self.rdp = Rdp::Said(sentence),
            FlowEvent::StreamRefused { message } => self.notes.push(message),
            FlowEvent::StreamFailed { reason } => self.notes.push(reason),
            FlowEvent::Pkcs1Only
            | FlowEvent::FirstLogin { .. }
            | FlowEvent::TunnelClosed { .. } => {}
        }
    }

    /// Connect was pressed: the fields stay for the flow to take, old words go.
    pub fn start_connecting(&mut self) {
        self.failure = None;
        self.notes.clear();
        self.posture.clear();
        self.rdp = Rdp::NotStarted;
        self.phase = Phase::Connecting(Step::Card);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::credential::Backend;
    use crate::cert::Level;

    fn summary(pin: PinState) -> CardSummary {
        CardSummary {
            holder: "ÅSE TESTESEN".into(),
            level: Level::PersonHigh,
            not_after: time::macros::datetime!(2027-01-01 00:00 UTC),
            days_left: 30,
            test_certificate: true,
            warnings: Vec::new(),
            pin,
            pin_entry: PinEntry::Keyboard { min: 4, max: 8 },
            backend: Backend::Piv,
        }
    }

    fn ready_model() -> Model {
        let mut m = Model::new("Hjemmekontor".into(), Some("ase".into()), true);
        m.apply(Update::Card(CardStatus::Ready(summary(
            PinState::TriesLeft(3),
        ))));
        m
    }

    #[test]
    fn connect_needs_a_ready_card_and_every_field() {
        let mut m = ready_model();
        assert!(!m.can_connect(), "no PIN, no password yet");
        m.pin.push_str("123456");
        assert!(!m.can_connect(), "no password yet");
        m.password.push_str("hemmelig");
        assert!(m.can_connect());
        m.apply(Update::Card(CardStatus::NoCard));
        assert!(!m.can_connect(), "the card is gone");
        assert!(m.pin.is_empty(), "pulling the card wipes the PIN");
    }

    #[test]
    fn a_blocked_pin_or_no_gateway_never_connects() {
        let mut m = ready_model();
        m.apply(Update::Card(CardStatus::Ready(summary(PinState::Blocked))));
        m.pin.push_str("1234");
        m.password.push_str("x");
        assert!(!m.can_connect());
        let mut m = Model::new("Hjemmekontor".into(), Some("ase".into()), false);
        m.apply(Update::Card(CardStatus::Ready(summary(
            PinState::TriesLeft(3),
        ))));
        m.pin.push_str("1234");
        m.password.push_str("x");
        assert!(!m.can_connect(), "no gateway configured");
    }

    #[test]
    fn a_failed_connection_wipes_both_secrets_and_keeps_the_failure() {
        let mut m = ready_model();
        m.pin.push_str("999999");
        m.password.push_str("x");
        m.start_connecting();
        m.apply(Update::Ended(Err(crate::cli::card_words::wrong_pin(Some(
            2,
        )))));
        assert_eq!(m.phase, Phase::Idle);
        assert!(m.pin.is_empty() && m.password.is_empty());
        assert_eq!(m.failure.as_ref().unwrap().kind, "wrong-pin");
    }

    #[test]
    fn the_steps_follow_the_flow_and_a_lost_connection_keeps_the_tunnel() {
        let mut m = ready_model();
        m.start_connecting();
        m.apply(Update::Flow(FlowEvent::PinAccepted));
        assert_eq!(m.phase, Phase::Connecting(Step::Gateway));
        let target = TargetInfo {
            id: "kontor".into(),
            name: "Kontor-PC".into(),
            redirect: Default::default(),
        };
        m.apply(Update::Flow(FlowEvent::TunnelUp {
            listen: "127.0.0.1:13389".parse().unwrap(),
            target,
            session_id: "s1".into(),
            display_name: "Åse".into(),
        }));
        assert!(matches!(m.phase, Phase::Connected(_)));
        m.apply(Update::Flow(FlowEvent::Reconnecting));
        assert!(matches!(m.phase, Phase::Reconnecting(_)));
        m.apply(Update::Flow(FlowEvent::Connecting {
            gateway: "gw:443".into(),
        }));
        assert!(
            matches!(m.phase, Phase::Reconnecting(_)),
            "still the same tunnel"
        );
    }
}
