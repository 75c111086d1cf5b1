//! The window as the connection flow's front end: the flow (`client::flow::connect`) runs on a
//! thread of its own and reports to the window; its questions are answered from what was
//! typed before Connect was pressed, each taken once. A question only a person can answer
//! (the card forgot its PIN, several certificates) waits for the window, never for a
//! stored answer: the flow never retries a PIN, and neither does the window.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cli::failure::{exit, Failure};
use crate::client::flow::{self, CertificateOption, ConnectPlan, FlowEvent, FlowUi, PinRequest};
use crate::client::settings::ClientSettings;
use crate::i18n::catalogue as m;
use crate::secret::{Password, Pin};

use super::card_watch::Sink;
use super::model::{Question, Update};

/// What the window answers to a question.
#[derive(Debug)]
pub enum Answer {
    /// The PIN, typed again.
    Pin(Pin),
    /// The certificate picked (an index into the options).
    Certificate(usize),
    /// The person would rather not: the connection ends.
    Cancel,
}

/// A connection running on its own thread.
pub struct Connection {
    stop: CancellationToken,
    answers: Sender<Answer>,
    front: Arc<Front>,
    thread: Option<JoinHandle<()>>,
}

impl Connection {
    /// Starts the flow with the PIN (`None`: typed on the reader or by the middleware) and
    /// the password taken from the window; they are handed to the flow once and dropped.
    pub fn start(
        plan: ConnectPlan,
        remembered: ClientSettings,
        pin: Option<Pin>,
        password: Password,
        sink: Sink,
    ) -> std::io::Result<Self> {
        let (answers, questions) = mpsc::channel();
        let stop = CancellationToken::new();
        let front = Arc::new(Front {
            sink: Arc::clone(&sink),
            pin: Mutex::new(pin),
            password: Mutex::new(Some(password)),
            answers: Mutex::new(questions),
            stop: stop.clone(),
        });
        let (theirs, their_stop) = (Arc::clone(&front), stop.clone());
        let lang = crate::i18n::current();
        let thread = std::thread::Builder::new()
            .name("connection".into())
            .spawn(move || {
                crate::i18n::with_lang(lang, || {
                    let ui: Arc<dyn FlowUi> = theirs;
                    let outcome = flow::connect(&plan, &remembered, ui, their_stop);
                    sink(Update::Ended(outcome));
                });
            })?;
        Ok(Connection {
            stop,
            answers,
            front,
            thread: Some(thread),
        })
    }

    /// Answers the question the flow waits on.
    pub fn answer(&self, answer: Answer) {
        let _ = self.answers.send(answer);
    }

    /// Closes the session (the flow tells the gateway why) and ends the flow.
    pub fn disconnect(&self) {
        self.stop.cancel();
    }

    /// The flow as a front end, for starting the remote-desktop program.
    pub fn front(&self) -> Arc<dyn FlowUi> {
        Arc::clone(&self.front) as Arc<dyn FlowUi>
    }

    /// The flow's thread has ended.
    pub fn finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.stop.cancel();
        let _ = self.answers.send(Answer::Cancel);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The flow's front end on the connection thread.
struct Front {
    sink: Sink,
    pin: Mutex<Option<Pin>>,
    password: Mutex<Option<Password>>,
    answers: Mutex<Receiver<Answer>>,
    stop: CancellationToken,
}

/// The person cancelled a question (or closed the window).
pub fn cancelled() -> Failure {
    Failure::new("cancelled", exit::OTHER, m::gui::CANCELLED.text())
}

impl Front {
    /// Asks the window and waits for the answer (or a stop).
    fn ask(&self, question: Question) -> Answer {
        (self.sink)(Update::Asked(question));
        let answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if self.stop.is_cancelled() {
                return Answer::Cancel;
            }
            match answers.recv_timeout(Duration::from_millis(200)) {
                Ok(answer) => return answer,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Answer::Cancel,
            }
        }
    }
}

impl FlowUi for Front {
    fn event(&self, event: &FlowEvent) {
        (self.sink)(Update::Flow(event.clone()));
    }

    fn pin(&self, request: PinRequest) -> Result<Pin, Failure> {
        if !request.again {
            // Taken once: the window's PIN is never handed to the card twice.
            let typed = self.pin.lock().unwrap_or_else(|p| p.into_inner()).take();
            return typed.ok_or_else(cancelled);
        }
        match self.ask(Question::PinAgain(request.state)) {
            Answer::Pin(pin) => Ok(pin),
            _ => Err(cancelled()),
        }
    }

    fn username(&self) -> Result<String, Failure> {
        // The window always names the user in the plan.
        Err(Failure::new(
            "no-username",
            exit::USAGE,
            m::USERNAME_MISSING.text(),
        ))
    }

    fn password(&self, _username: &str) -> Result<Password, Failure> {
        let typed = self
            .password
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        typed.ok_or_else(cancelled)
    }

    fn choose_certificate(&self, options: &[CertificateOption]) -> Result<Option<usize>, Failure> {
        match self.ask(Question::Certificate(options.to_vec())) {
            Answer::Certificate(i) if i < options.len() => Ok(Some(i)),
            _ => Err(cancelled()),
        }
    }

    fn interactive(&self) -> bool {
        true
    }
}
