//! The network between the computer and the gateway: does the name resolve, and to the right
//! address; do the ports answer; does the TLS handshake succeed; how far is the computer's
//! clock from the gateway's.
//!
//! The split-DNS trap is the reason for the expected address: a name published both in
//! Helsenett and on the internet (e.g. `hjelp.nhn.no`, `91.186.92.90` in Helsenett) resolves to
//! its internet address on a computer that asks an internet DNS server, and every connection
//! then goes to the wrong place. Only comparing with the address the administrator expects
//! shows it.
//!
//! [`check_gateway`] runs the checks in order (a port is only tried once the name resolved, TLS
//! once the gateway's port answered), the ports in parallel, each wait bounded.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use serde_json::json;
use time::OffsetDateTime;

use super::tls::{self, TlsOutcome};
use super::trace::Trace;
use super::{seconds, Bounds, CheckResult, Clock};
use crate::i18n::catalogue::doctor as m;
use crate::tunnel::protocol::PublishedPolicy;

/// Looks names up. The real one asks the operating system; tests answer as they like, or
/// never.
pub trait Resolver: Send + Sync {
    /// The addresses of `host` (a name, never an IP literal), as the system would connect.
    fn lookup(&self, host: &str, port: u16)
        -> impl Future<Output = io::Result<Vec<IpAddr>>> + Send;
}

/// The operating system's resolver (getaddrinfo on a blocking thread, through tokio): what
/// `connect` itself will use. It cannot be cancelled, so [`resolve`] stops waiting for it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = io::Result<Vec<IpAddr>>> + Send {
        let host = host.to_string();
        async move {
            let found = tokio::net::lookup_host((host.as_str(), port)).await?;
            Ok(found.map(|a| a.ip()).collect())
        }
    }
}

/// What a name lookup gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The gateway was given as an IP address: nothing to look up.
    Literal(IpAddr),
    /// The addresses, in the system's order (the first is tried first).
    Resolved(Vec<IpAddr>),
    /// The lookup failed (no such name, no network).
    Failed(String),
    /// No answer within the bound.
    TimedOut(Duration),
}

impl Lookup {
    /// The address a connection goes to first.
    pub fn first(&self) -> Option<IpAddr> {
        match self {
            Lookup::Literal(ip) => Some(*ip),
            Lookup::Resolved(all) => all.first().copied(),
            Lookup::Failed(_) | Lookup::TimedOut(_) => None,
        }
    }
}

/// Looks `host` up within `bound`; an IP literal is taken as it is.
pub async fn resolve<R: Resolver>(
    resolver: &R,
    host: &str,
    port: u16,
    bound: Duration,
    trace: &Trace,
) -> Lookup {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Lookup::Literal(ip);
    }
    let began = Instant::now();
    let lookup = match tokio::time::timeout(bound, resolver.lookup(host, port)).await {
        Err(_) => Lookup::TimedOut(bound),
        Ok(Err(e)) => Lookup::Failed(e.to_string()),
        Ok(Ok(found)) if found.is_empty() => Lookup::Failed("no addresses".into()),
        Ok(Ok(found)) => Lookup::Resolved(found),
    };
    let outcome = match &lookup {
        Lookup::Resolved(all) => format!("{} address(es): {}", all.len(), list(all)),
        Lookup::Failed(e) => format!("failed: {e}"),
        Lookup::TimedOut(d) => format!("no answer within {} ms", d.as_millis()),
        Lookup::Literal(_) => String::new(),
    };
    trace.record("dns", &format!("resolve {host}"), began, outcome);
    lookup
}

fn list(addresses: &[IpAddr]) -> String {
    addresses
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The name lookup, judged against the expected address when there is one.
pub fn dns_check(host: &str, lookup: &Lookup, expected: Option<IpAddr>) -> CheckResult {
    let details = json!({
        "host": host,
        "addresses": match lookup {
            Lookup::Literal(ip) => vec![ip.to_string()],
            Lookup::Resolved(all) => all.iter().map(IpAddr::to_string).collect(),
            _ => Vec::new(),
        },
        "expected": expected.map(|e| e.to_string()),
    });
    let result = match (lookup, expected) {
        (Lookup::Literal(ip), Some(e)) if *ip != e => CheckResult::fail(
            "dns",
            m::DNS_LITERAL_WRONG.with(&[("ip", ip), ("expected", &e)]),
            m::DNS_LITERAL_WRONG_FIX.text(),
        ),
        (Lookup::Literal(ip), _) => CheckResult::ok("dns", m::DNS_LITERAL.with(&[("ip", ip)])),
        (Lookup::Resolved(all), Some(e)) if !all.contains(&e) => CheckResult::fail(
            "dns",
            m::DNS_WRONG.with(&[("host", &host), ("found", &list(all)), ("expected", &e)]),
            m::DNS_FIX.text(),
        ),
        (Lookup::Resolved(all), Some(e)) if all.len() > 1 => CheckResult::warning(
            "dns",
            m::DNS_SPLIT.with(&[("host", &host), ("found", &list(all)), ("expected", &e)]),
            m::DNS_FIX.text(),
        ),
        (Lookup::Resolved(all), Some(_)) => CheckResult::ok(
            "dns",
            m::DNS_AS_EXPECTED.with(&[("host", &host), ("found", &list(all))]),
        ),
        (Lookup::Resolved(all), None) => CheckResult::ok(
            "dns",
            m::DNS_RESOLVED.with(&[("host", &host), ("found", &list(all))]),
        ),
        (Lookup::Failed(e), _) => CheckResult::fail(
            "dns",
            m::DNS_FAILED.with(&[("host", &host), ("error", e)]),
            m::DNS_FAILED_FIX.text(),
        ),
        (Lookup::TimedOut(d), _) => CheckResult::fail(
            "dns",
            m::DNS_TIMED_OUT.with(&[("host", &host), ("bound", &seconds(*d))]),
            m::DNS_TIMED_OUT_FIX.text(),
        ),
    };
    result.details(details)
}

/// What a TCP connection attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortOutcome {
    /// Connected.
    Open,
    /// Refused at once: nothing listens, or a firewall answers for it.
    Refused,
    /// No answer within the bound: packets are dropped on the way.
    TimedOut(Duration),
    /// Another failure (no route, network down).
    Failed(String),
}

/// Tries one TCP connection within `bound`, and lets go of it at once.
pub async fn probe_port(addr: SocketAddr, bound: Duration, trace: &Trace) -> PortOutcome {
    let began = Instant::now();
    let outcome = match tokio::time::timeout(bound, tokio::net::TcpStream::connect(addr)).await {
        Err(_) => PortOutcome::TimedOut(bound),
        Ok(Ok(_)) => PortOutcome::Open,
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => PortOutcome::Refused,
        Ok(Err(e)) => PortOutcome::Failed(e.to_string()),
    };
    let said = match &outcome {
        PortOutcome::Open => "open".to_string(),
        PortOutcome::Refused => "refused".to_string(),
        PortOutcome::TimedOut(d) => format!("no answer within {} ms", d.as_millis()),
        PortOutcome::Failed(e) => format!("failed: {e}"),
    };
    trace.record(
        &format!("port-{}", addr.port()),
        &format!("connect {addr}"),
        began,
        said,
    );
    outcome
}

/// One port, judged.
pub fn port_check(host: &str, addr: SocketAddr, outcome: &PortOutcome) -> CheckResult {
    let id = format!("port-{}", addr.port());
    let port = addr.port();
    // «gw.example» (192.0.2.7), or just 192.0.2.7 when that is what was given.
    let place = if host == addr.ip().to_string() {
        host.to_string()
    } else {
        format!("{} ({})", m::QUOTED.with(&[("name", &host)]), addr.ip())
    };
    let details = json!({ "host": host, "address": addr.to_string(), "outcome": match outcome {
        PortOutcome::Open => "open",
        PortOutcome::Refused => "refused",
        PortOutcome::TimedOut(_) => "timed-out",
        PortOutcome::Failed(_) => "failed",
    }});
    let result = match outcome {
        PortOutcome::Open => {
            CheckResult::ok(id, m::PORT_OPEN.with(&[("port", &port), ("place", &place)]))
        }
        PortOutcome::Refused => CheckResult::fail(
            id,
            m::PORT_REFUSED.with(&[("port", &port), ("place", &place)]),
            m::PORT_REFUSED_FIX.text(),
        ),
        PortOutcome::TimedOut(d) => CheckResult::fail(
            id,
            m::PORT_TIMED_OUT.with(&[("port", &port), ("place", &place), ("bound", &seconds(*d))]),
            m::PORT_TIMED_OUT_FIX.text(),
        ),
        PortOutcome::Failed(e) => CheckResult::fail(
            id,
            m::PORT_FAILED.with(&[("port", &port), ("place", &place), ("error", e)]),
            m::PORT_FAILED_FIX.text(),
        ),
    };
    result.details(details)
}

/// A clock more than this many seconds off gets a warning.
pub const CLOCK_WARN_SECS: i64 = 60;
/// A clock more than this many seconds off fails: certificates and CRLs are judged by time,
/// so logins may be refused.
pub const CLOCK_FAIL_SECS: i64 = 300;

/// The computer's clock (`local`, when the gateway's answer came) against the gateway's.
pub fn clock_check(local: OffsetDateTime, gateway_time: Option<i64>) -> CheckResult {
    let Some(gateway) = gateway_time else {
        return CheckResult::ok("clock", m::CLOCK_NOT_TOLD.text());
    };
    let off = local.unix_timestamp() - gateway;
    let details = json!({ "local_time": local.unix_timestamp(), "gateway_time": gateway, "offset_secs": off });
    let way = if off > 0 {
        m::CLOCK_AHEAD
    } else {
        m::CLOCK_BEHIND
    }
    .text();
    let by = span(off.unsigned_abs());
    let fix = m::CLOCK_FIX.text();
    let result = match off.abs() {
        n if n <= CLOCK_WARN_SECS => CheckResult::ok("clock", m::CLOCK_IN_STEP.with(&[("n", &n)])),
        n if n <= CLOCK_FAIL_SECS => CheckResult::warning(
            "clock",
            m::CLOCK_OFF.with(&[("by", &by), ("way", &way)]),
            fix,
        ),
        _ => CheckResult::fail(
            "clock",
            m::CLOCK_FAR_OFF.with(&[("by", &by), ("way", &way)]),
            fix,
        ),
    };
    result.details(details)
}

/// Seconds as people read them: `45 s`, `4 min 10 s`, `3 t 5 min`, `2 døgn`.
fn span(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3_600 => format!("{} min {} s", s / 60, s % 60),
        s if s < 86_400 => m::HOURS.with(&[("h", &(s / 3_600)), ("min", &(s % 3_600 / 60))]),
        s => m::DAYS.with(&[("d", &(s / 86_400))]),
    }
}

/// What the network checks are to look at.
#[derive(Debug, Clone)]
pub struct GatewayPlan {
    /// The gateway's host: a name or an IP address.
    pub host: String,
    /// The gateway's port.
    pub port: u16,
    /// Trust anchors for its certificate; `None` when the CA file cannot be used (the TLS
    /// check is then left out, and the caller says why).
    pub roots: Option<Vec<CertificateDer<'static>>>,
    /// The address the name must resolve to, when the administrator named one.
    pub expect: Option<IpAddr>,
    /// More ports on the same host that must answer.
    pub extra_ports: Vec<u16>,
}

impl GatewayPlan {
    /// The gateway's port first, then the others, each once.
    pub fn ports(&self) -> Vec<u16> {
        let mut ports = vec![self.port];
        for p in &self.extra_ports {
            if !ports.contains(p) {
                ports.push(*p);
            }
        }
        ports
    }
}

/// The network checks' results, and the gateway's published policy for the posture check.
#[derive(Debug)]
pub struct NetworkOutcome {
    /// One result per check, in order: `dns`, `port-…`, `tls`, `clock`.
    pub results: Vec<CheckResult>,
    /// The published policy, or why there is none.
    pub policy: Result<PublishedPolicy, String>,
}

/// Runs the network checks of `plan`.
pub async fn check_gateway<R: Resolver>(
    plan: &GatewayPlan,
    resolver: &R,
    clock: Arc<dyn Clock>,
    bounds: &Bounds,
    trace: &Trace,
) -> NetworkOutcome {
    let lookup = resolve(resolver, &plan.host, plan.port, bounds.dns, trace).await;
    let mut dns = dns_check(&plan.host, &lookup, plan.expect);
    let Some(ip) = lookup.first() else {
        dns.summary.push_str(m::NOT_CHECKED_AFTER_DNS.as_str());
        return NetworkOutcome {
            results: vec![dns],
            policy: Err("the gateway's name did not resolve".into()),
        };
    };
    let mut results = vec![dns];
    let ports = probe_ports(ip, &plan.ports(), bounds.connect, trace).await;
    let gateway_open = ports
        .iter()
        .any(|(p, o)| *p == plan.port && *o == PortOutcome::Open);
    for (port, outcome) in &ports {
        results.push(port_check(&plan.host, SocketAddr::new(ip, *port), outcome));
    }
    let policy = match (&plan.roots, gateway_open) {
        (Some(roots), true) => {
            let addr = SocketAddr::new(ip, plan.port);
            let outcome = tls::probe(
                addr,
                &plan.host,
                roots,
                Arc::clone(&clock),
                bounds.tls,
                trace,
            )
            .await;
            results.push(tls::tls_check(&plan.host, addr, &outcome, clock.now()));
            after_tls(outcome, &mut results)
        }
        (None, _) => Err("the gateway's CA certificate could not be used".into()),
        (_, false) => Err("the gateway's port did not answer".into()),
    };
    NetworkOutcome { results, policy }
}

/// The clock check and the policy, from a TLS outcome.
fn after_tls(
    outcome: TlsOutcome,
    results: &mut Vec<CheckResult>,
) -> Result<PublishedPolicy, String> {
    let seen = outcome.map_err(|e| e.to_string())?;
    match seen.policy {
        Ok(policy) => {
            results.push(clock_check(seen.received_at, policy.gateway_time));
            Ok(policy)
        }
        Err(e) => {
            results.push(CheckResult::warning(
                "clock",
                m::CLOCK_NO_POLICY.with(&[("error", &e)]),
                m::TRY_AGAIN_LATER.text(),
            ));
            Err(e)
        }
    }
}

/// Tries every port at once; results in the order asked.
async fn probe_ports(
    ip: IpAddr,
    ports: &[u16],
    bound: Duration,
    trace: &Trace,
) -> Vec<(u16, PortOutcome)> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, &port) in ports.iter().enumerate() {
        let trace = trace.clone();
        tasks.spawn(async move {
            let outcome = probe_port(SocketAddr::new(ip, port), bound, &trace).await;
            (i, port, outcome)
        });
    }
    let mut done: Vec<(usize, u16, PortOutcome)> = Vec::with_capacity(ports.len());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(one) => done.push(one),
            Err(e) => tracing::warn!("a port check failed unexpectedly: {e}"),
        }
    }
    done.sort_by_key(|(i, _, _)| *i);
    done.into_iter().map(|(_, p, o)| (p, o)).collect()
}

#[cfg(test)]
mod tests;
