//! Outgoing HTTP: the one place scimlink's requests to other servers (an
//! OpenID provider's discovery document, keys and token endpoint; webhooks
//! later) are made. It refuses to connect to private, link-local (cloud
//! metadata), unspecified, multicast and reserved addresses, so a URL an
//! admin or a provider gives cannot make scimlink reach into its own network
//! (server-side request forgery). The check applies to the address actually
//! connected to: names are resolved here and every resolved address is
//! checked (a name that resolves to a public address once and to
//! 169.254.169.254 the next time is caught), and an address written in the
//! URL is checked before the request is built. Loopback stays allowed (a
//! provider on this machine, in development and tests);
//! `SCIMLINK_OUTBOUND_ALLOW_PRIVATE` allows the private ranges for a provider
//! on an internal network. Redirects are not followed and proxies from the
//! environment are not used (the check would see the proxy, not the target).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::settings::OutboundSettings;

/// The whole request, connecting included.
const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What an address is, for an outgoing request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// A global address: allowed.
    Public,
    /// This machine: allowed.
    Loopback,
    /// An internal network (the range named): allowed only with
    /// `SCIMLINK_OUTBOUND_ALLOW_PRIVATE`.
    Private(&'static str),
    /// Never a server to call (the range named): link-local (where cloud
    /// metadata services answer), unspecified, multicast, reserved.
    Never(&'static str),
}

/// Classifies an address. IPv6 forms that carry an IPv4 address (mapped,
/// NAT64, 6to4) are classified by the IPv4 address they reach.
pub fn classify(ip: IpAddr) -> Reach {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Reach {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        // RFC 1122 §3.2.1.3: "this network"; Linux connects 0.0.0.0 to itself.
        (0, _, _) => Reach::Never("unspecified, 0.0.0.0/8"),
        (127, _, _) => Reach::Loopback,
        (10, _, _) => Reach::Private("private, 10.0.0.0/8"),
        (172, 16..=31, _) => Reach::Private("private, 172.16.0.0/12"),
        (192, 168, _) => Reach::Private("private, 192.168.0.0/16"),
        // RFC 6598: carrier-grade NAT, also used inside clouds.
        (100, 64..=127, _) => Reach::Private("shared, 100.64.0.0/10"),
        // RFC 3927; 169.254.169.254 is the cloud metadata service.
        (169, 254, _) => Reach::Never("link-local, 169.254.0.0/16, cloud metadata"),
        // RFC 6890: IETF protocol assignments.
        (192, 0, 0) => Reach::Never("reserved, 192.0.0.0/24"),
        // RFC 5737: documentation.
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Reach::Never("documentation"),
        // RFC 2544: benchmarking.
        (198, 18..=19, _) => Reach::Never("benchmarking, 198.18.0.0/15"),
        (224..=239, _, _) => Reach::Never("multicast, 224.0.0.0/4"),
        // RFC 1112 §4 and the limited broadcast 255.255.255.255.
        (240..=255, _, _) => Reach::Never("reserved, 240.0.0.0/4"),
        _ => Reach::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Reach {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if ip.is_unspecified() {
        return Reach::Never("unspecified, ::");
    }
    if ip.is_loopback() {
        return Reach::Loopback;
    }
    match s {
        // RFC 4291 §2.5.5.2: IPv4-mapped, the IPv4 address itself.
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => classify_v4(embedded(hi, lo)),
        // RFC 4291 §2.5.5.1: IPv4-compatible, deprecated.
        [0, 0, 0, 0, 0, 0, _, _] => Reach::Never("IPv4-compatible, ::/96, deprecated"),
        // RFC 6052: NAT64 reaches the embedded IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => classify_v4(embedded(hi, lo)),
        // RFC 8215: local-use NAT64.
        [0x64, 0xff9b, 1, ..] => Reach::Private("local NAT64, 64:ff9b:1::/48"),
        // RFC 6666: discard.
        [0x100, 0, 0, 0, ..] => Reach::Never("discard, 100::/64"),
        // RFC 3849: documentation.
        [0x2001, 0xdb8, ..] => Reach::Never("documentation, 2001:db8::/32"),
        // RFC 3056: 6to4 reaches the embedded IPv4 address through a relay.
        [0x2002, hi, lo, ..] => match classify_v4(embedded(hi, lo)) {
            Reach::Public => Reach::Public,
            _ => Reach::Never("6to4 of a non-public IPv4 address, 2002::/16"),
        },
        // RFC 4193: unique local (AWS's metadata service answers at fd00:ec2::254).
        [first, ..] if first & 0xfe00 == 0xfc00 => Reach::Private("unique local, fc00::/7"),
        // RFC 4291 §2.5.6: link-local.
        [first, ..] if first & 0xffc0 == 0xfe80 => Reach::Never("link-local, fe80::/10"),
        // RFC 3879: site-local, deprecated, still internal where used.
        [first, ..] if first & 0xffc0 == 0xfec0 => Reach::Private("site-local, fec0::/10"),
        [first, ..] if first & 0xff00 == 0xff00 => Reach::Never("multicast, ff00::/8"),
        _ => Reach::Public,
    }
}

/// An address scimlink does not connect to, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The name that resolved to `address`; `None`: written in the URL.
    pub host: Option<String>,
    pub address: IpAddr,
    pub range: &'static str,
    /// Whether `SCIMLINK_OUTBOUND_ALLOW_PRIVATE` would allow it.
    pub allowable: bool,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.host {
            Some(host) => write!(f, "{host} resolves to {}", self.address)?,
            None => write!(f, "{}", self.address)?,
        }
        write!(
            f,
            " ({}): scimlink does not connect to such an address",
            self.range
        )?;
        if self.allowable {
            write!(
                f,
                " unless SCIMLINK_OUTBOUND_ALLOW_PRIVATE (--outbound-allow-private) is set"
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Refused {}

/// Whether an outgoing request may connect to `address` (`host` resolved to
/// it, for the message).
pub fn check_address(
    settings: &OutboundSettings,
    host: Option<&str>,
    address: IpAddr,
) -> Result<(), Refused> {
    let refused = |range, allowable| Refused {
        host: host.map(str::to_string),
        address,
        range,
        allowable,
    };
    match classify(address) {
        Reach::Public | Reach::Loopback => Ok(()),
        Reach::Private(_) if settings.allow_private => Ok(()),
        Reach::Private(range) => Err(refused(range, true)),
        Reach::Never(range) => Err(refused(range, false)),
    }
}

/// Whether a URL's host, when it is an address, may be connected to. A name
/// is checked when it is resolved, on each connection.
pub fn check_url(settings: &OutboundSettings, url: &url::Url) -> Result<(), Refused> {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => check_address(settings, None, IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => check_address(settings, None, IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) | None => Ok(()),
    }
}

/// Resolves names and refuses the whole name when any of its addresses is
/// refused: a name that mixes public and internal addresses is not a
/// provider to trust with a client secret, and refusing says so clearly.
struct GuardedResolver {
    settings: Arc<OutboundSettings>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let settings = self.settings.clone();
        let host = name.as_str().to_ascii_lowercase();
        Box::pin(async move {
            let addresses = resolve(&settings, &host).await?;
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The checked addresses of `host` (port 0: the connector sets the URL's).
async fn resolve(
    settings: &OutboundSettings,
    host: &str,
) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
    let addresses: Vec<SocketAddr> = match settings.resolve.get(host) {
        Some(fixed) => fixed.iter().map(|ip| SocketAddr::new(*ip, 0)).collect(),
        None => tokio::net::lookup_host((host, 0)).await?.collect(),
    };
    if addresses.is_empty() {
        return Err(format!("{host} resolves to no address").into());
    }
    for address in &addresses {
        check_address(settings, Some(host), address.ip())?;
    }
    Ok(addresses)
}

/// The client for outgoing requests, built once (in `AppState`) from the
/// settings; cheap to clone. Requests start with `get` or `post`, which
/// check an address written in the URL; the client itself is not reachable,
/// so no request bypasses the check.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    settings: Arc<OutboundSettings>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Outbound {
    pub fn new(settings: &OutboundSettings) -> Result<Outbound, String> {
        let settings = Arc::new(settings.clone());
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            // A server called answers directly; a redirect is refused.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve and connect on scimlink's behalf, past
            // the address check.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                settings: settings.clone(),
            }))
            .build()
            .map_err(|e| format!("cannot build the HTTP client for outgoing requests: {e}"))?;
        Ok(Outbound { client, settings })
    }

    pub fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, String> {
        self.request(reqwest::Method::GET, url)
    }

    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, String> {
        self.request(reqwest::Method::POST, url)
    }

    fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        self.check_url(&parsed)
            .map_err(|e| format!("cannot reach {url}: {e}"))?;
        Ok(self.client.request(method, parsed))
    }

    /// `check_url` with this client's settings: an admin's URL is refused
    /// when it is saved, not only when it is used.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refused> {
        check_url(&self.settings, url)
    }
}

/// A failed request, said plainly: the refusal when the address check
/// refused the connection, otherwise reqwest's own words and their cause.
pub fn describe(error: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut last = None;
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return refused.to_string();
        }
        last = Some(e);
        source = e.source();
    }
    match last.map(ToString::to_string) {
        Some(cause) if cause != error.to_string() => format!("{error}: {cause}"),
        _ => error.to_string(),
    }
}

/// Fixed answers for names, for tests: `resolve` is looked up before DNS.
pub fn fixed_answers(pairs: &[(&str, IpAddr)]) -> HashMap<String, Vec<IpAddr>> {
    let mut map: HashMap<String, Vec<IpAddr>> = HashMap::new();
    for (name, ip) in pairs {
        map.entry(name.to_ascii_lowercase()).or_default().push(*ip);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn addresses_are_classified() {
        #[derive(Debug, PartialEq)]
        enum Want {
            Pub,
            Lo,
            Priv,
            No,
        }
        use Want::*;
        let kind = |r: Reach| match r {
            Reach::Public => Pub,
            Reach::Loopback => Lo,
            Reach::Private(_) => Priv,
            Reach::Never(_) => No,
        };
        let cases: &[(&str, Want)] = &[
            // IPv4
            ("8.8.8.8", Pub),
            ("1.1.1.1", Pub),
            ("172.15.255.255", Pub),
            ("172.32.0.1", Pub),
            ("100.63.255.255", Pub),
            ("100.128.0.1", Pub),
            ("192.169.0.1", Pub),
            ("127.0.0.1", Lo),
            ("127.255.0.9", Lo),
            ("10.0.0.1", Priv),
            ("10.255.255.255", Priv),
            ("172.16.0.1", Priv),
            ("172.31.255.254", Priv),
            ("192.168.1.1", Priv),
            ("100.64.0.1", Priv),
            ("100.100.100.200", Priv),
            ("169.254.169.254", No),
            ("169.254.0.1", No),
            ("0.0.0.0", No),
            ("0.1.2.3", No),
            ("192.0.0.192", No),
            ("192.0.2.1", No),
            ("198.18.0.1", No),
            ("224.0.0.1", No),
            ("239.255.255.250", No),
            ("240.0.0.1", No),
            ("255.255.255.255", No),
            // IPv6
            ("2606:4700:4700::1111", Pub),
            ("::1", Lo),
            ("::", No),
            ("fc00::1", Priv),
            ("fd00:ec2::254", Priv),
            ("fe80::1", No),
            ("febf::1", No),
            ("fec0::1", Priv),
            ("ff02::1", No),
            ("2001:db8::1", No),
            ("100::1", No),
            // IPv4-mapped: the IPv4 address decides.
            ("::ffff:8.8.8.8", Pub),
            ("::ffff:127.0.0.1", Lo),
            ("::ffff:10.0.0.1", Priv),
            ("::ffff:a9fe:a9fe", No),
            ("::ffff:0.0.0.0", No),
            ("::ffff:192.168.0.1", Priv),
            // IPv4-compatible (deprecated), NAT64, 6to4.
            ("::10.0.0.1", No),
            ("::8.8.8.8", No),
            ("64:ff9b::8.8.8.8", Pub),
            ("64:ff9b::169.254.169.254", No),
            ("64:ff9b::10.0.0.1", Priv),
            ("64:ff9b:1::1", Priv),
            ("2002:0808:0808::1", Pub),
            ("2002:a9fe:a9fe::1", No),
            ("2002:0a00:0001::1", No),
        ];
        for (text, expected) in cases {
            let reach = classify(ip(text));
            assert_eq!(&kind(reach), expected, "{text}: {reach:?}");
        }
    }

    #[test]
    fn the_setting_allows_private_ranges_but_never_metadata_or_multicast() {
        let strict = OutboundSettings::default();
        let open = OutboundSettings {
            allow_private: true,
            ..Default::default()
        };
        for allowed in ["8.8.8.8", "127.0.0.1", "::1"] {
            assert!(
                check_address(&strict, None, ip(allowed)).is_ok(),
                "{allowed}"
            );
        }
        for private in [
            "10.0.0.5",
            "172.20.1.1",
            "192.168.0.10",
            "fd12::1",
            "::ffff:10.1.2.3",
        ] {
            let refused = check_address(&strict, Some("idp.corp"), ip(private)).unwrap_err();
            assert!(refused.allowable, "{private}");
            let said = refused.to_string();
            assert!(said.contains(private) || said.contains("::ffff:"), "{said}");
            assert!(said.contains("SCIMLINK_OUTBOUND_ALLOW_PRIVATE"), "{said}");
            assert!(check_address(&open, None, ip(private)).is_ok(), "{private}");
        }
        for never in [
            "169.254.169.254",
            "0.0.0.0",
            "::",
            "fe80::1",
            "224.0.0.1",
            "ff02::1",
        ] {
            for settings in [&strict, &open] {
                let refused = check_address(settings, None, ip(never)).unwrap_err();
                assert!(!refused.allowable, "{never}");
                assert!(
                    !refused
                        .to_string()
                        .contains("SCIMLINK_OUTBOUND_ALLOW_PRIVATE")
                );
            }
        }
    }

    #[test]
    fn addresses_written_in_a_url_are_checked_in_every_spelling() {
        let strict = OutboundSettings::default();
        let check = |u: &str| check_url(&strict, &url::Url::parse(u).unwrap());
        for refused in [
            "https://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            // Decimal, hexadecimal and short forms parse to the same address.
            "http://2852039166/",
            "http://0xa9.0xfe.0xa9.0xfe/",
            "http://10.1/",
            "https://[::ffff:10.0.0.1]/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://[fd00:ec2::254]/",
            "https://[::]/",
            "http://0.0.0.0:8080/",
        ] {
            assert!(check(refused).is_err(), "{refused}");
        }
        for allowed in [
            "https://idp.example.com/",
            "http://127.0.0.1:4000/",
            "http://[::1]:4000/",
            "https://8.8.8.8/",
        ] {
            assert!(check(allowed).is_ok(), "{allowed}");
        }
    }

    #[tokio::test]
    async fn resolved_names_are_checked_and_fixed_answers_come_first() {
        let fixed = fixed_answers(&[
            ("idp.internal.test", ip("10.0.0.1")),
            ("mixed.test", ip("127.0.0.1")),
            ("mixed.test", ip("169.254.169.254")),
            ("local.test", ip("127.0.0.1")),
        ]);
        let strict = OutboundSettings {
            allow_private: false,
            resolve: fixed.clone(),
        };
        let open = OutboundSettings {
            allow_private: true,
            resolve: fixed,
        };
        let refused = resolve(&strict, "idp.internal.test").await.unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("idp.internal.test resolves to 10.0.0.1"),
            "{refused}"
        );
        assert!(refused.downcast_ref::<Refused>().is_some());
        // One refused address refuses the name.
        assert!(resolve(&strict, "mixed.test").await.is_err());
        assert!(resolve(&open, "mixed.test").await.is_err());
        assert_eq!(
            resolve(&open, "idp.internal.test").await.unwrap(),
            vec![SocketAddr::new(ip("10.0.0.1"), 0)]
        );
        assert_eq!(
            resolve(&strict, "local.test").await.unwrap(),
            vec![SocketAddr::new(ip("127.0.0.1"), 0)]
        );
        // Through reqwest's resolver interface too.
        use reqwest::dns::Resolve;
        let resolver = GuardedResolver {
            settings: Arc::new(strict),
        };
        let name: reqwest::dns::Name = "IDP.internal.test".parse().unwrap();
        assert!(resolver.resolve(name).await.is_err());
    }

    #[tokio::test]
    async fn a_refusal_reaches_the_caller_through_reqwest_and_nothing_is_sent() {
        // A refused name is refused while resolving: no connection is tried.
        let outbound = Outbound::new(&OutboundSettings {
            allow_private: false,
            resolve: fixed_answers(&[("idp.internal.test", ip("10.0.0.1"))]),
        })
        .unwrap();
        let started = std::time::Instant::now();
        let error = outbound
            .get("https://idp.internal.test/.well-known/openid-configuration")
            .unwrap()
            .send()
            .await
            .unwrap_err();
        let said = describe(&error);
        assert!(
            said.contains("idp.internal.test resolves to 10.0.0.1 (private, 10.0.0.0/8)"),
            "{said}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        // An address in the URL is refused before a request exists.
        let said = outbound.get("http://169.254.169.254/").unwrap_err();
        assert!(said.contains("169.254.169.254 (link-local"), "{said}");
    }
}
