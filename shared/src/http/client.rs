//! The client's address, for the sign-in throttle and its log: API
//! Gateway's source IP in Lambda, the socket's peer locally. A header the
//! client can write (`X-Forwarded-For`) is read only behind a proxy the
//! operator named in `TRUSTED_PROXIES`, and then only as far back as the
//! hops that proxy and its trusted peers appended.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::AppState;

/// The source IP API Gateway saw, put in the request by `lambda::adapt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceIp(pub IpAddr);

/// Where the request came from; `None` when neither Lambda nor the socket
/// said (a test calling the router directly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts, &state.http.trusted_proxies))
    }
}

impl ClientAddress {
    /// The address of the request `parts` belong to.
    pub fn of(parts: &Parts, trusted_proxies: &[IpNet]) -> Self {
        let peer = parts.extensions.get::<SourceIp>().map(|s| s.0).or_else(|| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        });
        Self(peer.map(|peer| through_proxies(peer, &parts.headers, trusted_proxies)))
    }
}

/// Walks `X-Forwarded-For` from its right end while each hop is trusted:
/// every entry was appended by the hop after it, so the first untrusted one
/// is the client. Anything left of it is the client's own claim, read
/// entry by entry, so that bytes the client put there cannot spoil the
/// entries the proxies appended. An entry that is not an address stops the
/// walk at the hop that added it.
fn through_proxies(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    let mut client = peer;
    if !is_trusted(&client) {
        return client;
    }
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        for entry in value.as_bytes().rsplit(|b| *b == b',') {
            let Some(ip) = forwarded_address(entry) else {
                return client;
            };
            client = ip;
            if !is_trusted(&client) {
                return client;
            }
        }
    }
    client
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn forwarded_address(entry: &[u8]) -> Option<IpAddr> {
    let entry = std::str::from_utf8(entry).ok()?.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            // A bracketed IPv6 address without a port.
            let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
            inner.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
        })
}

/// `TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges.
pub fn parse_trusted_proxies(value: &str) -> Result<Vec<IpNet>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{s:?} is not an IP address or CIDR range"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let h = headers(&["198.51.100.1"]);
        assert_eq!(
            through_proxies(ip("203.0.113.7"), &h, &[]),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = parse_trusted_proxies("10.0.0.0/8").unwrap();
        let h = headers(&["198.51.100.1"]);
        assert_eq!(
            through_proxies(ip("203.0.113.7"), &h, &trusted),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn behind_trusted_hops_the_first_untrusted_entry_from_the_right_is_the_client() {
        let trusted = parse_trusted_proxies("10.0.0.0/8, 192.0.2.5").unwrap();
        // The client forged the first entry; the proxies appended the rest.
        let h = headers(&["1.2.3.4, 203.0.113.7", "192.0.2.5"]);
        assert_eq!(
            through_proxies(ip("10.1.2.3"), &h, &trusted),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn garbage_stops_the_walk_at_the_hop_that_added_it() {
        let trusted = parse_trusted_proxies("10.0.0.0/8").unwrap();
        let h = headers(&["203.0.113.7, not-an-address"]);
        assert_eq!(
            through_proxies(ip("10.1.2.3"), &h, &trusted),
            ip("10.1.2.3")
        );
        let none = headers(&[]);
        assert_eq!(
            through_proxies(ip("10.1.2.3"), &none, &trusted),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn bytes_the_client_wrote_do_not_spoil_what_the_proxies_appended() {
        let trusted = parse_trusted_proxies("10.0.0.0/8").unwrap();
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff\xfe, 203.0.113.7").unwrap(),
        );
        assert_eq!(
            through_proxies(ip("10.1.2.3"), &h, &trusted),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn forwarded_entries_may_carry_ports() {
        let trusted = parse_trusted_proxies("10.0.0.0/8").unwrap();
        for (entry, client) in [
            ("203.0.113.7:4711", "203.0.113.7"),
            ("[2001:db8::7]:443", "2001:db8::7"),
            ("[2001:db8::7]", "2001:db8::7"),
            ("2001:db8::7", "2001:db8::7"),
        ] {
            let h = headers(&[entry]);
            assert_eq!(
                through_proxies(ip("10.1.2.3"), &h, &trusted),
                ip(client),
                "{entry}"
            );
        }
    }

    #[test]
    fn trusted_proxies_parse_or_say_what_is_wrong() {
        assert_eq!(parse_trusted_proxies("").unwrap(), vec![]);
        assert_eq!(
            parse_trusted_proxies("10.0.0.0/8,::1").unwrap(),
            vec![
                "10.0.0.0/8".parse::<IpNet>().unwrap(),
                "::1/128".parse::<IpNet>().unwrap()
            ]
        );
        assert!(parse_trusted_proxies("10.0.0.0/33").is_err());
        assert!(parse_trusted_proxies("proxy.internal").is_err());
    }
}
