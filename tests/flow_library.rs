//! The connection flow as a library (`client::flow`), driven by a scripted front end instead
//! of the terminal, through the real PC/SC stack with the virtual card and a real gateway:
//! the questions come once each, progress comes as events in order, the tunnel carries bytes,
//! and cancelling (a window's close button) ends the session cleanly. A wrong PIN is asked
//! once and never retried by the flow.
//!
//! Needs pcscd with vsmartcard-vpcd; with `CI` set its absence is a failure.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hjemmekontor::card::credential::PinState;
use hjemmekontor::cli::card_open::CardOptions;
use hjemmekontor::cli::failure::Failure;
use hjemmekontor::client::flow::{
    self, CertificateOption, ConnectPlan, FlowEvent, FlowUi, Outcome, PinRequest,
};
use hjemmekontor::client::settings::ClientSettings;
use hjemmekontor::secret::{Password, Pin};
use support::stack::{require_stack, serial, start_card};
use support::world::{free_port, round_trip, GatewayWorld, PASSWORD, PIN};
use tokio_util::sync::CancellationToken;

/// A front end that answers from a script and keeps what it was told.
struct Scripted {
    pin: &'static str,
    events: Mutex<Vec<FlowEvent>>,
    pins_asked: Mutex<Vec<PinState>>,
    passwords_asked: Mutex<u32>,
    /// Cancelled once the tunnel is up and a round trip went through it.
    stop: CancellationToken,
}

impl FlowUi for Scripted {
    fn event(&self, event: &FlowEvent) {
        self.events.lock().unwrap().push(event.clone());
        if let FlowEvent::TunnelUp { listen, .. } = event {
            let (listen, stop) = (*listen, self.stop.clone());
            std::thread::spawn(move || {
                let (_, echoed) = round_trip(listen, "gjennom biblioteket");
                assert_eq!(echoed, "gjennom biblioteket\n");
                stop.cancel();
            });
        }
    }
    fn pin(&self, request: PinRequest) -> Result<Pin, Failure> {
        assert!(!request.again, "the card never forgets the PIN here");
        self.pins_asked.lock().unwrap().push(request.state);
        Ok(Pin::from_input(self.pin.into()).unwrap())
    }
    fn username(&self) -> Result<String, Failure> {
        panic!("the plan names the user")
    }
    fn password(&self, username: &str) -> Result<Password, Failure> {
        assert_eq!(username, "ase");
        *self.passwords_asked.lock().unwrap() += 1;
        Ok(Password::from_input(PASSWORD.into()))
    }
    fn choose_certificate(&self, _: &[CertificateOption]) -> Result<Option<usize>, Failure> {
        panic!("the card has one login certificate")
    }
    fn interactive(&self) -> bool {
        false
    }
}

fn plan(world: &GatewayWorld) -> ConnectPlan {
    let ca = support::pki::dir().join("root-ca.pem");
    ConnectPlan {
        gateway: flow::gateway_target(&world.gateway.to_string(), &ca).unwrap(),
        username: Some("ase".into()),
        target: None,
        listen: free_port(),
        card: CardOptions::default(),
        test_environment: true,
        no_reconnect: true,
        launch: false,
    }
}

fn scripted(pin: &'static str) -> Arc<Scripted> {
    Arc::new(Scripted {
        pin,
        events: Mutex::new(Vec::new()),
        pins_asked: Mutex::new(Vec::new()),
        passwords_asked: Mutex::new(0),
        stop: CancellationToken::new(),
    })
}

#[test]
fn a_front_end_drives_the_whole_connection_and_closes_it() {
    let _lock = serial();
    if !require_stack("flow_library") {
        return;
    }
    let (cert, key) = support::pki::files("person-high");
    let _card = start_card([
        "--cert".as_ref(),
        cert.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
    ]);
    let world = GatewayWorld::new();
    let _gateway = world.start_gateway();
    let front = scripted(PIN);
    let started = Instant::now();
    let outcome = flow::connect(
        &plan(&world),
        &ClientSettings::default(),
        front.clone(),
        front.stop.clone(),
    );
    assert_eq!(outcome.unwrap(), Outcome::Closed);
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(
        front.pins_asked.lock().unwrap().len(),
        1,
        "the PIN is asked once"
    );
    assert_eq!(*front.passwords_asked.lock().unwrap(), 1);
    let names: Vec<&'static str> = front
        .events
        .lock()
        .unwrap()
        .iter()
        .map(|e| match e {
            FlowEvent::ReadingCard => "reading-card",
            FlowEvent::CertificateUsable { .. } => "certificate-usable",
            FlowEvent::PinAccepted => "pin-accepted",
            FlowEvent::Connecting { .. } => "connecting",
            FlowEvent::FirstLogin { .. } => "first-login",
            FlowEvent::LoggedIn { .. } => "logged-in",
            FlowEvent::TunnelUp { .. } => "tunnel-up",
            FlowEvent::TunnelClosed { .. } => "tunnel-closed",
            _ => "other",
        })
        .filter(|n| *n != "other")
        .collect();
    assert_eq!(
        names,
        [
            "reading-card",
            "certificate-usable",
            "pin-accepted",
            "connecting",
            "first-login",
            "logged-in",
            "tunnel-up",
            "tunnel-closed"
        ]
    );
    // The gateway heard why the session ended.
    let ended = world.wait_for("session-ended");
    assert_eq!(ended["reason"], "client-closed");
}

#[test]
fn a_wrong_pin_is_asked_once_and_never_retried() {
    let _lock = serial();
    if !require_stack("flow_library_wrong_pin") {
        return;
    }
    let (cert, key) = support::pki::files("person-high");
    let card = start_card([
        "--cert".as_ref(),
        cert.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
    ]);
    let world = GatewayWorld::new();
    let front = scripted("99999999");
    let failure = flow::connect(
        &plan(&world),
        &ClientSettings::default(),
        front.clone(),
        front.stop.clone(),
    )
    .unwrap_err();
    assert_eq!(failure.kind, "wrong-pin", "{failure:?}");
    assert!(
        failure.message.contains("2 forsøk igjen"),
        "{}",
        failure.message
    );
    assert_eq!(front.pins_asked.lock().unwrap().len(), 1);
    // The card counted one wrong try, not more.
    let status = card.ctl("status").unwrap();
    assert!(status.contains("pin_tries=2"), "{status}");
}
