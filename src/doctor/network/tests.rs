use super::*;
use crate::doctor::report::line;
use crate::doctor::testutil::{policy_gateway, Answers, NeverAnswers};
use crate::doctor::{FixedClock, Status};
use time::macros::datetime;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn the_split_dns_trap_is_exactly_one_feil_line_with_its_cause_and_fix() {
    let lookup = Lookup::Resolved(vec![ip("104.18.20.5")]);
    let result = dns_check("hjelp.nhn.no", &lookup, Some(ip("91.186.92.90")));
    assert_eq!(
        line(&result),
        format!(
            "FEIL      «hjelp.nhn.no» slår opp til 104.18.20.5, men skal slå opp til 91.186.92.90.\n          Gjør dette: {}",
            m::DNS_FIX.nb
        )
    );
    assert!(m::DNS_FIX.nb.contains("Helsenetts DNS"));
    let english = crate::i18n::with_lang(crate::i18n::Lang::En, || {
        line(&dns_check(
            "hjelp.nhn.no",
            &lookup,
            Some(ip("91.186.92.90")),
        ))
    });
    assert_eq!(
        english,
        format!(
            "FAILED    “hjelp.nhn.no” resolves to 104.18.20.5, but should resolve to 91.186.92.90.\n          Do this: {}",
            m::DNS_FIX.en
        )
    );
    assert_eq!(result.details["expected"], "91.186.92.90");
    assert_eq!(result.details["addresses"][0], "104.18.20.5");
}

#[test]
fn the_expected_address_passes_and_a_mix_warns() {
    let right = Lookup::Resolved(vec![ip("91.186.92.90")]);
    let ok = dns_check("hjelp.nhn.no", &right, Some(ip("91.186.92.90")));
    assert_eq!(ok.status, Status::Ok);
    assert_eq!(
        ok.summary,
        "«hjelp.nhn.no» slår opp til 91.186.92.90, som forventet."
    );
    let mixed = Lookup::Resolved(vec![ip("104.18.20.5"), ip("91.186.92.90")]);
    let warned = dns_check("hjelp.nhn.no", &mixed, Some(ip("91.186.92.90")));
    assert_eq!(warned.status, Status::Warning);
    assert_eq!(dns_check("gw", &mixed, None).status, Status::Ok);
}

#[test]
fn literals_failures_and_silence_are_judged() {
    let literal = dns_check("127.0.0.1", &Lookup::Literal(ip("127.0.0.1")), None);
    assert_eq!(literal.status, Status::Ok);
    let other = dns_check(
        "10.0.0.1",
        &Lookup::Literal(ip("10.0.0.1")),
        Some(ip("10.0.0.2")),
    );
    assert_eq!(other.status, Status::Fail);
    let failed = dns_check("nope.example", &Lookup::Failed("no such name".into()), None);
    assert_eq!(failed.status, Status::Fail);
    assert!(
        failed.summary.contains("no such name"),
        "{}",
        failed.summary
    );
    let silent = dns_check("gw", &Lookup::TimedOut(Duration::from_secs(5)), None);
    assert_eq!(
        silent.summary,
        "Navneoppslaget for «gw» fikk ikke svar innen 5 s."
    );
}

#[tokio::test(start_paused = true)]
async fn a_resolver_that_never_answers_is_cut_off_at_the_bound() {
    let trace = Trace::new();
    let lookup = resolve(
        &NeverAnswers,
        "gw.test",
        443,
        Duration::from_secs(5),
        &trace,
    )
    .await;
    assert_eq!(lookup, Lookup::TimedOut(Duration::from_secs(5)));
    assert!(trace.steps()[0].outcome.contains("no answer"));
}

#[tokio::test(start_paused = true)]
async fn a_hanging_dns_server_ends_the_network_checks_with_one_feil() {
    let plan = GatewayPlan {
        host: "gw.test".into(),
        port: 443,
        roots: Some(Vec::new()),
        expect: None,
        extra_ports: vec![8041],
    };
    let clock: Arc<dyn Clock> = Arc::new(FixedClock(datetime!(2026-12-01 12:00 UTC)));
    let outcome = check_gateway(
        &plan,
        &NeverAnswers,
        clock,
        &Bounds::default(),
        &Trace::new(),
    )
    .await;
    assert_eq!(outcome.results.len(), 1);
    let dns = &outcome.results[0];
    assert_eq!(dns.status, Status::Fail);
    assert_eq!(
        dns.summary,
        "Navneoppslaget for «gw.test» fikk ikke svar innen 5 s. Porter, TLS og klokke er ikke sjekket."
    );
    assert!(outcome.policy.is_err());
}

#[tokio::test]
async fn a_closed_port_fails_and_an_open_one_passes() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let outcome = probe_port(closed, Duration::from_secs(5), &Trace::new()).await;
    assert_eq!(outcome, PortOutcome::Refused);
    let result = port_check("127.0.0.1", closed, &outcome);
    assert_eq!(result.status, Status::Fail);
    assert_eq!(result.id, format!("port-{}", closed.port()));
    assert_eq!(
        result.summary,
        format!("Port {} på 127.0.0.1 avviser forbindelsen.", closed.port())
    );
    assert!(result.fix.is_some());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open = listener.local_addr().unwrap();
    let outcome = probe_port(open, Duration::from_secs(5), &Trace::new()).await;
    assert_eq!(outcome, PortOutcome::Open);
    let result = port_check("gw.test", open, &outcome);
    assert_eq!(
        result.summary,
        format!("Port {} på «gw.test» (127.0.0.1) svarer.", open.port())
    );
}

#[test]
fn a_port_that_swallows_packets_is_named_with_its_bound() {
    let addr: SocketAddr = "192.0.2.7:8041".parse().unwrap();
    let result = port_check("gw", addr, &PortOutcome::TimedOut(Duration::from_secs(5)));
    assert_eq!(result.status, Status::Fail);
    assert!(
        result.summary.ends_with("svarte ikke innen 5 s."),
        "{}",
        result.summary
    );
}

#[test]
fn clock_skew_warns_over_a_minute_and_fails_over_five() {
    let now = datetime!(2026-12-01 12:00 UTC);
    let at = |offset: i64| clock_check(now, Some(now.unix_timestamp() - offset));
    assert_eq!(at(0).status, Status::Ok);
    assert_eq!(at(60).status, Status::Ok);
    assert_eq!(at(-60).status, Status::Ok);
    assert_eq!(at(61).status, Status::Warning);
    assert_eq!(at(300).status, Status::Warning);
    assert_eq!(at(-300).status, Status::Warning);
    assert_eq!(at(301).status, Status::Fail);
    assert_eq!(at(-301).status, Status::Fail);
    assert_eq!(at(61).summary, "Klokken går 1 min 1 s foran gatewayens.");
    assert!(at(-7_200)
        .summary
        .starts_with("Klokken går 2 t 0 min etter gatewayens."));
    assert_eq!(at(301).details["offset_secs"], 301);
    assert_eq!(clock_check(now, None).status, Status::Ok);
}

#[tokio::test]
async fn a_healthy_gateway_passes_every_network_check() {
    let now = datetime!(2026-12-01 12:00 UTC);
    let (addr, ca) = policy_gateway(
        &["gw.test"],
        datetime!(2026-01-01 00:00 UTC),
        datetime!(2027-06-01 00:00 UTC),
        Some(now.unix_timestamp() - 90),
    )
    .await;
    let plan = GatewayPlan {
        host: "gw.test".into(),
        port: addr.port(),
        roots: Some(vec![ca]),
        expect: Some(ip("127.0.0.1")),
        extra_ports: Vec::new(),
    };
    let clock: Arc<dyn Clock> = Arc::new(FixedClock(now));
    let resolver = Answers(vec![ip("127.0.0.1")]);
    let outcome = check_gateway(&plan, &resolver, clock, &Bounds::default(), &Trace::new()).await;
    let ids: Vec<&str> = outcome.results.iter().map(|r| r.id.as_str()).collect();
    let port = format!("port-{}", addr.port());
    assert_eq!(ids, ["dns", port.as_str(), "tls", "clock"]);
    let statuses: Vec<Status> = outcome.results.iter().map(|r| r.status).collect();
    // The gateway's clock is 90 s behind the computer's: a warning, nothing failed.
    assert_eq!(
        statuses,
        [Status::Ok, Status::Ok, Status::Ok, Status::Warning],
        "{:#?}",
        outcome.results
    );
    assert!(outcome.results[2]
        .summary
        .contains("gjelder til 01.06.2027"));
    assert_eq!(
        outcome.policy.unwrap().gateway_time,
        Some(now.unix_timestamp() - 90)
    );
}

#[tokio::test]
async fn a_closed_gateway_port_leaves_tls_out() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let plan = GatewayPlan {
        host: "127.0.0.1".into(),
        port: closed.port(),
        roots: Some(Vec::new()),
        expect: None,
        extra_ports: vec![closed.port()],
    };
    let clock: Arc<dyn Clock> = Arc::new(FixedClock(datetime!(2026-12-01 12:00 UTC)));
    let outcome = check_gateway(
        &plan,
        &Answers(Vec::new()),
        clock,
        &Bounds::default(),
        &Trace::new(),
    )
    .await;
    let ids: Vec<&str> = outcome.results.iter().map(|r| r.id.as_str()).collect();
    let port = format!("port-{}", closed.port());
    assert_eq!(ids, ["dns", port.as_str()]);
    assert_eq!(outcome.results[1].status, Status::Fail);
}
