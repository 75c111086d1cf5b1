//! The samples of every path, the summary table with its ratios and the project's targets,
//! and the JSON written for comparing commits.

use std::collections::BTreeMap;

/// What a metric is, in the order the table shows them.
pub struct Metric {
    /// Key in the JSON and in [`Samples`].
    pub key: &'static str,
    /// Row label in the table.
    pub label: &'static str,
    /// Whether more is better (throughput) or less (CPU, time).
    pub higher_is_better: bool,
    /// The project's target: which path this row must match or beat, if any.
    pub target: Option<&'static str>,
}

const fn metric(
    key: &'static str,
    label: &'static str,
    higher_is_better: bool,
    target: Option<&'static str>,
) -> Metric {
    Metric {
        key,
        label,
        higher_is_better,
        target,
    }
}

/// Every metric, in table order.
pub const METRICS: &[Metric] = &[
    metric("up_mb_s", "bulk client→server, MB/s", true, Some("ssh -L")),
    metric(
        "down_mb_s",
        "bulk server→client, MB/s",
        true,
        Some("ssh -L"),
    ),
    metric(
        "par8_mb_s",
        "8 parallel streams, MB/s",
        true,
        Some("ssh -L"),
    ),
    metric(
        "up_cpu_s_gib",
        "CPU s/GiB, client→server",
        false,
        Some("ssh -L"),
    ),
    metric(
        "down_cpu_s_gib",
        "CPU s/GiB, server→client",
        false,
        Some("ssh -L"),
    ),
    metric(
        "par8_cpu_s_gib",
        "CPU s/GiB, 8 streams",
        false,
        Some("ssh -L"),
    ),
    metric(
        "up_kctxsw_gib",
        "context switches k/GiB, client→server",
        false,
        None,
    ),
    metric(
        "down_kctxsw_gib",
        "context switches k/GiB, server→client",
        false,
        None,
    ),
    metric(
        "par8_kctxsw_gib",
        "context switches k/GiB, 8 streams",
        false,
        None,
    ),
    metric("rtt_p50_us", "round trip 64 B, p50 µs", false, None),
    metric("rtt_p99_us", "round trip 64 B, p99 µs", false, None),
    metric(
        "added_rtt_p50_us",
        "added round trip, p50 µs",
        false,
        Some("stunnel"),
    ),
    metric(
        "added_rtt_p99_us",
        "added round trip, p99 µs",
        false,
        Some("stunnel"),
    ),
    metric("rtt_cpu_us", "CPU µs per round trip", false, None),
    metric("rtt_ctxsw", "context switches per round trip", false, None),
    metric("connect_ms", "connect, start → first echo, ms", false, None),
    metric(
        "connect_tcp_ms",
        "  TCP connect to the gateway, ms",
        false,
        None,
    ),
    metric(
        "connect_session_ms",
        "  TCP + TLS (card signature) + login, ms",
        false,
        None,
    ),
    metric(
        "connect_ready_ms",
        "  start → local port listening, ms",
        false,
        None,
    ),
];

/// The gateway's lines under the table: handshakes per second, memory per idle session.
pub fn gateway_lines(r: &crate::sessions::Report) -> String {
    let mut out = format!(
        "gateway: {:.0} TLS 1.3 handshakes/s (client certificate, no login)\n",
        r.handshakes_per_s
    );
    for m in &r.memory {
        out.push_str(&format!(
            "gateway: {} idle sessions: RSS {:.1} MiB, {:.1} KiB per session, {:.0} logins/s filling\n",
            m.sessions,
            m.rss_kib as f64 / 1024.0,
            m.per_session_kib,
            m.logins_per_s
        ));
    }
    for s in &r.skipped {
        out.push_str(&format!("gateway: not measured: {s}\n"));
    }
    out
}

/// Samples per path, per metric.
pub type Samples = BTreeMap<String, BTreeMap<String, Vec<f64>>>;

/// Median, lowest and highest of the samples.
pub fn summary(samples: &[f64]) -> Option<(f64, f64, f64)> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    };
    Some((median, sorted[0], sorted[sorted.len() - 1]))
}

/// The `q` quantile (0..1) of `values`, nearest rank.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn median_of(samples: &Samples, path: &str, key: &str) -> Option<f64> {
    summary(samples.get(path)?.get(key)?).map(|s| s.0)
}

fn cell(samples: &Samples, path: &str, key: &str) -> String {
    match samples
        .get(path)
        .and_then(|m| m.get(key))
        .and_then(|s| summary(s))
    {
        Some((median, low, high)) => format!("{} ({}–{})", num(median), num(low), num(high)),
        None => "—".into(),
    }
}

fn num(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// Whether our median meets the row's target, in words.
fn verdict(samples: &Samples, ours: &str, m: &Metric) -> String {
    let Some(other) = m.target else {
        return String::new();
    };
    match (
        median_of(samples, ours, m.key),
        median_of(samples, other, m.key),
    ) {
        (Some(a), Some(b)) => {
            let met = if m.higher_is_better { a >= b } else { a <= b };
            let rel = if m.higher_is_better { "≥" } else { "≤" };
            format!("{rel} {other}: {}", if met { "met" } else { "NOT met" })
        }
        _ => String::new(),
    }
}

/// The table: one row per metric, one column per path (median and, in brackets, lowest and
/// highest), our tunnel's ratios to ssh and stunnel, and the target.
pub fn table(samples: &Samples, paths: &[&str], ours: &str) -> String {
    let mut out = format!(
        "| metric | {} | /ssh | /stunnel | target |\n",
        paths.join(" | ")
    );
    out.push_str(&format!(
        "|---|{}---|---|---|\n",
        "---|".repeat(paths.len())
    ));
    for m in METRICS {
        let cells: Vec<String> = paths.iter().map(|p| cell(samples, p, m.key)).collect();
        if cells.iter().all(|c| c == "—") {
            continue;
        }
        let ratio = |other: &str| match (
            median_of(samples, ours, m.key),
            median_of(samples, other, m.key),
        ) {
            (Some(a), Some(b)) if b != 0.0 => format!("{:.2}", a / b),
            _ => "—".into(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            m.label,
            cells.join(" | "),
            ratio("ssh -L"),
            ratio("stunnel"),
            verdict(samples, ours, m)
        ));
    }
    out
}

/// Every sample with its summary, for a file compared between commits.
pub fn json(samples: &Samples, extra: serde_json::Value) -> serde_json::Value {
    let mut paths = serde_json::Map::new();
    for (path, metrics) in samples {
        let mut entry = serde_json::Map::new();
        for (key, values) in metrics {
            if let Some((median, low, high)) = summary(values) {
                entry.insert(
                    key.clone(),
                    serde_json::json!({"median": median, "min": low, "max": high, "samples": values}),
                );
            }
        }
        paths.insert(path.clone(), entry.into());
    }
    let mut out = extra;
    out["paths"] = paths.into();
    out
}
