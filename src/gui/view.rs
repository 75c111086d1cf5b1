//! Drawing the window from the [`Model`], top to bottom: the card, the form or the tunnel,
//! the progress, what went wrong, and the support button. Each press becomes an [`Action`]
//! for the app to carry out; drawing itself changes nothing but what was typed.
//!
//! Every text is from the message catalogue, in the window's language, and every widget has
//! a label a screen reader says (and tests find it by).

use egui::{Color32, RichText, Ui};

use crate::card::credential::{PinEntry, PinState};
use crate::cli::cert_words::level_words;
use crate::cli::failure::Failure;
use crate::client::card_status::{CardStatus, CardSummary};
use crate::i18n::catalogue::{self as m, gui as g};

use super::model::{CardView, Focus, MachineCheck, Model, Phase, Question, Rdp, Step};
use super::secret_field::SecretField;

/// What a press asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Connect with what was typed.
    Connect,
    /// Close the tunnel.
    Disconnect,
    /// Start the remote-desktop program against the tunnel.
    StartRdp,
    /// Write the support bundle.
    SendToIt,
    /// The PIN asked again was typed.
    AnswerPin,
    /// The certificate picked.
    ChooseCertificate(usize),
    /// The question was declined.
    CancelQuestion,
    /// Import the profile file at this path.
    ImportProfile(String),
    /// Ask the gateway again what it says about this computer.
    CheckMachine,
}

/// The colour of bad news, readable on both themes.
const BAD: Color32 = Color32::from_rgb(0xC0, 0x30, 0x30);
/// The colour of a warning.
const WARN: Color32 = Color32::from_rgb(0xB0, 0x70, 0x00);
/// The colour of good news.
const GOOD: Color32 = Color32::from_rgb(0x20, 0x80, 0x40);

/// Draws the whole window; returns what was pressed.
pub fn draw(ui: &mut Ui, model: &mut Model, profile_path: &mut String) -> Vec<Action> {
    let mut actions = Vec::new();
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading(&model.service);
        ui.add_space(6.0);
        if !model.configured {
            profile(ui, profile_path, &mut actions);
            ui.separator();
        }
        card(ui, &model.card);
        ui.separator();
        if model.configured {
            machine(ui, model, &mut actions);
            ui.separator();
        }
        match &model.phase {
            Phase::Idle => form(ui, model, &mut actions),
            Phase::Connecting(step) => progress(ui, *step),
            Phase::Connected(_) | Phase::Reconnecting(_) | Phase::Closing => {
                let focus = model.focus.take_if(|f| *f == Focus::StartRdp);
                tunnel(ui, model, focus, &mut actions)
            }
        }
        question(ui, model, &mut actions);
        notes(ui, model);
        if let Some(f) = &model.failure {
            failure(ui, f);
        }
        ui.separator();
        support(ui, model, &mut actions);
    });
    actions
}

fn profile(ui: &mut Ui, path: &mut String, actions: &mut Vec<Action>) {
    ui.label(RichText::new(g::NO_PROFILE.text()).color(WARN));
    ui.label(g::DROP_PROFILE.text());
    ui.horizontal(|ui| {
        let label = ui.label(g::PROFILE_FILE.text());
        ui.text_edit_singleline(path).labelled_by(label.id);
        if ui.button(g::IMPORT.text()).clicked() && !path.trim().is_empty() {
            actions.push(Action::ImportProfile(path.trim().to_string()));
        }
    });
}

fn card(ui: &mut Ui, view: &CardView) {
    ui.label(RichText::new(g::CARD.text()).strong());
    match view {
        CardView::Starting => {
            ui.label(g::LOOKING.text());
        }
        CardView::Reading => {
            ui.label(g::READING.text());
        }
        CardView::Seen(CardStatus::NoService(f)) => failure(ui, f),
        CardView::Seen(CardStatus::NoReader) => {
            ui.label(RichText::new(g::NO_READER.text()).color(WARN));
        }
        CardView::Seen(CardStatus::NoCard) => {
            ui.label(RichText::new(g::INSERT_CARD.text()).size(18.0));
        }
        CardView::Seen(CardStatus::Ready(summary)) => ready(ui, summary),
        CardView::Seen(CardStatus::Unusable(f)) => {
            ui.label(RichText::new(g::CARD_UNUSABLE.text()).color(BAD));
            failure(ui, f);
        }
    }
}

fn ready(ui: &mut Ui, card: &CardSummary) {
    ui.label(RichText::new(g::CARD_READY.text()).color(GOOD).size(18.0));
    ui.label(RichText::new(&card.holder).strong());
    let date = card.not_after.date().to_string();
    ui.label(g::CERT_VALID.with(&[
        ("level", &level_words(card.level)),
        ("days", &card.days_left),
        ("date", &date),
    ]));
    if card.test_certificate {
        ui.label(RichText::new(g::TEST_CERTIFICATE.text()).color(WARN));
    }
    for w in &card.warnings {
        ui.label(RichText::new(w).color(WARN));
    }
    match card.pin {
        PinState::Blocked => failure(ui, &crate::cli::card_words::blocked()),
        PinState::TriesLeft(1) | PinState::FinalTry => {
            ui.label(RichText::new(g::PIN_LAST_TRY.text()).color(BAD).strong());
        }
        PinState::TriesLeft(n) => {
            ui.label(g::PIN_TRIES.with(&[("n", &n)]));
        }
        PinState::CountLow => {
            ui.label(RichText::new(g::PIN_COUNT_LOW.text()).color(WARN));
        }
        PinState::Verified | PinState::Unknown => {}
    }
}

fn form(ui: &mut Ui, model: &mut Model, actions: &mut Vec<Action>) {
    let enter = egui::Grid::new("login")
        .num_columns(2)
        .spacing([12.0, 8.0])
        .show(ui, |ui| {
            let label = ui.label(g::USERNAME.text());
            ui.text_edit_singleline(&mut model.username)
                .labelled_by(label.id);
            ui.end_row();
            let mut enter = false;
            if model.pin_typed() {
                let pin_label = g::PIN.text();
                let label = ui.label(&pin_label);
                let r = ui.add(
                    SecretField::new(&mut model.pin, &pin_label)
                        .digits_only()
                        .labelled_by(label.id),
                );
                if model.focus == Some(Focus::Pin) {
                    r.request_focus();
                    model.focus = None;
                }
                enter |= SecretField::submitted(ui, &r);
            } else {
                ui.label(g::PIN.text());
                ui.label(pin_elsewhere(model.ready_card()));
            }
            ui.end_row();
            let password_label = g::PASSWORD.text();
            let label = ui.label(&password_label);
            let r = ui
                .add(SecretField::new(&mut model.password, &password_label).labelled_by(label.id));
            enter |= SecretField::submitted(ui, &r);
            ui.end_row();
            enter
        })
        .inner;
    ui.add_space(6.0);
    let can = model.can_connect();
    let pressed = ui
        .add_enabled(
            can,
            egui::Button::new(RichText::new(g::CONNECT.text()).size(16.0)),
        )
        .clicked();
    if pressed || (enter && can) {
        actions.push(Action::Connect);
    }
}

/// Where the PIN is typed when not in the window.
fn pin_elsewhere(card: Option<&CardSummary>) -> String {
    match card.map(|c| c.pin_entry) {
        Some(PinEntry::PinPad) => m::PIN_ON_PIN_PAD.text(),
        Some(PinEntry::Middleware) => m::PIN_IN_MIDDLEWARE.text(),
        _ => String::new(),
    }
}

fn progress(ui: &mut Ui, at: Step) {
    let steps = [
        (Step::Card, g::STEP_CARD),
        (Step::Pin, g::STEP_PIN),
        (Step::Gateway, g::STEP_GATEWAY),
        (Step::Tunnel, g::STEP_TUNNEL),
    ];
    for (step, words) in steps {
        let text = words.text();
        if step < at {
            // A ticked box: drawn, not a glyph, and a screen reader says "checked".
            ui.add_enabled(false, egui::Checkbox::new(&mut true, text));
        } else if step == at {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(RichText::new(text).strong());
            });
        } else {
            ui.add_enabled(false, egui::Checkbox::new(&mut false, text));
        }
    }
}

fn tunnel(ui: &mut Ui, model: &Model, focus: Option<Focus>, actions: &mut Vec<Action>) {
    match &model.phase {
        Phase::Connected(t) => {
            let name = if t.target.name.is_empty() {
                &t.target.id
            } else {
                &t.target.name
            };
            ui.label(
                RichText::new(g::CONNECTED.with(&[("target", name)]))
                    .color(GOOD)
                    .size(18.0),
            );
            let address = crate::client::launch::connect_address(t.listen);
            ui.label(g::CONNECTED_ADDRESS.with(&[("address", &address)]));
            let running = matches!(model.rdp, Rdp::Running(_));
            let start = ui.add_enabled(!running, egui::Button::new(g::START_RDP.text()));
            if focus == Some(Focus::StartRdp) {
                start.request_focus();
            }
            if start.clicked() {
                actions.push(Action::StartRdp);
            }
        }
        Phase::Reconnecting(_) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(RichText::new(g::RECONNECTING.text()).color(WARN));
            });
        }
        _ => {
            ui.label(g::CLOSING.text());
        }
    }
    match &model.rdp {
        Rdp::Running(program) => {
            ui.label(g::RDP_RUNNING.with(&[("program", program)]));
        }
        Rdp::Said(words) => {
            ui.label(words.as_str());
        }
        Rdp::NotStarted => {}
    }
    let closing = model.phase == Phase::Closing;
    if ui
        .add_enabled(!closing, egui::Button::new(g::DISCONNECT.text()))
        .clicked()
    {
        actions.push(Action::Disconnect);
    }
}

fn question(ui: &mut Ui, model: &mut Model, actions: &mut Vec<Action>) {
    let Some(q) = model.question.clone() else {
        return;
    };
    ui.separator();
    match q {
        Question::PinAgain(_) => {
            ui.label(RichText::new(m::PIN_FORGOTTEN.text()).color(WARN));
            let pin_label = g::PIN.text();
            let r = ui.add(SecretField::new(&mut model.pin, &pin_label).digits_only());
            let enter = SecretField::submitted(ui, &r);
            ui.horizontal(|ui| {
                let ok = ui
                    .add_enabled(!model.pin.is_empty(), egui::Button::new(g::OK.text()))
                    .clicked();
                if ok || (enter && !model.pin.is_empty()) {
                    actions.push(Action::AnswerPin);
                }
                if ui.button(g::CANCEL.text()).clicked() {
                    actions.push(Action::CancelQuestion);
                }
            });
        }
        Question::Certificate(options) => {
            ui.label(g::CHOOSE_CERTIFICATE.text());
            for (i, o) in options.iter().enumerate() {
                if ui.button(format!("{} ({})", o.holder, o.label)).clicked() {
                    actions.push(Action::ChooseCertificate(i));
                }
            }
            if ui.button(g::CANCEL.text()).clicked() {
                actions.push(Action::CancelQuestion);
            }
        }
    }
}

fn notes(ui: &mut Ui, model: &Model) {
    for n in &model.notes {
        ui.label(RichText::new(n).color(WARN));
    }
    if !model.posture.is_empty() {
        ui.label(RichText::new(g::POSTURE.text()).strong());
        ui.label(crate::client::posture::notices_text(&model.posture));
    }
}

/// What the gateway's posture rules say about this computer, before any login: the command
/// line's words, each failed rule with its remediation.
fn machine(ui: &mut Ui, model: &Model, actions: &mut Vec<Action>) {
    ui.label(RichText::new(g::POSTURE.text()).strong());
    match &model.machine {
        MachineCheck::NotAsked => {}
        MachineCheck::Checking => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(crate::i18n::catalogue::posture::CHECKING.text());
            });
        }
        MachineCheck::Judged(verdict) => {
            let colour = match (verdict.admitted, verdict.warned.is_empty()) {
                (false, _) => BAD,
                (true, false) => WARN,
                (true, true) => GOOD,
            };
            ui.label(RichText::new(verdict.headline()).color(colour));
            let failed = verdict.failed_text();
            if !failed.is_empty() {
                ui.label(failed);
            }
        }
        MachineCheck::Unknown(f) => {
            ui.label(RichText::new(&f.message).weak());
        }
    }
    let checking = matches!(model.machine, MachineCheck::Checking);
    if ui
        .add_enabled(
            !checking && !model.busy(),
            egui::Button::new(g::CHECK_AGAIN.text()),
        )
        .clicked()
    {
        actions.push(Action::CheckMachine);
    }
}

/// A failure: its sentence, and its fix, the same words as the command line's.
pub fn failure(ui: &mut Ui, f: &Failure) {
    ui.label(RichText::new(&f.message).color(BAD));
    if let Some(fix) = &f.fix {
        ui.label(m::DO_THIS.with(&[("fix", fix)]));
    }
}

fn support(ui: &mut Ui, model: &Model, actions: &mut Vec<Action>) {
    ui.horizontal(|ui| {
        // The checks open the card: not while a connection holds it.
        if ui
            .add_enabled(
                !model.busy() && !model.reporting,
                egui::Button::new(g::SEND_TO_IT.text()),
            )
            .clicked()
        {
            actions.push(Action::SendToIt);
        }
    });
    if model.reporting {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(g::REPORT_WRITING.text());
        });
    }
    match &model.report {
        Some(Ok(path)) => {
            ui.label(g::REPORT_WRITTEN.with(&[("path", &path.display())]));
        }
        Some(Err(f)) => failure(ui, f),
        None => {}
    }
}
