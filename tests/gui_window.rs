//! The window (`hjemmekontor-gui`), driven headless through its accessibility tree
//! (egui_kittest): what a screen reader finds is what these tests find.
//!
//! Without a card: the labels in bokmål and English, the PIN tries and the last-try warning,
//! and a typed PIN that never shows in the tree. With the real PC/SC stack, the virtual card
//! and a local gateway: the card ready with its holder; a wrong PIN shown with the tries left
//! and never retried; a connection whose tunnel carries bytes, with the PIN field wiped; the
//! card pulled and the window back at "insert your card"; and, from a first run with no
//! gateway, IT's profile imported in the window, the gateway's posture `deny` shown with its
//! remediation before any PIN, and again when the login is refused. Those need pcscd with vsmartcard-vpcd; with `CI` set their absence is a
//! failure.

mod support;

use std::time::{Duration, Instant};

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use hjemmekontor::card::credential::{Backend, PinEntry, PinState};
use hjemmekontor::cert::Level;
use hjemmekontor::cli::card_open::CardOptions;
use hjemmekontor::client::card_status::{CardStatus, CardSummary};
use hjemmekontor::client::profile::{self, Profile};
use hjemmekontor::client::settings::{self, ClientSettings};
use hjemmekontor::gui::model::{MachineCheck, Model, Phase, Update};
use hjemmekontor::gui::{view, App, Setup};
use hjemmekontor::i18n::{with_lang, Lang};
use support::stack::{require_stack, serial, start_person_high_card};
use support::world::{free_port, round_trip, GatewayWorld, PASSWORD, PIN};

/// The longest any step of the connection may take before the test gives up.
const PATIENCE: Duration = Duration::from_secs(60);

fn summary(pin: PinState) -> CardSummary {
    CardSummary {
        holder: "ÅSE TEST NORDMANN".into(),
        level: Level::PersonHigh,
        not_after: time::macros::datetime!(2027-01-01 00:00 UTC),
        days_left: 30,
        test_certificate: false,
        warnings: Vec::new(),
        pin,
        pin_entry: PinEntry::Keyboard { min: 4, max: 8 },
        backend: Backend::Piv,
    }
}

/// The view alone, over a model, in `lang`.
fn view_harness(lang: Lang, model: Model) -> Harness<'static, Model> {
    Harness::builder().with_size([460.0, 900.0]).build_ui_state(
        move |ui, model: &mut Model| {
            with_lang(lang, || {
                view::draw(ui, model, &mut String::new());
            })
        },
        model,
    )
}

fn ready_model(pin: PinState) -> Model {
    let mut model = Model::new("Hjemmekontor".into(), Some("ase".into()), true);
    model.apply(Update::Card(CardStatus::Ready(summary(pin))));
    model
}

#[test]
fn the_window_speaks_bokmal_and_english() {
    let h = view_harness(Lang::Nb, ready_model(PinState::TriesLeft(3)));
    h.get_by_label("Kortet er klart");
    h.get_by_label("ÅSE TEST NORDMANN");
    h.get_by_label("PIN-forsøk igjen: 3");
    h.get_by_label("Brukernavn");
    h.get_by_label("PIN-kode");
    h.get_by_label("Passord");
    h.get_by_label("Koble til");
    h.get_by_label("Send til IT");
    let h = view_harness(Lang::En, ready_model(PinState::TriesLeft(3)));
    h.get_by_label("Card ready");
    h.get_by_label("PIN tries left: 3");
    h.get_by_label("Username");
    h.get_by_label("Password");
    h.get_by_label("Connect");
    h.get_by_label("Send to IT");
    assert!(h.query_by_label("Koble til").is_none());
}

#[test]
fn the_last_try_is_a_warning_and_a_blocked_card_says_what_to_do() {
    let h = view_harness(Lang::Nb, ready_model(PinState::TriesLeft(1)));
    h.get_by_label_contains("Siste PIN-forsøk");
    let h = view_harness(Lang::Nb, ready_model(PinState::Blocked));
    h.get_by_label_contains("PUK");
}

#[test]
fn no_card_and_no_reader_say_what_to_do() {
    let mut model = Model::new("Hjemmekontor".into(), None, true);
    model.apply(Update::Card(CardStatus::NoCard));
    view_harness(Lang::Nb, model).get_by_label("Sett inn kortet");
    let mut model = Model::new("Hjemmekontor".into(), None, true);
    model.apply(Update::Card(CardStatus::NoReader));
    view_harness(Lang::En, model).get_by_label_contains("No card reader");
}

#[test]
fn a_typed_pin_is_dots_in_the_tree_and_connect_waits_for_every_field() {
    let mut h = view_harness(Lang::Nb, ready_model(PinState::TriesLeft(3)));
    h.get_by_label("PIN-kode").focus();
    h.run_steps(2);
    h.get_by_label("PIN-kode").type_text("4711");
    h.run_steps(2);
    assert_eq!(h.state().pin.chars(), 4);
    let shown = h.get_by_label("PIN-kode").value().unwrap_or_default();
    assert_eq!(shown, "••••");
    assert!(
        h.query_by_value("4711").is_none() && h.query_by_label_contains("4711").is_none(),
        "the PIN's digits are nowhere in the tree"
    );
    assert!(!h.state().can_connect(), "no password yet");
    h.get_by_label("Passord").focus();
    h.run_steps(2);
    h.get_by_label("Passord").type_text("hemmelig");
    h.run_steps(2);
    assert!(h.state().can_connect());
    assert!(h.query_by_label_contains("hemmelig").is_none());
}

// ---- With the real stack: the virtual card and a local gateway. ----

/// The app over a settings file naming the world's gateway, in `lang`.
fn app_harness(world: &GatewayWorld, lang: Lang) -> (Harness<'static, App>, std::net::SocketAddr) {
    let settings_path = world.dir.path().join("client.toml");
    let saved = ClientSettings {
        gateway: Some(world.gateway.to_string()),
        gateway_ca: Some(support::pki::dir().join("root-ca.pem")),
        username: Some("ase".into()),
        ..Default::default()
    };
    settings::save(&settings_path, &saved).unwrap();
    let listen = free_port();
    let app = App::new(setup(world, settings_path, listen, lang)).unwrap();
    (harness(app), listen)
}

fn setup(
    world: &GatewayWorld,
    settings_path: std::path::PathBuf,
    listen: std::net::SocketAddr,
    lang: Lang,
) -> Setup {
    Setup {
        card: CardOptions {
            settings: Some(settings_path),
            ..CardOptions::default()
        },
        test_environment: true,
        listen: Some(listen),
        lang,
        report_dir: Some(world.dir.path().to_path_buf()),
    }
}

fn harness(app: App) -> Harness<'static, App> {
    Harness::builder()
        .with_size([460.0, 900.0])
        .build_ui_state(|ui, app: &mut App| app.ui(ui), app)
}

/// The app on its first run: settings with a username and no gateway.
fn first_run_harness(
    world: &GatewayWorld,
    lang: Lang,
) -> (Harness<'static, App>, std::net::SocketAddr) {
    let listen = free_port();
    let settings_path = world.dir.path().join("client.toml");
    let saved = ClientSettings {
        username: Some("ase".into()),
        ..Default::default()
    };
    settings::save(&settings_path, &saved).unwrap();
    let setup = setup(world, settings_path, listen, lang);
    (harness(App::new(setup).unwrap()), listen)
}

/// The profile IT would give for the world's gateway.
fn write_profile(world: &GatewayWorld) -> std::path::PathBuf {
    let ca = std::fs::read_to_string(support::pki::dir().join("root-ca.pem")).unwrap();
    let text = profile::render(&Profile {
        format: profile::FORMAT,
        name: "Hjemmekontor Testkommune".into(),
        gateway: world.gateway.to_string(),
        expect_address: None,
        required_ports: Vec::new(),
        gateway_ca: ca,
    })
    .unwrap();
    let path = world.dir.path().join("testkommune.hjemmekontor");
    std::fs::write(&path, text).unwrap();
    path
}

/// Steps the window until `seen` holds, or fails after [`PATIENCE`] with the window's state.
fn wait_until(h: &mut Harness<'static, App>, what: &str, seen: impl Fn(&Harness<App>) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        h.step();
        if seen(h) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen; the window: {:?}",
            h.state().model()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn type_into(h: &mut Harness<'static, App>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    h.step();
    h.step();
    h.get_by_label(label).type_text(text);
    h.step();
    h.step();
}

#[test]
fn the_window_connects_refuses_a_wrong_pin_once_and_follows_the_card() {
    let _lock = serial();
    if !require_stack("gui_window") {
        return;
    }
    let card = start_person_high_card();
    let world = GatewayWorld::new();
    let _gateway = world.start_gateway();
    let (mut h, listen) = app_harness(&world, Lang::Nb);

    // The card is read without a PIN: its holder, and the tries left.
    wait_until(&mut h, "the card ready", |h| {
        h.query_by_label("Kortet er klart").is_some()
    });
    let holder = h.state().model().ready_card().unwrap().holder.clone();
    h.get_by_label(&holder);
    h.get_by_label("PIN-forsøk igjen: 3");

    // A wrong PIN: one try spent, said with the tries left, and not tried again.
    type_into(&mut h, "PIN-kode", "999999");
    type_into(&mut h, "Passord", PASSWORD);
    h.get_by_label("Koble til").click();
    wait_until(&mut h, "the wrong PIN refused", |h| {
        h.state().model().failure.is_some() && !h.state().connection_running()
    });
    assert_eq!(
        h.state().model().failure.as_ref().unwrap().kind,
        "wrong-pin"
    );
    assert!(h.state().model().pin.is_empty() && h.state().model().password.is_empty());
    wait_until(&mut h, "the tries left read again", |h| {
        h.query_by_label("PIN-forsøk igjen: 2").is_some()
    });
    assert!(
        card.ctl("status").unwrap().contains("pin_tries=2"),
        "one try, once"
    );

    // The right PIN: the tunnel is up and carries bytes; the PIN field holds nothing.
    type_into(&mut h, "PIN-kode", PIN);
    type_into(&mut h, "Passord", PASSWORD);
    h.get_by_label("Koble til").click();
    wait_until(&mut h, "the tunnel up", |h| {
        matches!(h.state().model().phase, Phase::Connected(_))
    });
    h.get_by_label("Tilkoblet: Kontor-PC");
    h.get_by_label("Start fjernskrivebord");
    assert!(
        h.state().model().pin.is_empty(),
        "the PIN was wiped when taken"
    );
    let (_, echoed) = round_trip(listen, "gjennom vinduet");
    assert_eq!(echoed, "gjennom vinduet\n");
    assert!(card.ctl("status").unwrap().contains("pin_tries=3"));

    // The card pulled: back to "insert your card", the tunnel closed.
    card.ctl("remove").unwrap();
    wait_until(&mut h, "insert your card", |h| {
        h.query_by_label("Sett inn kortet").is_some()
    });
    wait_until(&mut h, "the connection ended", |h| {
        !h.state().connection_running() && h.state().model().phase == Phase::Idle
    });
    assert!(
        std::net::TcpStream::connect(listen).is_err(),
        "the listener closed"
    );
}

#[test]
fn a_posture_deny_is_shown_with_what_to_do_in_english() {
    let _lock = serial();
    if !require_stack("gui_window") {
        return;
    }
    let _card = start_person_high_card();
    // No test machine runs Windows 11: the rule fails, and `deny` refuses the login.
    let world = GatewayWorld::with_rules(
        "[posture]\n\n[[posture.rule]]\ncheck = \"supported-os\"\naction = \"deny\"\n\
         os = [{ family = \"windows\", min_version = \"10.0.22631\" }]\n",
    );
    let _gateway = world.start_gateway();
    let (mut h, _) = first_run_harness(&world, Lang::En);

    // First run: no gateway yet; the profile from IT is imported in the window.
    h.get_by_label_contains("No connection profile yet");
    assert!(!h.state().model().can_connect());
    let profile = write_profile(&world);
    type_into(&mut h, "Profile file", profile.to_str().unwrap());
    h.get_by_label("Import").click();
    wait_until(&mut h, "the profile imported", |h| {
        h.state().model().configured
    });
    h.step();
    h.get_by_label("Hjemmekontor Testkommune");
    h.get_by_label_contains("Imported “Hjemmekontor Testkommune”");

    // Before any PIN: the gateway's verdict on this computer, with what to do.
    wait_until(&mut h, "the computer judged", |h| {
        matches!(h.state().model().machine, MachineCheck::Judged(_))
    });
    h.step();
    h.get_by_label_contains("would REFUSE this computer");
    h.get_by_label_contains("Upgrade the computer");

    wait_until(&mut h, "the card ready", |h| {
        h.query_by_label("Card ready").is_some()
    });
    type_into(&mut h, "PIN", PIN);
    type_into(&mut h, "Password", PASSWORD);
    h.get_by_label("Connect").click();
    wait_until(&mut h, "the login refused", |h| {
        h.state().model().failure.is_some() && !h.state().connection_running()
    });
    let failure = h.state().model().failure.clone().unwrap();
    assert_eq!(failure.kind, "posture-refused", "{failure:?}");
    // The sentence and the rule's remediation are on screen, as the command line says them.
    let first_line = failure.message.lines().next().unwrap().to_string();
    h.get_by_label_contains(&first_line);
    // Both in the refusal and, still, in the summary of the computer above it.
    for said in [
        "is not among the operating systems the service supports",
        "Upgrade the computer",
    ] {
        assert_eq!(h.query_all_by_label_contains(said).count(), 2, "{said}");
    }
}
