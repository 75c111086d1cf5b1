//! The window's shell: the model, the card watch and the connection tied together. Each frame
//! takes in what the workers reported, draws, and carries out what was pressed. The native
//! window (`src/bin/hjemmekontor-gui.rs`) and the headless tests call the same [`App::ui`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use crate::cert::AuthPolicy;
use crate::cli::card_open::CardOptions;
use crate::cli::failure::{exit, Failure};
use crate::client::card_status;
use crate::client::flow::{self, ConnectPlan, FlowEvent};
use crate::client::settings::{self, ClientSettings, DEFAULT_LISTEN};
use crate::i18n::catalogue::{self as m, gui as g};
use crate::i18n::Lang;

use super::card_watch::{CardWatch, Sink};
use super::connection::{Answer, Connection};
use super::model::{MachineCheck, Model, Phase, Update};
use super::view::{draw, Action};

/// How the window was started.
#[derive(Debug, Clone)]
pub struct Setup {
    /// How to reach the card, and the settings file (`card.settings`; `None`: the user's
    /// default one).
    pub card: CardOptions,
    /// Test environment: TEST certificates judged as production ones. Never for real users.
    pub test_environment: bool,
    /// The local address the remote-desktop program connects to (else the settings' or the
    /// default).
    pub listen: Option<SocketAddr>,
    /// The window's language.
    pub lang: Lang,
    /// Where "Send til IT" writes its bundle (`None`: the user's documents folder).
    pub report_dir: Option<PathBuf>,
}

/// The running window.
pub struct App {
    model: Model,
    setup: Setup,
    settings_path: Option<PathBuf>,
    settings: ClientSettings,
    updates: Receiver<Update>,
    sink: Sink,
    /// The context to wake when a worker reports; set at the first frame.
    waker: Arc<Mutex<Option<egui::Context>>>,
    watch: Option<CardWatch>,
    connection: Option<Connection>,
    profile_path: String,
}

impl App {
    /// Loads the settings and starts watching the card.
    pub fn new(setup: Setup) -> Result<App, Failure> {
        let settings_path = setup.card.settings_path();
        let settings = setup.card.remembered()?;
        let (tx, updates) = mpsc::channel();
        let waker: Arc<Mutex<Option<egui::Context>>> = Arc::default();
        let their_waker = Arc::clone(&waker);
        let tx = Mutex::new(tx);
        let sink: Sink = Arc::new(move |update| {
            let _ = tx.lock().unwrap_or_else(|p| p.into_inner()).send(update);
            if let Some(ctx) = &*their_waker.lock().unwrap_or_else(|p| p.into_inner()) {
                ctx.request_repaint();
            }
        });
        let service = settings
            .service_name
            .clone()
            .unwrap_or_else(|| crate::i18n::with_lang(setup.lang, || g::TITLE.text()));
        let model = Model::new(
            service,
            settings.username.clone(),
            settings.gateway.is_some(),
        );
        let mut app = App {
            model,
            setup,
            settings_path,
            settings,
            updates,
            sink,
            waker,
            watch: None,
            connection: None,
            profile_path: String::new(),
        };
        app.watch = Some(app.start_watch()?);
        app.check_machine();
        Ok(app)
    }

    fn start_watch(&self) -> Result<CardWatch, Failure> {
        let options = self.setup.card.clone();
        let remembered = self.settings.clone();
        let policy = AuthPolicy {
            test_environment: self.setup.test_environment,
            expiry_warning_days: crate::doctor::card::EXPIRY_WARNING_DAYS,
            ..AuthPolicy::default()
        };
        let read = Box::new(move || {
            card_status::read(&options, &remembered, &policy, OffsetDateTime::now_utc())
        });
        crate::i18n::with_lang(self.setup.lang, || {
            CardWatch::start(read, Arc::clone(&self.sink))
        })
        .map_err(|e| thread_failure(&e))
    }

    /// The window's state, for tests.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// One frame: reports in, drawing, presses carried out.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.waker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(|| ui.ctx().clone());
        crate::i18n::with_lang(self.setup.lang, || {
            while let Ok(update) = self.updates.try_recv() {
                self.take(update);
            }
            self.dropped_profile(ui);
            let actions = draw(ui, &mut self.model, &mut self.profile_path);
            for action in actions {
                self.act(action);
            }
        });
    }

    fn take(&mut self, update: Update) {
        // What the window is told, for `-v` and the desktop smoke test; no PIN or password is
        // ever in an update (they stay in the window's fields until the flow takes them).
        tracing::info!(target: "hjemmekontor::window", "{update:?}");
        match &update {
            Update::Flow(FlowEvent::FirstLogin {
                username,
                backend,
                module,
                ..
            }) => self.remember(username, *backend, module.clone()),
            Update::Ended(_) => {
                self.connection = None;
                if let Some(w) = &self.watch {
                    w.set_busy(false);
                    w.refresh();
                }
            }
            _ => {}
        }
        self.model.apply(update);
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Connect => self.connect(),
            Action::Disconnect => {
                if let Some(c) = &self.connection {
                    self.model.phase = Phase::Closing;
                    c.disconnect();
                }
            }
            Action::StartRdp => self.start_rdp(),
            Action::SendToIt => self.send_to_it(),
            Action::AnswerPin => {
                let pin = self.model.pin.take_pin();
                self.model.question = None;
                if let Some(c) = &self.connection {
                    match pin {
                        Ok(pin) => c.answer(Answer::Pin(pin)),
                        Err(_) => c.answer(Answer::Cancel),
                    }
                }
            }
            Action::ChooseCertificate(i) => self.answer(Answer::Certificate(i)),
            Action::CancelQuestion => self.answer(Answer::Cancel),
            Action::ImportProfile(path) => self.import_profile(PathBuf::from(path)),
            Action::CheckMachine => self.check_machine(),
        }
    }

    fn answer(&mut self, answer: Answer) {
        self.model.question = None;
        if let Some(c) = &self.connection {
            c.answer(answer);
        }
    }

    /// Starts the flow with what was typed; the PIN and password leave the window's fields
    /// (wiped) for the flow, which uses each once.
    fn connect(&mut self) {
        if !self.model.can_connect() || self.connection.is_some() {
            return;
        }
        let plan = match self.plan() {
            Ok(p) => p,
            Err(f) => {
                self.model.failure = Some(f);
                return;
            }
        };
        let pin = if self.model.pin_typed() {
            match self.model.pin.take_pin() {
                Ok(pin) => Some(pin),
                Err(e) => {
                    self.model.failure = Some(crate::cli::prompt::pin_format_failure(&e));
                    return;
                }
            }
        } else {
            self.model.pin.clear();
            None
        };
        let password = self.model.password.take_password();
        self.model.start_connecting();
        if let Some(w) = &self.watch {
            w.set_busy(true);
        }
        match Connection::start(
            plan,
            self.settings.clone(),
            pin,
            password,
            Arc::clone(&self.sink),
        ) {
            Ok(c) => self.connection = Some(c),
            Err(e) => self.take(Update::Ended(Err(thread_failure(&e)))),
        }
    }

    fn plan(&self) -> Result<ConnectPlan, Failure> {
        let gateway = self
            .settings
            .gateway
            .as_deref()
            .ok_or_else(|| Failure::new("no-gateway", exit::USAGE, g::NO_PROFILE.text()))?;
        let ca = self.settings.gateway_ca.as_deref().ok_or_else(|| {
            Failure::new("no-gateway-ca", exit::USAGE, m::NO_GATEWAY_CA.text())
                .fix(g::NO_PROFILE.text())
        })?;
        Ok(ConnectPlan {
            gateway: flow::gateway_target(gateway, ca)?,
            username: Some(self.model.username.trim().to_string()),
            target: None,
            listen: self
                .setup
                .listen
                .or(self.settings.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("the default listener parses")),
            card: self.setup.card.clone(),
            test_environment: self.setup.test_environment,
            no_reconnect: false,
            launch: false,
        })
    }

    fn start_rdp(&mut self) {
        let (Phase::Connected(t), Some(c)) = (&self.model.phase, &self.connection) else {
            return;
        };
        flow::launch_rdp(t.listen, &t.target, &c.front());
    }

    /// The username and how the card was reached, remembered after the first login.
    fn remember(
        &mut self,
        username: &str,
        backend: crate::card::credential::Backend,
        module: Option<PathBuf>,
    ) {
        self.settings.learn_login(username, backend, module);
        if let Some(p) = &self.settings_path {
            if let Err(e) = settings::save(p, &self.settings) {
                tracing::warn!("could not remember the settings: {e}");
            }
        }
    }

    fn send_to_it(&mut self) {
        if self.model.busy() || self.model.reporting {
            return;
        }
        self.model.reporting = true;
        self.model.report = None;
        let dir = self.setup.report_dir.clone().or_else(report_dir);
        let card = self.setup.card.clone();
        let test_environment = self.setup.test_environment;
        let sink = Arc::clone(&self.sink);
        let lang = self.setup.lang;
        let spawned = std::thread::Builder::new()
            .name("support-report".into())
            .spawn(move || {
                crate::i18n::with_lang(lang, || {
                    let written = super::report::write(dir, card, test_environment);
                    sink(Update::Report(written));
                })
            });
        if let Err(e) = spawned {
            self.model.apply(Update::Report(Err(thread_failure(&e))));
        }
    }

    fn import_profile(&mut self, path: PathBuf) {
        let Some(settings_path) = self.settings_path.clone() else {
            return;
        };
        match crate::cli::profile::import_file(&path, &settings_path) {
            Ok(imported) => {
                let settings = imported.settings.clone();
                self.model.service = settings
                    .service_name
                    .clone()
                    .unwrap_or_else(|| g::TITLE.text());
                self.model.configured = settings.gateway.is_some();
                self.model.failure = None;
                self.model
                    .notes
                    .push(crate::cli::profile::imported_words(&imported));
                self.settings = settings;
                self.profile_path.clear();
                self.check_machine();
            }
            Err(f) => self.model.failure = Some(f),
        }
    }

    /// Runs the posture probes and asks the gateway what its rules say about them, on a
    /// thread: no card, no PIN, as `hjemmekontor posture --gateway`.
    fn check_machine(&mut self) {
        let (Some(address), Some(ca)) = (
            self.settings.gateway.clone(),
            self.settings.gateway_ca.clone(),
        ) else {
            return;
        };
        self.model.machine = MachineCheck::Checking;
        let sink = Arc::clone(&self.sink);
        let lang = self.setup.lang;
        let spawned = std::thread::Builder::new()
            .name("machine-check".into())
            .spawn(move || {
                crate::i18n::with_lang(lang, || {
                    use crate::client::posture::ReportSource as _;
                    let report = crate::client::posture::LocalProbes.report();
                    sink(Update::Machine(crate::cli::posture::verdict_of(
                        &address, &ca, &report,
                    )));
                })
            });
        if let Err(e) = spawned {
            self.model.machine = MachineCheck::Unknown(thread_failure(&e));
        }
    }

    /// A profile file dropped on the window is imported.
    fn dropped_profile(&mut self, ui: &egui::Ui) {
        if self.model.configured {
            return;
        }
        let dropped = ui.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
        if let Some(path) = dropped {
            self.import_profile(path);
        }
    }

    /// The connection's thread has finished (for tests that wait on it).
    pub fn connection_running(&self) -> bool {
        self.connection.as_ref().is_some_and(|c| !c.finished())
    }
}

/// The user's documents folder (else home, else the temp dir) for the support bundle.
fn report_dir() -> Option<PathBuf> {
    directories::UserDirs::new().map(|d| {
        d.document_dir()
            .map_or_else(|| d.home_dir().to_path_buf(), |p| p.to_path_buf())
    })
}

fn thread_failure(e: &std::io::Error) -> Failure {
    Failure::new("thread", exit::OTHER, m::RUNTIME.with(&[("error", e)]))
}
