use super::*;
use crate::doctor::testutil::{policy_gateway, server_pki};
use crate::doctor::{FixedClock, Status};
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-12-01 12:00 UTC);
const BOUND: Duration = Duration::from_secs(10);

fn clock() -> Arc<dyn Clock> {
    Arc::new(FixedClock(NOW))
}

async fn gateway_for(names: &[&str]) -> (SocketAddr, CertificateDer<'static>) {
    policy_gateway(
        names,
        datetime!(2026-01-01 00:00 UTC),
        datetime!(2027-06-01 00:00 UTC),
        Some(NOW.unix_timestamp()),
    )
    .await
}

#[tokio::test]
async fn a_certificate_for_another_name_fails_naming_both_names() {
    let (addr, ca) = gateway_for(&["annen.example"]).await;
    let outcome = probe(addr, "gw.test", &[ca], clock(), BOUND, &Trace::new()).await;
    assert_eq!(
        outcome.as_ref().unwrap_err(),
        &TlsFailure::WrongName {
            expected: "gw.test".into(),
            presented: vec!["annen.example".into()],
        }
    );
    let result = tls_check("gw.test", addr, &outcome, NOW);
    assert_eq!(result.status, Status::Fail);
    assert_eq!(
        result.summary,
        format!("Gatewayen på {addr} viser et sertifikat for «annen.example», ikke for «gw.test», som du kobler til.")
    );
    assert!(result.fix.unwrap().contains("«gw.test»"));
}

#[tokio::test]
async fn an_address_certificate_asked_for_by_name_names_the_address() {
    let (addr, ca) = gateway_for(&["127.0.0.1"]).await;
    let outcome = probe(addr, "localhost", &[ca], clock(), BOUND, &Trace::new()).await;
    let result = tls_check("localhost", addr, &outcome, NOW);
    assert_eq!(result.status, Status::Fail);
    assert!(
        result.summary.contains("«127.0.0.1», ikke for «localhost»"),
        "{}",
        result.summary
    );
}

#[tokio::test]
async fn the_right_name_passes_and_the_policy_comes_with_the_gateway_clock() {
    let (addr, ca) = gateway_for(&["gw.test", "127.0.0.1"]).await;
    let outcome = probe(addr, "gw.test", &[ca], clock(), BOUND, &Trace::new()).await;
    let seen = outcome.as_ref().unwrap();
    assert_eq!(seen.version, "TLSv1_3");
    assert_eq!(
        seen.policy.as_ref().unwrap().gateway_time,
        Some(NOW.unix_timestamp())
    );
    assert_eq!(seen.received_at, NOW);
    let result = tls_check("gw.test", addr, &outcome, NOW);
    assert_eq!(result.status, Status::Ok, "{result:?}");
    assert_eq!(result.details["certificate"]["names"][0], "gw.test");
}

#[tokio::test]
async fn the_certificate_is_judged_by_the_injected_clock() {
    let (addr, ca) = policy_gateway(
        &["gw.test"],
        datetime!(2020-01-01 00:00 UTC),
        datetime!(2021-01-01 00:00 UTC),
        None,
    )
    .await;
    let outcome = probe(addr, "gw.test", &[ca], clock(), BOUND, &Trace::new()).await;
    assert!(
        matches!(outcome, Err(TlsFailure::Expired { not_after: Some(_) })),
        "{outcome:?}"
    );
    let result = tls_check("gw.test", addr, &outcome, NOW);
    assert_eq!(result.summary, "Gatewayens sertifikat gikk ut 01.01.2021.");

    // The same certificate, by a clock inside its validity, a month before its end: a warning.
    let early: Arc<dyn Clock> = Arc::new(FixedClock(datetime!(2020-12-10 00:00 UTC)));
    let (addr, ca) = policy_gateway(
        &["gw.test"],
        datetime!(2020-01-01 00:00 UTC),
        datetime!(2021-01-01 00:00 UTC),
        None,
    )
    .await;
    let outcome = probe(addr, "gw.test", &[ca], early, BOUND, &Trace::new()).await;
    let result = tls_check("gw.test", addr, &outcome, datetime!(2020-12-10 00:00 UTC));
    assert_eq!(result.status, Status::Warning, "{result:?}");
    assert!(result.summary.contains("om 22 dager"), "{}", result.summary);
}

#[tokio::test]
async fn a_gateway_from_another_ca_is_refused() {
    let (addr, _) = gateway_for(&["gw.test"]).await;
    let (other_ca, _, _) = server_pki(
        &["gw.test"],
        datetime!(2026-01-01 00:00 UTC),
        datetime!(2027-01-01 00:00 UTC),
    );
    let outcome = probe(addr, "gw.test", &[other_ca], clock(), BOUND, &Trace::new()).await;
    assert_eq!(outcome.as_ref().unwrap_err(), &TlsFailure::UnknownIssuer);
    let result = tls_check("gw.test", addr, &outcome, NOW);
    assert!(
        result.summary.contains("--gateway-ca"),
        "{}",
        result.summary
    );
}

#[tokio::test]
async fn a_silent_server_is_cut_off_at_the_bound() {
    // Accepts the connection and never says a word. The bound is short and real: only that
    // the probe gives up is asserted, never how long it took.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move { listener.accept().await });
    let (_, ca, _) = server_pki(&["gw.test"], NOW, NOW);
    let bound = Duration::from_millis(300);
    let outcome = probe(addr, "gw.test", &[ca], clock(), bound, &Trace::new()).await;
    assert!(
        matches!(&outcome, Err(TlsFailure::TimedOut { bound: b, .. }) if *b == bound),
        "{outcome:?}"
    );
    let result = tls_check("gw.test", addr, &outcome, NOW);
    assert!(
        result.summary.contains("svarte ikke innen 300 ms"),
        "{}",
        result.summary
    );
    held.abort();
}

#[test]
fn rustls_names_lose_their_wrapping() {
    assert_eq!(bare_name("DnsName(\"gw.example\")"), "gw.example");
    assert_eq!(bare_name("IpAddress(192.0.2.7)"), "192.0.2.7");
    assert_eq!(bare_name("*.example"), "*.example");
}
