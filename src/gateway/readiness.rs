//! What the readiness port says, as plain text over a minimal HTTP/1.0: `GET /ready` is 200
//! when every part the gateway needs to let someone in answers (the audit store, the user
//! directory), else 503 with the part that does not; `GET /live` is 200 while the process
//! answers at all. A load balancer's check (HAProxy `option httpchk GET /ready`) takes a
//! gateway out of rotation while it could only refuse logins.
//!
//! Pure: the request's first line in, the response's bytes out. The text names parts and
//! problems, never a user, a password or a key. Hand-written because three fixed answers to
//! one request line do not need an HTTP server library.

/// One part the gateway depends on, and how it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartState {
    /// Its name: `audit`, `directory`.
    pub part: &'static str,
    /// `Ok(what it is)` or `Err(what is wrong)`.
    pub state: Result<String, String>,
}

/// Every part's state at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Readiness {
    /// In a fixed order.
    pub parts: Vec<PartState>,
}

impl Readiness {
    /// Whether every part is well.
    pub fn ready(&self) -> bool {
        self.parts.iter().all(|p| p.state.is_ok())
    }

    /// `ready` or `not ready`, then a line per part.
    pub fn text(&self) -> String {
        let mut out = String::from(if self.ready() {
            "ready\n"
        } else {
            "not ready\n"
        });
        for p in &self.parts {
            match &p.state {
                Ok(what) => out.push_str(&format!("{}: ok ({what})\n", p.part)),
                Err(problem) => out.push_str(&format!("{}: FAILING: {problem}\n", p.part)),
            }
        }
        out
    }
}

/// What was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// `GET /ready` (or `/`): every part's state.
    Ready,
    /// `GET /live`: the process answers.
    Live,
    /// A path the port does not have.
    NotFound,
    /// Another method than GET or HEAD.
    WrongMethod,
    /// Not an HTTP request line.
    Bad,
}

/// Longest request head read; a check's request is well under 200 bytes.
pub const MAX_REQUEST: usize = 2048;

/// Whether `head` holds a whole request head (up to its empty line).
pub fn head_complete(head: &[u8]) -> bool {
    head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n")
}

/// What the request's first line asks.
pub fn asked(head: &[u8]) -> Asked {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let Ok(line) = std::str::from_utf8(line) else {
        return Asked::Bad;
    };
    let mut words = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Asked::Bad;
    };
    if !version.starts_with("HTTP/1.") {
        return Asked::Bad;
    }
    if method != "GET" && method != "HEAD" {
        return Asked::WrongMethod;
    }
    match target.split('?').next().unwrap_or_default() {
        "/" | "/ready" => Asked::Ready,
        "/live" => Asked::Live,
        _ => Asked::NotFound,
    }
}

/// The whole response to `asked`, given the readiness now (only read for [`Asked::Ready`]).
pub fn response(asked: Asked, readiness: impl FnOnce() -> Readiness) -> Vec<u8> {
    let (status, body) = match asked {
        Asked::Ready => {
            let r = readiness();
            let status = if r.ready() {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            (status, r.text())
        }
        Asked::Live => ("200 OK", "live\n".to_string()),
        Asked::NotFound => ("404 Not Found", "ask /ready or /live\n".to_string()),
        Asked::WrongMethod => ("405 Method Not Allowed", "only GET\n".to_string()),
        Asked::Bad => ("400 Bad Request", "not an HTTP request\n".to_string()),
    };
    format!(
        "HTTP/1.0 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(audit: Result<&str, &str>) -> Readiness {
        Readiness {
            parts: vec![
                PartState {
                    part: "audit",
                    state: audit.map(str::to_string).map_err(str::to_string),
                },
                PartState {
                    part: "directory",
                    state: Ok("configuration file, 3 users".into()),
                },
            ],
        }
    }

    #[test]
    fn ready_only_when_every_part_is() {
        let good = parts(Ok("file"));
        assert!(good.ready());
        assert_eq!(
            good.text(),
            "ready\naudit: ok (file)\ndirectory: ok (configuration file, 3 users)\n"
        );
        let bad = parts(Err("the audit log is gone from its path"));
        assert!(!bad.ready());
        assert!(bad
            .text()
            .starts_with("not ready\naudit: FAILING: the audit log is gone"));
    }

    #[test]
    fn a_head_ends_at_its_empty_line() {
        assert!(head_complete(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(head_complete(b"GET / HTTP/1.0\n\n"));
        assert!(!head_complete(b"GET / HTTP/1.0\r\nHost: x\r\n"));
    }

    #[test]
    fn request_lines() {
        assert_eq!(asked(b"GET /ready HTTP/1.0\r\n\r\n"), Asked::Ready);
        assert_eq!(asked(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"), Asked::Ready);
        assert_eq!(asked(b"GET /ready?x=1 HTTP/1.1\r\n"), Asked::Ready);
        assert_eq!(asked(b"GET /live HTTP/1.1\r\n"), Asked::Live);
        assert_eq!(asked(b"GET /etc/passwd HTTP/1.1\r\n"), Asked::NotFound);
        assert_eq!(asked(b"POST /ready HTTP/1.1\r\n"), Asked::WrongMethod);
        for bad in [
            &b""[..],
            b"\x16\x03\x01",
            b"GET /ready\r\n",
            b"GET  /ready HTTP/1.1",
            b"GET /ready SPDY/3",
        ] {
            assert_eq!(asked(bad), Asked::Bad, "{bad:?}");
        }
    }

    #[test]
    fn responses_carry_status_length_and_text() {
        let not_ready = String::from_utf8(response(Asked::Ready, || parts(Err("down")))).unwrap();
        assert!(not_ready.starts_with("HTTP/1.0 503 Service Unavailable\r\n"));
        let (head, body) = not_ready.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        assert!(body.contains("audit: FAILING: down"));
        let live = String::from_utf8(response(Asked::Live, || unreachable!())).unwrap();
        assert!(live.starts_with("HTTP/1.0 200 OK\r\n") && live.ends_with("\r\n\r\nlive\n"));
        let lost = String::from_utf8(response(Asked::NotFound, Readiness::default)).unwrap();
        assert!(lost.starts_with("HTTP/1.0 404"));
    }
}
