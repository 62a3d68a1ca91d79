//! The client's IP address, for per-IP limits and the audit trail.
//!
//! Without `TRUSTED_PROXIES` the socket peer is the client. With it, and only when the peer is one
//! of those proxies, `X-Forwarded-For` is read from the right: each proxy appends the address it
//! received the request from, so the right-most entry that is not a trusted proxy is the client,
//! and everything left of it was written by the client and proves nothing (a forged left-most entry
//! is simply never reached). CIDRs are parsed by `ipnet`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr as _;

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

/// At most this many `X-Forwarded-For` entries are examined (from the right): a chain of proxies
/// is short, and a header stuffed with thousands of entries costs no more than this.
pub const MAX_HOPS: usize = 16;

/// The deployment's own proxies (`TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Comma-separated CIDRs (`10.0.0.0/8, 2001:db8::/32`); a bare address means just that address.
    /// The error names the entry that is not one.
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let net = IpNet::from_str(entry)
                .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                .map_err(|_| format!("has an entry that is not a CIDR or an IP address: {entry:?}"))?;
            nets.push(net.trunc());
        }
        Ok(Self(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that arrived from `peer` with these headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if self.is_empty() || !self.contains(peer) {
            return peer;
        }
        // Several `X-Forwarded-For` lines are one list, in order (RFC 9110 field combination).
        let entries = headers
            .get_all("x-forwarded-for")
            .iter()
            .rev()
            .flat_map(|value| value.as_bytes().rsplit(|b| *b == b','))
            .take(MAX_HOPS);
        // The address the request came from, as far as trusted hops tell: starts at the peer and
        // moves left while the hop that reported it is one of ours.
        let mut client = peer;
        for entry in entries {
            let Some(ip) = std::str::from_utf8(entry).ok().and_then(parse_entry) else {
                // Garbage where an address should be: a trusted proxy would not write it, so the
                // last address a trusted hop vouched for stands.
                return client;
            };
            client = ip;
            if !self.contains(ip) {
                return ip;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    // A bracketed IPv6 address without a port.
    entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .and_then(|e| e.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

/// The client of a request (see [`TrustedProxies::client`]). Requests without a socket (in-process
/// tests) count as `0.0.0.0`.
pub fn client_ip(parts: &Parts, proxies: &TrustedProxies) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    proxies.client(peer, &parts.headers)
}

/// Extractor form of [`client_ip`], honouring the deployment's `TRUSTED_PROXIES`.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl axum::extract::FromRequestParts<crate::state::AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &crate::state::AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(parts, &state.config.trusted_proxies)))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                "x-forwarded-for",
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
            );
        }
        h
    }

    fn proxies(s: &str) -> TrustedProxies {
        TrustedProxies::parse(s).unwrap_or_default()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.0.1"), &headers(&["203.0.113.9"])), ip("10.0.0.1"));
    }

    #[test]
    fn a_peer_that_is_not_a_trusted_proxy_is_the_client() {
        let p = proxies("10.0.0.0/8");
        assert_eq!(
            p.client(ip("198.51.100.7"), &headers(&["203.0.113.9"])),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn the_right_most_untrusted_entry_is_the_client_and_forged_left_entries_are_ignored() {
        let p = proxies("10.0.0.0/8, 192.168.1.1");
        // client -> 192.168.1.1 (edge) -> 10.0.0.5 (inner) -> api
        let h = headers(&["6.6.6.6, 203.0.113.9, 192.168.1.1"]);
        assert_eq!(p.client(ip("10.0.0.5"), &h), ip("203.0.113.9"));
        // One proxy: the client forged two entries; the proxy appended the real one.
        let h = headers(&["1.1.1.1, 2.2.2.2, 198.51.100.4"]);
        assert_eq!(p.client(ip("10.0.0.5"), &h), ip("198.51.100.4"));
    }

    #[test]
    fn several_header_lines_are_one_list_in_order() {
        let p = proxies("10.0.0.0/8");
        let h = headers(&["6.6.6.6", "203.0.113.9, 10.1.1.1"]);
        assert_eq!(p.client(ip("10.0.0.5"), &h), ip("203.0.113.9"));
        let h = headers(&["6.6.6.6, 203.0.113.9", "10.1.1.1"]);
        assert_eq!(p.client(ip("10.0.0.5"), &h), ip("203.0.113.9"));
    }

    #[test]
    fn ipv6_and_ports_and_brackets_and_mapped_addresses_are_understood() {
        let p = proxies("2001:db8:ffff::/48, 10.0.0.0/8");
        let h = headers(&["[2001:db8:1::7]:51234, 2001:db8:ffff::1"]);
        assert_eq!(p.client(ip("2001:db8:ffff::2"), &h), ip("2001:db8:1::7"));
        let h = headers(&["203.0.113.9:4711"]);
        assert_eq!(p.client(ip("::ffff:10.0.0.5"), &h), ip("203.0.113.9"));
        let h = headers(&["[2001:db8:2::9]"]);
        assert_eq!(p.client(ip("10.0.0.5"), &h), ip("2001:db8:2::9"));
        let h = headers(&["::ffff:198.51.100.1"]);
        assert_eq!(p.client(ip("10.0.0.5"), &h), ip("198.51.100.1"));
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_address_a_trusted_hop_vouched_for() {
        let p = proxies("10.0.0.0/8");
        // The inner proxy reported 10.9.9.9 (also ours), which reported garbage.
        let h = headers(&["203.0.113.9, unknown, 10.9.9.9"]);
        assert_eq!(p.client(ip("10.0.0.5"), &h), ip("10.9.9.9"));
        for junk in ["", "   ", "not-an-ip", "1.2.3.4.5", "[::1", "_hidden", "1.2.3.4:99999"] {
            assert_eq!(p.client(ip("10.0.0.5"), &headers(&[junk])), ip("10.0.0.5"), "{junk:?}");
        }
        // No header at all: the trusted peer itself.
        assert_eq!(p.client(ip("10.0.0.5"), &HeaderMap::new()), ip("10.0.0.5"));
    }

    #[test]
    fn at_most_max_hops_entries_are_read() {
        let p = proxies("10.0.0.0/8");
        let mut chain: Vec<String> = vec!["203.0.113.9".into()];
        chain.extend((0..MAX_HOPS + 5).map(|i| format!("10.0.0.{i}")));
        let h = headers(&[&chain.join(", ")]);
        // Every examined hop is ours: the left-most examined one stands, the rest is never read.
        // Entries 10.0.0.20 down to 10.0.0.5 are examined, all ours: the left-most examined stands.
        assert_eq!(p.client(ip("10.255.0.1"), &h), ip("10.0.0.5"));
        let huge = format!("{}198.51.100.2", "1.1.1.1, ".repeat(10_000));
        assert_eq!(p.client(ip("10.255.0.1"), &headers(&[&huge])), ip("198.51.100.2"));
    }

    #[test]
    fn the_setting_parses_cidrs_and_bare_addresses_and_names_a_bad_entry() {
        let p = proxies(" 10.0.0.0/8 ,192.168.0.1, ::1, fd00::/8 ");
        assert!(p.contains(ip("10.200.0.1")));
        assert!(p.contains(ip("192.168.0.1")));
        assert!(!p.contains(ip("192.168.0.2")));
        assert!(p.contains(ip("::1")));
        assert!(p.contains(ip("fd12::1")));
        // Host bits are dropped rather than refused.
        assert!(proxies("10.1.2.3/8").contains(ip("10.9.9.9")));
        let e = TrustedProxies::parse("10.0.0.0/8, nope").err().unwrap_or_default();
        assert!(e.contains("\"nope\""), "{e}");
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("").is_ok_and(|p| p.is_empty()));
    }
}
