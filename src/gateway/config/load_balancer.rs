//! `[load_balancer]` and `[health]`: running behind HAProxy (or another TCP balancer).
//!
//! A balancer in front hides the client's address; with `send-proxy-v2` it writes the real
//! one in a PROXY protocol v2 header before the client's first byte. The gateway reads that
//! header only from the addresses listed here, so nobody else can claim an address, and
//! lockout, rate limits and the audit log see the person's address and not the balancer's.
//! `[health]` is the plain-text readiness port the balancer's checks ask.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use serde::Deserialize;
use toml::de::DeValue;
use toml::Spanned;

use super::{deserialize, Errors};

/// The balancers whose connections start with a PROXY protocol v2 header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadBalancers {
    /// Addresses and networks (`10.0.0.5`, `10.0.0.0/29`); empty: no balancer, no header read.
    pub addresses: Vec<IpNet>,
}

impl LoadBalancers {
    /// Whether a connection from `peer` must start with a PROXY header. An IPv4 address seen
    /// as IPv6 (`::ffff:10.0.0.5`, on a `[::]` listener) counts as the IPv4 one.
    pub fn sends_proxy_header(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.addresses.iter().any(|net| net.contains(&peer))
    }
}

/// The readiness port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthSettings {
    /// Where `GET /ready` and `GET /live` are answered.
    pub listen: SocketAddr,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoadBalancer {
    addresses: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    listen: Spanned<String>,
}

/// `[load_balancer]`, checked.
pub(super) fn parse_load_balancer(
    errors: &mut Errors<'_>,
    value: Spanned<DeValue<'_>>,
) -> Option<LoadBalancers> {
    let raw = deserialize::<RawLoadBalancer>(errors, value)?;
    if raw.addresses.get_ref().is_empty() {
        errors.at(
            raw.addresses.span(),
            "`addresses` er tom: skriv lastbalanserernes adresser, f.eks. [\"10.0.0.5\"], \
             eller fjern seksjonen [load_balancer]",
        );
    }
    let mut addresses = Vec::new();
    for written in raw.addresses.get_ref() {
        match parse_net(written.get_ref()) {
            Some(net) if net.prefix_len() == 0 => errors.at(
                written.span(),
                format!(
                    "`{}` er hele adresserommet: da kan hvem som helst oppgi en falsk \
                     klientadresse; skriv lastbalanserernes egne adresser",
                    written.get_ref()
                ),
            ),
            Some(net) => addresses.push(net),
            None => errors.at(
                written.span(),
                format!(
                    "`{}` er ikke en IP-adresse eller et nett; skriv f.eks. \"10.0.0.5\" eller \
                     \"10.0.0.0/29\"",
                    written.get_ref()
                ),
            ),
        }
    }
    Some(LoadBalancers { addresses })
}

/// An address (`10.0.0.5`, `::1`) or a network (`10.0.0.0/29`).
fn parse_net(written: &str) -> Option<IpNet> {
    let written = written.trim();
    if let Ok(ip) = written.parse::<IpAddr>() {
        return Some(IpNet::from(ip.to_canonical()));
    }
    written.parse::<IpNet>().ok().map(|net| net.trunc())
}

/// `[health]`, checked.
pub(super) fn parse_health(
    errors: &mut Errors<'_>,
    value: Spanned<DeValue<'_>>,
) -> Option<HealthSettings> {
    let raw = deserialize::<RawHealth>(errors, value)?;
    match raw.listen.get_ref().parse::<SocketAddr>() {
        Ok(listen) if listen.port() != 0 => Some(HealthSettings { listen }),
        _ => {
            errors.at(
                raw.listen.span(),
                "`listen` i [health] må være IP-adresse:port, f.eks. \"127.0.0.1:8444\"",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse, ConfigError};
    use super::*;
    use crate::gateway::testutil::{self, base, probe};

    fn with(extra: &str) -> Result<super::super::Config, Vec<ConfigError>> {
        parse(&format!("{}\n{extra}", testutil::text()), &base(), &probe)
    }

    #[test]
    fn no_section_means_no_balancer_and_no_health_port() {
        let config = with("").unwrap();
        assert!(config.load_balancer.addresses.is_empty());
        assert!(!config
            .load_balancer
            .sends_proxy_header("127.0.0.1".parse().unwrap()));
        assert_eq!(config.health, None);
    }

    #[test]
    fn addresses_and_networks_are_matched_also_when_mapped_to_ipv6() {
        let config = with(
            "[load_balancer]\naddresses = [\"10.0.0.5\", \"192.168.7.9/29\", \"fd00::1\"]\n\
             [health]\nlisten = \"127.0.0.1:8444\"\n",
        )
        .unwrap();
        let lb = &config.load_balancer;
        for yes in [
            "10.0.0.5",
            "::ffff:10.0.0.5",
            "192.168.7.8",
            "192.168.7.15",
            "fd00::1",
        ] {
            assert!(lb.sends_proxy_header(yes.parse().unwrap()), "{yes}");
        }
        for no in ["10.0.0.6", "192.168.7.16", "fd00::2", "127.0.0.1"] {
            assert!(!lb.sends_proxy_header(no.parse().unwrap()), "{no}");
        }
        assert_eq!(
            config.health,
            Some(HealthSettings {
                listen: "127.0.0.1:8444".parse().unwrap()
            })
        );
    }

    #[test]
    fn bad_addresses_everyone_and_empty_lists_are_refused_at_their_line() {
        let errors =
            with("[load_balancer]\naddresses = [\"10.0.0.300\", \"0.0.0.0/0\", \"lb.example\"]\n")
                .unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(lines.iter().all(|&l| l == lines[0]));
        assert!(errors[0].message.contains("10.0.0.300"));
        assert!(errors[1].message.contains("hele adresserommet"));
        assert!(errors[2].message.contains("lb.example"));

        let empty = with("[load_balancer]\naddresses = []\n").unwrap_err();
        assert!(empty[0].message.contains("er tom"), "{empty:?}");

        let health = with("[health]\nlisten = \"8444\"\n").unwrap_err();
        assert!(health[0].message.contains("[health]"), "{health:?}");
        let unknown = with("[health]\nlisten = \"127.0.0.1:1\"\nport = 2\n").unwrap_err();
        assert!(unknown[0].message.contains("port"), "{unknown:?}");
    }
}
