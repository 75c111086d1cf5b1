//! Host posture at the real gateway server (in-process, TLS, the virtual card in-process):
//! a `deny` rule refuses the login naming each failed rule in bokmål and English, a `warn`
//! rule lets it in with the warning, each with its `posture-failed` record; a re-check that
//! fails ends the session; the published policy judges a computer as the login does. The
//! report of the computer the tests run on comes from its real probes.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use hjemmekontor::client::posture::{
    fetch_policy, recheck, LocalProbes, Recheck, ReportSource as _,
};
use hjemmekontor::client::session::SessionError;
use hjemmekontor::posture::policy::evaluate;
use hjemmekontor::posture::report::{Fact, Firewall, Report};
use hjemmekontor::tunnel::protocol::{GatewayEndReason, RejectCode};
use support::inproc::{office_grant, users, InProcessGateway, PASSWORD};

/// An office PC answering on 127.0.0.1, for grants that must point somewhere.
fn office() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || hjemmekontor::vcard::office_pc::serve(listener));
    addr
}

/// A gateway whose policy is the firewall rule with `action`.
async fn gateway(action: &str) -> InProcessGateway {
    let rest = format!(
        "{}\n{}\n[posture]\nrecheck_minutes = 60\n\n[[posture.rule]]\ncheck = \"firewall\"\naction = \"{action}\"\n",
        users(),
        office_grant(office())
    );
    InProcessGateway::start(&rest).await
}

/// This computer's own report, from its real probes (off the async threads).
async fn this_computer() -> Report {
    tokio::task::spawn_blocking(|| LocalProbes.report())
        .await
        .unwrap()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A report whose firewall is on, everything else unknown.
fn with_firewall() -> Report {
    let mut report = Report::unknown(now(), "not probed in this test");
    report.firewall = Fact::known(vec![Firewall {
        name: "nftables".into(),
        enabled: true,
    }]);
    report
}

/// A report without any firewall filtering.
fn without_firewall() -> Report {
    let mut report = Report::unknown(now(), "not probed in this test");
    report.firewall = Fact::known(vec![Firewall {
        name: "nftables".into(),
        enabled: false,
    }]);
    report
}

fn firewall_filters(report: &Report) -> bool {
    report
        .firewall
        .value()
        .is_some_and(|list| list.iter().any(|f| f.enabled))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deny_rule_refuses_this_computer_in_norwegian_and_records_what_it_saw() {
    let gw = gateway("deny").await;
    let report = this_computer().await;
    // The machines this runs on have no firewall filtering incoming traffic.
    assert!(!firewall_filters(&report), "{:?}", report.firewall);
    let refused = gw
        .login_reporting("person-high", "ase", PASSWORD, &report)
        .await;
    let Err(SessionError::Rejected(r)) = refused else {
        panic!("expected a posture refusal, got {:?}", refused.map(|_| ()));
    };
    assert_eq!(r.code, RejectCode::PostureRefused);
    assert!(r.message.contains("sikkerhetskravene"), "{}", r.message);
    assert_eq!(r.failed_rules.len(), 1);
    let rule = &r.failed_rules[0];
    assert_eq!(rule.rule, "firewall");
    assert!(
        rule.nb.contains("Brannmuren") || rule.nb.contains("brannmuren"),
        "{}",
        rule.nb
    );
    assert!(rule.en.contains("firewall"), "{}", rule.en);

    let failed = gw.wait_for("posture-failed").await;
    assert_eq!(failed["outcome"], "login-refused");
    assert_eq!(failed["user"], "ase");
    let seen = failed["failed"][0].as_str().unwrap();
    assert!(seen.starts_with("firewall (deny): "), "{seen}");
    // Only what the rule looked at: nothing of the other facts.
    assert!(
        !seen.contains("antivirus") && !seen.contains("screen"),
        "{seen}"
    );
    let login = gw.wait_for("login-refused").await;
    assert_eq!(login["reason"], "posture-refused");
    assert_eq!(login["detail"], "failed: firewall");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warn_rule_lets_this_computer_in_with_the_warning() {
    let gw = gateway("warn").await;
    let report = this_computer().await;
    let tunnel = gw
        .login_reporting("person-high", "ase", PASSWORD, &report)
        .await
        .expect("a warn rule lets the login in");
    let warnings = &tunnel.accepted.posture_warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].rule, "firewall");
    assert_eq!(tunnel.accepted.posture_recheck_secs, 3_600);
    let failed = gw.wait_for("posture-failed").await;
    assert_eq!(failed["outcome"], "login-warned");
    assert_eq!(
        failed["session_id"].as_str(),
        Some(tunnel.accepted.session_id.as_str())
    );
    assert!(failed["failed"][0]
        .as_str()
        .unwrap()
        .starts_with("firewall (warn): "));
    gw.wait_for("login-accepted").await;
    hjemmekontor::client::session::close(
        &tunnel,
        hjemmekontor::tunnel::protocol::ClientEndReason::ClientClosed,
    )
    .await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_recheck_ends_the_session_with_the_rules_and_a_record() {
    let gw = gateway("deny").await;
    let mut tunnel = gw
        .login_reporting("person-high", "ase", PASSWORD, &with_firewall())
        .await
        .expect("a computer with a firewall is let in");
    assert!(tunnel.accepted.posture_warnings.is_empty());

    // Still fine: the session goes on.
    let answer = recheck(&tunnel.mux, &with_firewall()).await.unwrap();
    assert_eq!(answer, Recheck::Passed(vec![]));

    // The firewall was turned off: the gateway ends the session and says why.
    let answer = recheck(&tunnel.mux, &without_firewall()).await.unwrap();
    let Recheck::Ended(ending) = answer else {
        panic!("expected the session to end, got {answer:?}");
    };
    assert_eq!(ending.reason, GatewayEndReason::PostureRefused);
    assert!(
        ending.message.contains("sikkerhetskravene"),
        "{}",
        ending.message
    );
    assert_eq!(ending.failed_rules[0].rule, "firewall");
    let closed = tokio::time::timeout(Duration::from_secs(30), &mut tunnel.driver).await;
    assert!(closed.is_ok(), "the gateway kept the connection open");

    let failed = gw.wait_for("posture-failed").await;
    assert_eq!(failed["outcome"], "session-ended");
    assert_eq!(
        failed["session_id"].as_str(),
        Some(tunnel.accepted.session_id.as_str())
    );
    let ended = gw.wait_for("session-ended").await;
    assert_eq!(ended["reason"], "posture-refused");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_published_policy_judges_a_computer_as_the_login_does() {
    let gw = gateway("deny").await;
    let published = fetch_policy(&gw.target()).await.unwrap();
    assert_eq!(published.recheck_secs, 3_600);
    assert_eq!(published.policy.rules.len(), 1);
    assert!(!evaluate(&published.policy, &without_firewall(), now()).admitted());
    assert!(evaluate(&published.policy, &with_firewall(), now()).admitted());
    // Asking for the policy is not a login: nothing is recorded.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(gw.attempts().is_empty(), "{:?}", gw.attempts());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_of_this_computer_is_coherent() {
    let report = this_computer().await;
    assert!(report.within_bounds(), "{report:?}");
    let os = report
        .os
        .value()
        .expect("the operating system is always known");
    assert_eq!(os.family, std::env::consts::OS);
    let json = serde_json::to_value(&report).unwrap();
    for fact in [
        "os",
        "firewall",
        "antivirus",
        "updates",
        "disk_encryption",
        "screen_lock",
    ] {
        let state = json[fact]["state"].as_str().unwrap();
        if state == "unknown" {
            let reason = json[fact]["reason"].as_str().unwrap();
            assert!(reason.len() > 10, "{fact}: «{reason}»");
            assert!(
                !reason.contains("no probe for this fact"),
                "{fact}: {reason}"
            );
        }
    }
}
