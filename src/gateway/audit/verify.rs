//! Checking a whole log, and reading records out of it. Pure over a reader: no paths, no
//! clock.
//!
//! A log is sound when every line is a complete record ([`AuditRecord::from_line`]), the
//! first has `seq` 1 and `prev` [`GENESIS`], and each next one has the next `seq` and, as
//! `prev`, the hash of the line before. An edited line fails its own hash; a removed line
//! leaves a gap in `seq`; a moved line breaks the order; a line cut short by a crash has no
//! newline. Cutting whole lines off the *end* leaves a sound, shorter log: compare the
//! reported count and last hash with a copy kept elsewhere to catch that.

use std::fmt;
use std::io::{self, BufRead};

use time::OffsetDateTime;

use super::record::{AuditRecord, EventKind, RecordError, GENESIS, MAX_LINE_LEN};

/// What is wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The line is longer than any record we write.
    #[error("the line is longer than {max} bytes")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// The line is not UTF-8 text.
    #[error("the line is not UTF-8 text")]
    NotUtf8,
    /// The line is not JSON, or not a record of our format.
    #[error("not a valid audit record: {detail}")]
    Unparsable {
        /// What the parser said.
        detail: String,
    },
    /// The record's hash does not match its content: it was changed after it was written.
    #[error("edited: the hash does not match the content")]
    Edited,
    /// The record has a later `seq` than expected: records before it are missing.
    #[error("records {expected}..{} are missing (removed or moved)", found - 1)]
    Missing {
        /// The `seq` this line should have.
        expected: u64,
        /// The `seq` it has.
        found: u64,
    },
    /// The record has an earlier `seq` than expected: lines were moved or repeated.
    #[error("record {found} comes where {expected} should (moved or repeated)")]
    OutOfOrder {
        /// The `seq` this line should have.
        expected: u64,
        /// The `seq` it has.
        found: u64,
    },
    /// The `seq` is right but `prev` is not the hash of the line before.
    #[error("prev does not match the hash of the record before")]
    WrongPrev,
    /// The last line has no newline: it was cut short, by a crash or by hand.
    #[error("the last line is torn (no newline at its end)")]
    Torn,
}

impl Problem {
    /// Stable machine-readable name, for `--json`.
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::TooLong { .. } => "too-long",
            Problem::NotUtf8 => "not-utf8",
            Problem::Unparsable { .. } => "unparsable",
            Problem::Edited => "edited",
            Problem::Missing { .. } => "missing",
            Problem::OutOfOrder { .. } => "out-of-order",
            Problem::WrongPrev => "wrong-prev",
            Problem::Torn => "torn",
        }
    }
}

impl From<RecordError> for Problem {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::HashMismatch => Problem::Edited,
            RecordError::TooLarge { .. } => Problem::TooLong { max: MAX_LINE_LEN },
            RecordError::Unparsable(detail) => Problem::Unparsable { detail },
        }
    }
}

/// Why a log did not pass.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A line is bad; everything before it was sound.
    #[error("line {line}: {problem}")]
    Broken {
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        problem: Problem,
        /// Byte offset where the line starts; the file up to here is sound.
        offset: u64,
        /// Sound records before it.
        sound_before: u64,
    },
    /// The log could not be read.
    #[error("could not read the log: {0}")]
    Io(#[from] io::Error),
}

/// A sound log, summed up.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// Records in the log.
    pub records: u64,
    /// `seq` of the last record (0 for an empty log).
    pub last_seq: u64,
    /// `hash` of the last record ([`GENESIS`] for an empty log); note it down elsewhere to
    /// detect later truncation.
    pub last_hash: String,
}

/// Reads the whole log and checks every line and the chain between them.
pub fn verify<R: BufRead>(reader: R) -> Result<VerifyReport, VerifyError> {
    let mut records = Records::new(reader);
    for rec in records.by_ref() {
        rec?;
    }
    Ok(VerifyReport {
        records: records.chain.count,
        last_seq: records.chain.next_seq - 1,
        last_hash: records.chain.prev.clone(),
    })
}

/// Which records `query` yields. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only events about this user.
    pub user: Option<String>,
    /// Only records at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only records before this time.
    pub until: Option<OffsetDateTime>,
    /// Only these kinds (all kinds when empty).
    pub kinds: Vec<EventKind>,
}

impl Filter {
    /// Whether `rec` is one the filter asks for.
    pub fn matches(&self, rec: &AuditRecord) -> bool {
        if let Some(user) = &self.user {
            if rec.event.user() != Some(user.as_str()) {
                return false;
            }
        }
        if self.since.is_some_and(|since| rec.time < since) {
            return false;
        }
        if self.until.is_some_and(|until| rec.time >= until) {
            return false;
        }
        self.kinds.is_empty() || self.kinds.contains(&rec.event.kind())
    }
}

/// Yields the records that match `filter`, checking the chain as it reads: a bad line ends
/// the iteration with one `Err`, so nothing after a break is shown as if it were sound.
pub fn query<R: BufRead>(reader: R, filter: Filter) -> Query<R> {
    Query {
        records: Records::new(reader),
        filter,
    }
}

/// Iterator returned by [`query`].
pub struct Query<R> {
    records: Records<R>,
    filter: Filter,
}

impl<R: BufRead> Iterator for Query<R> {
    type Item = Result<AuditRecord, VerifyError>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.records.next()? {
                Ok(rec) if !self.filter.matches(&rec) => continue,
                other => return Some(other),
            }
        }
    }
}

impl<R> fmt::Debug for Query<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("line", &self.records.line)
            .field("filter", &self.filter)
            .finish()
    }
}

/// The chain as far as read: what the next record must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chain {
    pub(crate) next_seq: u64,
    pub(crate) prev: String,
    pub(crate) count: u64,
}

impl Chain {
    pub(crate) fn new() -> Chain {
        Chain {
            next_seq: 1,
            prev: GENESIS.to_string(),
            count: 0,
        }
    }

    /// Checks that `rec` comes next, and moves on past it.
    pub(crate) fn advance(&mut self, rec: &AuditRecord) -> Result<(), Problem> {
        if rec.seq > self.next_seq {
            return Err(Problem::Missing {
                expected: self.next_seq,
                found: rec.seq,
            });
        }
        if rec.seq < self.next_seq {
            return Err(Problem::OutOfOrder {
                expected: self.next_seq,
                found: rec.seq,
            });
        }
        if rec.prev != self.prev {
            return Err(Problem::WrongPrev);
        }
        self.next_seq = rec.seq.saturating_add(1);
        self.prev.clone_from(&rec.hash);
        self.count += 1;
        Ok(())
    }
}

/// Every sound record in order, then `None`; or an `Err` at the first bad line, then `None`.
struct Records<R> {
    reader: R,
    buf: Vec<u8>,
    line: u64,
    line_start: u64,
    next_start: u64,
    chain: Chain,
    done: bool,
}

impl<R: BufRead> Records<R> {
    fn new(reader: R) -> Self {
        Records {
            reader,
            buf: Vec::with_capacity(1024),
            line: 0,
            line_start: 0,
            next_start: 0,
            chain: Chain::new(),
            done: false,
        }
    }

    fn broken(&mut self, problem: Problem) -> Option<Result<AuditRecord, VerifyError>> {
        self.done = true;
        Some(Err(VerifyError::Broken {
            line: self.line,
            problem,
            offset: self.line_start,
            sound_before: self.chain.count,
        }))
    }
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = Result<AuditRecord, VerifyError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let end = match read_line_bounded(&mut self.reader, &mut self.buf, MAX_LINE_LEN) {
            Ok(end) => end,
            Err(e) => {
                self.done = true;
                return Some(Err(e.into()));
            }
        };
        self.line += 1;
        self.line_start = self.next_start;
        self.next_start += self.buf.len() as u64;
        match end {
            LineEnd::Eof => {
                self.done = true;
                return None;
            }
            LineEnd::TooLong => return self.broken(Problem::TooLong { max: MAX_LINE_LEN }),
            LineEnd::Torn => return self.broken(Problem::Torn),
            LineEnd::Newline => {}
        }
        let Ok(text) = std::str::from_utf8(&self.buf) else {
            return self.broken(Problem::NotUtf8);
        };
        let rec = match AuditRecord::from_line(text) {
            Ok(rec) => rec,
            Err(e) => return self.broken(e.into()),
        };
        if let Err(problem) = self.chain.advance(&rec) {
            return self.broken(problem);
        }
        Some(Ok(rec))
    }
}

/// How a bounded line read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineEnd {
    /// `buf` holds a line with its `\n`.
    Newline,
    /// `buf` holds the last bytes of the input, which have no `\n`.
    Torn,
    /// The line is longer than the limit; `buf` holds only part of it.
    TooLong,
    /// Nothing more to read.
    Eof,
}

/// Reads one line into `buf` (cleared first), holding at most `max` bytes, newline
/// included, so a file with no newlines cannot make us buffer without bound.
pub(crate) fn read_line_bounded<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<LineEnd> {
    buf.clear();
    loop {
        let available = match reader.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(if buf.is_empty() {
                LineEnd::Eof
            } else {
                LineEnd::Torn
            });
        }
        let (take, found) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if buf.len() + take > max {
            let room = max - buf.len();
            buf.extend_from_slice(&available[..room]);
            reader.consume(room);
            return Ok(LineEnd::TooLong);
        }
        buf.extend_from_slice(&available[..take]);
        reader.consume(take);
        if found {
            return Ok(LineEnd::Newline);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::audit::record::{AuditEvent, RefusalReason};
    use std::io::Cursor;
    use time::macros::datetime;

    fn event(i: u64) -> AuditEvent {
        AuditEvent::LoginRefused {
            reason: RefusalReason::WrongPassword,
            user: Some(if i.is_multiple_of(2) { "ola" } else { "kari" }.into()),
            personal_id: None,
            source: "192.0.2.1:1000".parse().unwrap(),
            detail: None,
        }
    }

    fn log(n: u64) -> Vec<String> {
        let mut prev = GENESIS.to_string();
        let mut lines = Vec::new();
        for i in 1..=n {
            let t = datetime!(2025-05-25 12:00 UTC) + time::Duration::minutes(i as i64);
            let rec = AuditRecord::seal(i, t, event(i), &prev).unwrap();
            prev.clone_from(&rec.hash);
            lines.push(rec.to_line().unwrap());
        }
        lines
    }

    fn check(lines: &[String]) -> Result<VerifyReport, VerifyError> {
        verify(Cursor::new(lines.concat()))
    }

    fn broken_at(r: Result<VerifyReport, VerifyError>) -> (u64, Problem) {
        match r {
            Err(VerifyError::Broken { line, problem, .. }) => (line, problem),
            other => panic!("expected a broken log, got {other:?}"),
        }
    }

    #[test]
    fn sound_logs_pass() {
        let empty = check(&[]).unwrap();
        assert_eq!(empty.records, 0);
        assert_eq!(empty.last_hash, GENESIS);
        let lines = log(5);
        let report = check(&lines).unwrap();
        assert_eq!(report.records, 5);
        assert_eq!(report.last_seq, 5);
        let last = AuditRecord::from_line(&lines[4]).unwrap();
        assert_eq!(report.last_hash, last.hash);
    }

    #[test]
    fn each_kind_of_damage_is_named_at_its_line() {
        let lines = log(5);

        let mut edited = lines.clone();
        edited[2] = edited[2].replace("kari", "karl");
        assert_eq!(broken_at(check(&edited)), (3, Problem::Edited));

        let mut removed = lines.clone();
        removed.remove(1);
        assert_eq!(
            broken_at(check(&removed)),
            (
                2,
                Problem::Missing {
                    expected: 2,
                    found: 3
                }
            )
        );

        let mut first_removed = lines.clone();
        first_removed.remove(0);
        assert_eq!(broken_at(check(&first_removed)).0, 1);

        let mut swapped = lines.clone();
        swapped.swap(1, 2);
        assert_eq!(broken_at(check(&swapped)).0, 2);

        let mut repeated = lines.clone();
        repeated.insert(2, lines[1].clone());
        assert_eq!(
            broken_at(check(&repeated)),
            (
                3,
                Problem::OutOfOrder {
                    expected: 3,
                    found: 2
                }
            )
        );

        let mut torn = lines.clone();
        let last = torn[4].len();
        torn[4].truncate(last - 10);
        assert_eq!(broken_at(check(&torn)), (5, Problem::Torn));

        let mut no_newline = lines.clone();
        no_newline[4].pop();
        assert_eq!(broken_at(check(&no_newline)), (5, Problem::Torn));

        let mut garbage = lines.clone();
        garbage[0] = "hello\n".into();
        assert_eq!(broken_at(check(&garbage)).1.kind(), "unparsable");

        let mut blank = lines.clone();
        blank.insert(3, "\n".into());
        assert_eq!(broken_at(check(&blank)).0, 4);
    }

    #[test]
    fn a_chain_from_elsewhere_is_caught_by_prev() {
        // Same seq numbers, but line 2 belongs to another log.
        let a = log(3);
        let mut prev = "ab".repeat(32);
        let mut other = Vec::new();
        for i in 1..=3 {
            let rec =
                AuditRecord::seal(i, datetime!(2025-01-01 0:00 UTC), event(i), &prev).unwrap();
            prev.clone_from(&rec.hash);
            other.push(rec.to_line().unwrap());
        }
        let mixed = vec![a[0].clone(), other[1].clone(), a[2].clone()];
        assert_eq!(broken_at(check(&mixed)), (2, Problem::WrongPrev));
    }

    #[test]
    fn huge_and_binary_lines_are_refused_without_buffering_them() {
        let mut lines = log(2);
        lines.push("x".repeat(10 * MAX_LINE_LEN));
        assert_eq!(
            broken_at(check(&lines)),
            (3, Problem::TooLong { max: MAX_LINE_LEN })
        );
        let bytes = [b"\xff\xfe\n".as_slice()].concat();
        let (line, problem) = broken_at(verify(Cursor::new(bytes)));
        assert_eq!((line, problem), (1, Problem::NotUtf8));
    }

    #[test]
    fn bounded_reader_edges() {
        let mut buf = Vec::new();
        let mut r = io::BufReader::with_capacity(3, Cursor::new(b"abcd\nef\n\ngh".to_vec()));
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 5).unwrap(),
            LineEnd::Newline
        );
        assert_eq!(buf, b"abcd\n");
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 5).unwrap(),
            LineEnd::Newline
        );
        assert_eq!(buf, b"ef\n");
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 5).unwrap(),
            LineEnd::Newline
        );
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 5).unwrap(),
            LineEnd::Torn
        );
        assert_eq!(buf, b"gh");
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 5).unwrap(),
            LineEnd::Eof
        );
        let mut r = Cursor::new(b"abcdef\n".to_vec());
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 5).unwrap(),
            LineEnd::TooLong
        );
    }

    #[test]
    fn query_filters_and_stops_at_a_break() {
        let lines = log(6);
        let all = |f: Filter| -> Vec<u64> {
            query(Cursor::new(lines.concat()), f)
                .map(|r| r.unwrap().seq)
                .collect()
        };
        assert_eq!(all(Filter::default()), [1, 2, 3, 4, 5, 6]);
        assert_eq!(
            all(Filter {
                user: Some("ola".into()),
                ..Filter::default()
            }),
            [2, 4, 6]
        );
        assert_eq!(
            all(Filter {
                since: Some(datetime!(2025-05-25 12:02 UTC)),
                until: Some(datetime!(2025-05-25 12:05 UTC)),
                ..Filter::default()
            }),
            [2, 3, 4]
        );
        assert!(all(Filter {
            kinds: vec![EventKind::LoginAccepted],
            ..Filter::default()
        })
        .is_empty());

        let mut edited = lines.clone();
        edited[3] = edited[3].replace("ola", "olb");
        let got: Vec<_> = query(Cursor::new(edited.concat()), Filter::default()).collect();
        assert_eq!(got.len(), 4);
        assert!(got[..3].iter().all(Result::is_ok));
        assert!(matches!(
            got[3],
            Err(VerifyError::Broken {
                line: 4,
                problem: Problem::Edited,
                sound_before: 3,
                ..
            })
        ));
    }
}
