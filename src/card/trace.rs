//! A support trace of everything said to a card: one line per APDU (or per call of another
//! backend, such as a PKCS#11 function), with when it happened and how long it took.
//!
//! Meant to be sent to support when a card behaves in a way we did not foresee (see
//! `docs/cards.md`), so it must be safe to hand over: the data of VERIFY, CHANGE REFERENCE
//! DATA and RESET RETRY COUNTER (INS `20`/`21`, `24`/`25`, `2C`/`2D`, whatever the class byte,
//! chained parts included) is written as `REDACTED (n bytes)`, and [`TraceSink::call`] takes
//! only text the caller has already made safe. The file is created readable by its owner only.
//!
//! Line format (times in milliseconds; `at` counts from the start of the trace):
//!
//! ```text
//! at 12.345 ms  took 0.412 ms  apdu  > A0 20 00 82 REDACTED (8 bytes)  < 63 C3
//! at 13.002 ms  took 2.100 ms  call  C_Login user=CKU_USER pin=REDACTED  -> CKR_OK
//! ```

use std::fmt::Display;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::apdu::{hex_spaced, Command};
use super::transport::{CardTransport, Transmit, TransportError};

/// Instructions whose command data is a PIN, PUK or new reference data (ISO 7816-4, with
/// their odd-numbered BER-TLV forms). Compared with bit 0 cleared.
const SECRET_INS: [u8; 3] = [0x20, 0x24, 0x2C];

/// Where trace lines go: cheap to clone, shared between threads. Write errors never reach
/// the card operation being traced; the first one is logged and later lines are dropped.
#[derive(Clone)]
pub struct TraceSink {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    out: Box<dyn Write + Send>,
    started: Instant,
    broken: bool,
}

impl std::fmt::Debug for TraceSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TraceSink")
    }
}

impl TraceSink {
    /// Creates (or truncates) the trace file, readable and writable by its owner only.
    pub fn create(path: &Path) -> io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file: File = options.open(path)?;
        // An existing file keeps its old mode through `open`; tighten it as well.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(Self::to_writer(Box::new(file)))
    }

    /// A sink writing to any writer (for tests and for tools that collect the trace).
    pub fn to_writer(out: Box<dyn Write + Send>) -> Self {
        TraceSink {
            inner: Arc::new(Mutex::new(Inner {
                out,
                started: Instant::now(),
                broken: false,
            })),
        }
    }

    /// Records one APDU exchange. The command's secret data is redacted here.
    pub fn apdu(&self, command: &[u8], answer: &Result<Vec<u8>, TransportError>, took: Duration) {
        let answer = match answer {
            Ok(bytes) => hex_spaced(bytes),
            Err(e) => format!("error: {e}"),
        };
        self.line(
            took,
            &format!("apdu  > {}  < {answer}", redacted_command(command)),
        );
    }

    /// Records a call that is not an APDU (a PKCS#11 function, a connect, a reset).
    /// `detail` and `result` must already be free of secrets: write `pin=REDACTED`.
    pub fn call(&self, name: &str, detail: &str, result: impl Display, took: Duration) {
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" {detail}")
        };
        self.line(took, &format!("call  {name}{detail}  -> {result}"));
    }

    /// Records a free-form note (what was connected to, which ATR), without timing.
    pub fn note(&self, text: &str) {
        self.line(Duration::ZERO, &format!("note  {text}"));
    }

    fn line(&self, took: Duration, text: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.broken {
            return;
        }
        let at = inner.started.elapsed().saturating_sub(took);
        let line = format!(
            "at {:.3} ms  took {:.3} ms  {text}\n",
            at.as_secs_f64() * 1000.0,
            took.as_secs_f64() * 1000.0
        );
        let written = inner
            .out
            .write_all(line.as_bytes())
            .and_then(|_| inner.out.flush());
        if let Err(e) = written {
            inner.broken = true;
            tracing::warn!("the card trace could not be written ({e}); tracing stops");
        }
    }
}

/// A command APDU in hex, its data replaced by `REDACTED (n bytes)` when it may hold a PIN.
pub fn redacted_command(bytes: &[u8]) -> String {
    let Some(header) = bytes.get(..4) else {
        return hex_spaced(bytes);
    };
    if !SECRET_INS.contains(&(header[1] & 0xFE)) || bytes.len() == 4 {
        return hex_spaced(bytes);
    }
    let mut out = hex_spaced(header);
    match Command::parse(bytes) {
        Ok(cmd) => {
            if !cmd.data().is_empty() {
                out.push_str(&format!(" REDACTED ({} bytes)", cmd.data().len()));
            }
            if let Some(le) = cmd.le {
                out.push_str(&format!(" Le={le}"));
            }
        }
        // Lengths that do not add up: everything after the header may be secret.
        Err(_) => out.push_str(&format!(" REDACTED ({} bytes)", bytes.len() - 4)),
    }
    out
}

/// Any transport, with every exchange written to a [`TraceSink`].
pub struct TracedTransport {
    inner: Box<dyn CardTransport>,
    sink: TraceSink,
}

impl TracedTransport {
    /// Wraps `inner`; notes where the card sits and its ATR first.
    pub fn new(inner: Box<dyn CardTransport>, sink: TraceSink) -> Self {
        sink.note(&format!(
            "card in {:?}, ATR {}",
            inner.describe(),
            hex_spaced(&inner.atr())
        ));
        TracedTransport { inner, sink }
    }

    /// The sink, to record other calls in the same trace.
    pub fn sink(&self) -> &TraceSink {
        &self.sink
    }
}

struct TracedTx<'a> {
    inner: Box<dyn Transmit + 'a>,
    sink: TraceSink,
}

impl Transmit for TracedTx<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let started = Instant::now();
        let answer = self.inner.transmit(command);
        self.sink.apdu(command, &answer, started.elapsed());
        answer
    }
}

impl CardTransport for TracedTransport {
    fn transaction(&mut self) -> Result<Box<dyn Transmit + '_>, TransportError> {
        let started = Instant::now();
        match self.inner.transaction() {
            Ok(inner) => Ok(Box::new(TracedTx {
                inner,
                sink: self.sink.clone(),
            })),
            Err(e) => {
                self.sink
                    .call("transaction", "", format!("error: {e}"), started.elapsed());
                Err(e)
            }
        }
    }

    fn atr(&self) -> Vec<u8> {
        self.inner.atr()
    }

    fn supports_extended_length(&self) -> bool {
        self.inner.supports_extended_length()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn reset_when_done(&mut self) {
        self.sink.call("reset_when_done", "", "ok", Duration::ZERO);
        self.inner.reset_when_done();
    }
}

/// The transport, traced when a sink is given (`--trace FILE`), as it is otherwise.
pub fn traced(
    transport: Box<dyn CardTransport>,
    sink: Option<TraceSink>,
) -> Box<dyn CardTransport> {
    match sink {
        Some(sink) => Box::new(TracedTransport::new(transport, sink)),
        None => transport,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::replay::ReplayTransport;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn assert_no_pin(text: &str, pin: &str) {
        let ascii_hex: Vec<String> = pin.bytes().map(|b| format!("{b:02X}")).collect();
        for needle in [pin.to_string(), ascii_hex.join(" "), ascii_hex.concat()] {
            assert!(!text.contains(&needle), "{needle:?} leaked into:\n{text}");
        }
    }

    #[test]
    fn a_verify_through_a_traced_transport_never_shows_the_pin() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.txt");
        let sink = TraceSink::create(&path).unwrap();
        let replay = ReplayTransport::parse(
            &[0x3B, 0x00],
            "> 00 A4 00 00 02 3F 00\n< 90 00\n> A0 20 00 82 08 *\n< 63 C2\n",
        )
        .unwrap();
        let mut traced = TracedTransport::new(Box::new(replay), sink.clone());
        {
            let mut tx = traced.transaction().unwrap();
            tx.transmit(&[0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00])
                .unwrap();
            let verify = [
                0xA0, 0x20, 0x00, 0x82, 0x08, 0x36, 0x32, 0x39, 0x30, 0xFF, 0xFF, 0xFF, 0xFF,
            ];
            assert_eq!(tx.transmit(&verify).unwrap(), [0x63, 0xC2]);
        }
        sink.call(
            "C_Login",
            "user=CKU_USER pin=REDACTED",
            "CKR_PIN_INCORRECT",
            Duration::from_millis(3),
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert_no_pin(&text, "6290");
        assert!(text.contains("> 00 A4 00 00 02 3F 00  < 90 00"), "{text}");
        assert!(
            text.contains("> A0 20 00 82 REDACTED (8 bytes)  < 63 C2"),
            "{text}"
        );
        assert!(
            text.contains(
                "took 3.000 ms  call  C_Login user=CKU_USER pin=REDACTED  -> CKR_PIN_INCORRECT"
            ),
            "{text}"
        );
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.lines().all(|l| l.starts_with("at ")), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn secret_data_is_redacted_whatever_the_class_and_in_chained_parts() {
        let pin_block = [0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0xFF, 0xFF];
        for (cla, ins) in [
            (0x00, 0x20),
            (0x10, 0x20),
            (0xA0, 0x20),
            (0xB0, 0x20),
            (0x00, 0x21),
            (0x00, 0x24),
            (0x10, 0x24),
            (0x00, 0x2C),
            (0x80, 0x2D),
        ] {
            let mut cmd = vec![cla, ins, 0x00, 0x80, 8];
            cmd.extend_from_slice(&pin_block);
            let shown = redacted_command(&cmd);
            assert!(shown.ends_with("REDACTED (8 bytes)"), "{shown}");
            assert_no_pin(&shown, "123456");
            // Lengths that lie are redacted whole.
            cmd.push(0x31);
            cmd.push(0x32);
            let shown = redacted_command(&cmd);
            assert!(shown.ends_with("REDACTED (11 bytes)"), "{shown}");
        }
        assert_eq!(redacted_command(&[0xA0, 0x20, 0x00, 0x82]), "A0 20 00 82");
        assert_eq!(
            redacted_command(&[0x00, 0xC0, 0x00, 0x00, 0x12]),
            "00 C0 00 00 12"
        );
    }

    #[test]
    fn a_write_error_stops_tracing_without_failing_the_card() {
        struct Failing;
        impl Write for Failing {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let sink = TraceSink::to_writer(Box::new(Failing));
        let replay = ReplayTransport::parse(&[0x3B], "> 00 A4 00 00\n< 90 00\n").unwrap();
        let mut traced = TracedTransport::new(Box::new(replay), sink);
        let mut tx = traced.transaction().unwrap();
        assert_eq!(tx.transmit(&[0, 0xA4, 0, 0]).unwrap(), [0x90, 0x00]);
    }

    #[test]
    fn transport_errors_and_answers_are_both_recorded() {
        let out = Shared::default();
        let sink = TraceSink::to_writer(Box::new(out.clone()));
        let replay = ReplayTransport::parse(&[0x3B], "> 00 B0 00 00 02\n< 01 02 90 00\n").unwrap();
        let mut traced = TracedTransport::new(Box::new(replay), sink);
        {
            let mut tx = traced.transaction().unwrap();
            tx.transmit(&[0, 0xB0, 0, 0, 2]).unwrap();
            assert!(tx.transmit(&[0, 0xB0, 0, 2, 2]).is_err());
        }
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.contains("note  card in \"replayed recording\", ATR 3B"),
            "{text}"
        );
        assert!(text.contains("> 00 B0 00 00 02  < 01 02 90 00"), "{text}");
        assert!(
            text.contains("> 00 B0 00 02 02  < error: replay mismatch"),
            "{text}"
        );
    }
}
