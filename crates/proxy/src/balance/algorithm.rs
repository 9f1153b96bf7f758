//! The configured algorithm: its names, and building a balancer from it.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::least_conn::LeastConn;
use super::maglev::Maglev;
use super::p2c::P2c;
use super::round_robin::SmoothRoundRobin;
use super::{Balancer, HashKey};

/// A balancing algorithm, as configured.
///
/// Parsed from (and displayed as) `roundrobin`, `leastconn`, `random` (also `p2c`), or
/// `maglev` optionally followed by what to hash: `source` (the default), `path`, or
/// `hdr(<header name>)`. For example `"maglev hdr(X-Session)"`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// Smooth weighted round robin (nginx's).
    RoundRobin,
    /// Fewest in-flight requests relative to weight.
    LeastConnections,
    /// The less loaded of two servers drawn by weight; HAProxy's default since 3.3.
    #[default]
    PowerOfTwoChoices,
    /// Maglev consistent hashing of a request attribute.
    Maglev { on: HashOn },
}

/// What Maglev hashes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HashOn {
    /// The client's address (`source`).
    #[default]
    ClientAddr,
    /// The value of this request header (`hdr(<name>)`); the name is kept in lower case.
    Header(String),
    /// The request path without the query string (`path`).
    Path,
}

impl Algorithm {
    /// Makes a balancer for these servers, given as `(id, weight)`.
    ///
    /// Only Maglev reads the list (its table is built from it); build again when the
    /// configured servers or weights change, not when their health does.
    #[must_use]
    pub fn build(&self, servers: &[(usize, u32)]) -> Box<dyn Balancer> {
        match self {
            Algorithm::RoundRobin => Box::new(SmoothRoundRobin::new()),
            Algorithm::LeastConnections => Box::new(LeastConn::new()),
            Algorithm::PowerOfTwoChoices => Box::new(P2c::from_entropy()),
            Algorithm::Maglev { .. } => Box::new(Maglev::new(servers)),
        }
    }

    /// What the proxy must hash for each request, if anything.
    #[must_use]
    pub fn hash_on(&self) -> Option<&HashOn> {
        match self {
            Algorithm::Maglev { on } => Some(on),
            _ => None,
        }
    }
}

impl HashOn {
    /// The key of a request. `header` looks a header up by name (case-insensitively) and
    /// returns its value; a missing or empty header gives no key, and the balancer falls back
    /// to round robin.
    pub fn key<'a>(
        &self,
        client: IpAddr,
        path: &'a str,
        header: impl FnOnce(&str) -> Option<&'a [u8]>,
    ) -> Option<HashKey<'a>> {
        match self {
            HashOn::ClientAddr => Some(HashKey::ClientAddr(client)),
            HashOn::Path => Some(HashKey::Path(path)),
            HashOn::Header(name) => header(name)
                .filter(|value| !value.is_empty())
                .map(HashKey::Header),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Algorithm::RoundRobin => f.write_str("roundrobin"),
            Algorithm::LeastConnections => f.write_str("leastconn"),
            Algorithm::PowerOfTwoChoices => f.write_str("random"),
            Algorithm::Maglev { on } => write!(f, "maglev {on}"),
        }
    }
}

impl fmt::Display for HashOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashOn::ClientAddr => f.write_str("source"),
            HashOn::Header(name) => write!(f, "hdr({name})"),
            HashOn::Path => f.write_str("path"),
        }
    }
}

impl FromStr for Algorithm {
    type Err = ParseAlgorithmError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = |problem| ParseAlgorithmError {
            input: s.to_owned(),
            problem,
        };
        let trimmed = s.trim();
        let (name, option) = match trimmed.split_once(char::is_whitespace) {
            Some((name, option)) => (name, option.trim()),
            None => (trimmed, ""),
        };
        let plain = |algorithm| {
            if option.is_empty() {
                Ok(algorithm)
            } else {
                Err(error(Problem::UnexpectedOption(option.to_owned())))
            }
        };
        match name {
            "roundrobin" => plain(Algorithm::RoundRobin),
            "leastconn" => plain(Algorithm::LeastConnections),
            "random" | "p2c" => plain(Algorithm::PowerOfTwoChoices),
            "maglev" => {
                let on = match option {
                    "" | "source" => HashOn::ClientAddr,
                    "path" => HashOn::Path,
                    _ => match option
                        .strip_prefix("hdr(")
                        .and_then(|rest| rest.strip_suffix(')'))
                    {
                        Some(header) if is_token(header) => {
                            HashOn::Header(header.to_ascii_lowercase())
                        }
                        Some(header) => return Err(error(Problem::BadHeader(header.to_owned()))),
                        None => return Err(error(Problem::UnknownHashOn(option.to_owned()))),
                    },
                };
                Ok(Algorithm::Maglev { on })
            }
            _ => Err(error(Problem::UnknownAlgorithm(name.to_owned()))),
        }
    }
}

/// An HTTP field name is a token (RFC 9110 section 5.1).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Why a balancing algorithm's name did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseAlgorithmError {
    input: String,
    problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    UnknownAlgorithm(String),
    UnexpectedOption(String),
    UnknownHashOn(String),
    BadHeader(String),
}

impl fmt::Display for ParseAlgorithmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid balancing algorithm {:?}: ", self.input)?;
        match &self.problem {
            Problem::UnknownAlgorithm(name) => write!(
                f,
                "unknown algorithm {name:?} (expected roundrobin, leastconn, random, p2c or maglev)"
            ),
            Problem::UnexpectedOption(option) => {
                write!(f, "unexpected {option:?}: only maglev takes an option")
            }
            Problem::UnknownHashOn(option) => write!(
                f,
                "maglev cannot hash on {option:?} (expected source, path or hdr(<header name>))"
            ),
            Problem::BadHeader(name) => write!(f, "{name:?} is not a valid header name"),
        }
    }
}

impl std::error::Error for ParseAlgorithmError {}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn parse(s: &str) -> Result<Algorithm, String> {
        s.parse::<Algorithm>().map_err(|e| e.to_string())
    }

    #[test]
    fn names_parse() {
        assert_eq!(parse("roundrobin"), Ok(Algorithm::RoundRobin));
        assert_eq!(parse("leastconn"), Ok(Algorithm::LeastConnections));
        assert_eq!(parse("random"), Ok(Algorithm::PowerOfTwoChoices));
        assert_eq!(parse(" p2c "), Ok(Algorithm::PowerOfTwoChoices));
        let maglev = |on| Ok(Algorithm::Maglev { on });
        assert_eq!(parse("maglev"), maglev(HashOn::ClientAddr));
        assert_eq!(parse("maglev source"), maglev(HashOn::ClientAddr));
        assert_eq!(parse("maglev   path"), maglev(HashOn::Path));
        assert_eq!(
            parse("maglev hdr(X-Session)"),
            maglev(HashOn::Header("x-session".into()))
        );
        assert_eq!(Algorithm::default(), Algorithm::PowerOfTwoChoices);
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "roundrobin",
            "leastconn",
            "random",
            "maglev source",
            "maglev path",
            "maglev hdr(x-user)",
        ] {
            assert_eq!(parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(
            parse("wrr").unwrap_err(),
            "invalid balancing algorithm \"wrr\": unknown algorithm \"wrr\" \
             (expected roundrobin, leastconn, random, p2c or maglev)"
        );
        assert_eq!(
            parse("leastconn path").unwrap_err(),
            "invalid balancing algorithm \"leastconn path\": unexpected \"path\": \
             only maglev takes an option"
        );
        assert_eq!(
            parse("maglev uri").unwrap_err(),
            "invalid balancing algorithm \"maglev uri\": maglev cannot hash on \"uri\" \
             (expected source, path or hdr(<header name>))"
        );
        assert_eq!(
            parse("maglev hdr(a b)").unwrap_err(),
            "invalid balancing algorithm \"maglev hdr(a b)\": \"a b\" is not a valid header name"
        );
        assert!(parse("maglev hdr()").is_err());
        assert!(parse("").is_err());
        assert!(parse("RoundRobin").is_err());
    }

    #[test]
    fn keys_come_from_the_configured_attribute() {
        let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));
        let header = |name: &str| (name == "x-user").then_some(&b"alice"[..]);
        assert_eq!(
            HashOn::ClientAddr.key(client, "/a", header),
            Some(HashKey::ClientAddr(client))
        );
        assert_eq!(
            HashOn::Path.key(client, "/a", header),
            Some(HashKey::Path("/a"))
        );
        assert_eq!(
            HashOn::Header("x-user".into()).key(client, "/a", header),
            Some(HashKey::Header(b"alice"))
        );
        assert_eq!(
            HashOn::Header("x-other".into()).key(client, "/a", header),
            None
        );
        assert_eq!(
            HashOn::Header("x-user".into()).key(client, "/a", |_| Some(&b""[..])),
            None
        );
    }

    #[test]
    fn hash_on_is_only_for_maglev() {
        assert_eq!(Algorithm::RoundRobin.hash_on(), None);
        let maglev = Algorithm::Maglev { on: HashOn::Path };
        assert_eq!(maglev.hash_on(), Some(&HashOn::Path));
    }

    #[test]
    fn every_algorithm_builds() {
        let servers = [(0, 1), (1, 2)];
        for s in ["roundrobin", "leastconn", "random", "maglev"] {
            let balancer = parse(s).unwrap().build(&servers);
            assert!(!format!("{balancer:?}").is_empty());
        }
    }
}
