//! Name resolution off the workers: [`ToSocketAddrs`] and [`lookup_host`].
//!
//! The system resolver (`getaddrinfo(3)`, behind std's `ToSocketAddrs`)
//! blocks, for as long as DNS takes. A worker blocked in it runs no other
//! task, so the runtime resolves names on its blocking pool instead, and
//! the task waits for that like for any I/O.
//!
//! That needs an address argument the runtime can look into, which std's
//! trait is not: `ToSocketAddrs::to_socket_addrs` resolves in the same call
//! (it cannot say "this is a literal" without doing the lookup), and a
//! borrowed `&str` cannot be moved to a pool thread. So, as tokio does,
//! [`ToSocketAddrs`] is a trait of this crate, sealed, implemented for the
//! same types as std's. Each implementation splits its value into a
//! literal address (parsed here, at once: no pool round trip, no thread)
//! or an owned `(host, port)` for the pool, which then asks std.
//!
//! Off a runtime's threads (no worker, no `block_on` on this thread), the
//! lookup runs inline: blocking that thread holds up no task. Dropping a
//! lookup's future does not stop a lookup already on the pool (a
//! `getaddrinfo` cannot be interrupted); it finishes there and its answer
//! is dropped. Likewise a runtime shutting down does not wait for it
//! beyond the pool's short grace for such calls: its thread ends when the
//! resolver returns.

use crate::scheduler::context;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::panic::Location;

/// Something that names one or more socket addresses: a literal address,
/// or a host name and a port to look up. The argument type of
/// [`TcpListener::bind`](super::TcpListener::bind),
/// [`TcpStream::connect`](super::TcpStream::connect), the
/// [`UdpSocket`](super::UdpSocket)'s `bind`, `connect` and `send_to`, and
/// [`lookup_host`].
///
/// Implemented for the types std's `ToSocketAddrs` is: [`SocketAddr`],
/// [`SocketAddrV4`], [`SocketAddrV6`], `(IpAddr, u16)`,
/// `(Ipv4Addr, u16)`, `(Ipv6Addr, u16)`, `(&str, u16)`, `(String, u16)`,
/// `&str` and `String` (`"host:port"`), `&[SocketAddr]`, and references to
/// any of them. Sealed: the runtime must be able to tell a literal from a
/// name without resolving, which a foreign implementation could not say.
///
/// A literal is parsed at once; a name is looked up on the runtime's
/// blocking pool (see [`lookup_host`]), never on a worker.
///
/// # Examples
///
/// ```
/// use runtime::net::{TcpListener, ToSocketAddrs};
/// use std::net::Ipv4Addr;
///
/// async fn listen(addr: impl ToSocketAddrs) -> std::io::Result<TcpListener> {
///     TcpListener::bind(addr).await
/// }
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     listen("127.0.0.1:0").await?;
///     listen((Ipv4Addr::LOCALHOST, 0)).await?;
///     listen(String::from("localhost:0")).await?; // a name: looked up off the worker
///     Ok(())
/// }
/// ```
pub trait ToSocketAddrs: sealed::ToSocketAddrsPriv {}

pub(crate) mod sealed {
    use std::io;
    use std::net::SocketAddr;

    /// What an address argument comes to before any lookup.
    #[derive(Debug)]
    pub enum Resolve {
        /// Literal addresses, or why the argument is malformed.
        Done(io::Result<Vec<SocketAddr>>),
        /// A host name and a port for the system resolver.
        Lookup(String, u16),
    }

    /// The sealed half of [`ToSocketAddrs`](super::ToSocketAddrs).
    pub trait ToSocketAddrsPriv {
        /// Splits the value into literal addresses or a lookup, at once.
        fn to_resolve(&self) -> Resolve;
    }
}

use sealed::{Resolve, ToSocketAddrsPriv};

macro_rules! literal {
    ($($ty:ty),*) => {$(
        impl ToSocketAddrs for $ty {}
        impl ToSocketAddrsPriv for $ty {
            fn to_resolve(&self) -> Resolve {
                Resolve::Done(Ok(vec![SocketAddr::from(*self)]))
            }
        }
    )*};
}

literal!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

/// A host and a port: a literal IP address, or a name to look up.
fn host_port(host: &str, port: u16) -> Resolve {
    match host.parse::<IpAddr>() {
        Ok(ip) => Resolve::Done(Ok(vec![SocketAddr::new(ip, port)])),
        Err(_) => Resolve::Lookup(host.to_owned(), port),
    }
}

fn invalid(message: &'static str) -> Resolve {
    Resolve::Done(Err(io::Error::new(io::ErrorKind::InvalidInput, message)))
}

/// `"host:port"`, parsed as std parses it (and with its error messages).
fn host_colon_port(text: &str) -> Resolve {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Resolve::Done(Ok(vec![addr]));
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return invalid("invalid socket address");
    };
    let Ok(port) = port.parse::<u16>() else {
        return invalid("invalid port value");
    };
    host_port(host, port)
}

impl ToSocketAddrs for (&str, u16) {}
impl ToSocketAddrsPriv for (&str, u16) {
    fn to_resolve(&self) -> Resolve {
        host_port(self.0, self.1)
    }
}

impl ToSocketAddrs for (String, u16) {}
impl ToSocketAddrsPriv for (String, u16) {
    fn to_resolve(&self) -> Resolve {
        host_port(&self.0, self.1)
    }
}

impl ToSocketAddrs for str {}
impl ToSocketAddrsPriv for str {
    fn to_resolve(&self) -> Resolve {
        host_colon_port(self)
    }
}

impl ToSocketAddrs for String {}
impl ToSocketAddrsPriv for String {
    fn to_resolve(&self) -> Resolve {
        host_colon_port(self)
    }
}

impl ToSocketAddrs for [SocketAddr] {}
impl ToSocketAddrsPriv for [SocketAddr] {
    fn to_resolve(&self) -> Resolve {
        Resolve::Done(Ok(self.to_vec()))
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> ToSocketAddrsPriv for &T {
    fn to_resolve(&self) -> Resolve {
        (**self).to_resolve()
    }
}

/// Resolves `addr`: a literal at once, a name on the current runtime's
/// blocking pool. The future borrows nothing (`addr` is split first).
#[track_caller]
pub(crate) fn resolve<A: ToSocketAddrs + ?Sized>(
    addr: &A,
) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static {
    let resolve = addr.to_resolve();
    let location = Location::caller();
    async move {
        match resolve {
            Resolve::Done(result) => result,
            Resolve::Lookup(host, port) => lookup(host, port, location).await,
        }
    }
}

/// [`resolve`], with std's error for an argument that names no address
/// (`bind` and `connect` need at least one).
#[track_caller]
pub(crate) fn resolve_some<A: ToSocketAddrs + ?Sized>(
    addr: &A,
) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static {
    let addrs = resolve(addr);
    async move {
        let addrs = addrs.await?;
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "could not resolve to any address",
            ));
        }
        Ok(addrs)
    }
}

/// The system resolver, through std.
fn system_lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    Ok(std::net::ToSocketAddrs::to_socket_addrs(&(host, port))?.collect())
}

async fn lookup(
    host: String,
    port: u16,
    location: &'static Location<'static>,
) -> io::Result<Vec<SocketAddr>> {
    let handle = match context::current() {
        Some(handle) if context::is_driving() => handle,
        // Not a worker, not inside `block_on`: nothing else runs on this
        // thread, so it may as well wait for the resolver itself.
        _ => return system_lookup(&host, port),
    };
    // Detachable: a runtime shutting down does not wait (beyond a short
    // grace) for a resolver stuck on an unanswered DNS query.
    let job = handle
        .blocking()
        .spawn_detachable(move || system_lookup(&host, port), location);
    match job.await {
        Ok(result) => result,
        Err(err) if err.is_cancelled() => Err(io::Error::other(
            "name resolution cancelled: the runtime shut down",
        )),
        Err(err) => Err(io::Error::other(format!("name resolution failed: {err}"))),
    }
}

/// Resolves `host` to its socket addresses, on the runtime's blocking pool
/// for a name (the system resolver blocks for as long as DNS takes; a
/// worker never waits for it), at once for a literal address.
///
/// `host` is anything [`ToSocketAddrs`]: `"example.com:443"`,
/// `("example.com", 443)`, `"[::1]:80"`, a `SocketAddr`, ... The iterator
/// may be empty (a name with no address of a usable family).
///
/// Dropping the future does not stop a lookup already running on the
/// pool; it finishes there and its answer is dropped.
///
/// # Errors
///
/// `InvalidInput` for a malformed argument (`"invalid socket address"`:
/// no port; `"invalid port value"`); the resolver's error for a name it
/// cannot resolve (its kind and message vary with the system's resolver);
/// an error if the runtime shuts down during the lookup.
///
/// # Examples
///
/// ```
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let addrs: Vec<_> = runtime::net::lookup_host("localhost:8080").await?.collect();
///     assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 8080));
///
///     // A literal needs no lookup at all.
///     let mut addrs = runtime::net::lookup_host("10.0.0.1:53").await?;
///     assert_eq!(addrs.next(), Some("10.0.0.1:53".parse().unwrap()));
///
///     let err = runtime::net::lookup_host("no-port-here").await.unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
///     Ok(())
/// }
/// ```
#[track_caller]
pub fn lookup_host<A: ToSocketAddrs>(
    host: A,
) -> impl Future<Output = io::Result<impl Iterator<Item = SocketAddr> + fmt::Debug + Send + 'static>>
       + Send
       + 'static {
    let addrs = resolve(&host);
    async move { Ok(addrs.await?.into_iter()) }
}

/// Tries `f` on each address in turn; the first success, or the last error.
pub(crate) async fn each_addr<T, F, Fut>(addrs: Vec<SocketAddr>, mut f: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in addrs {
        match f(addr).await {
            Ok(out) => return Ok(out),
            Err(err) => last = Some(err),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to try")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(resolve: Resolve) -> io::Result<Vec<SocketAddr>> {
        match resolve {
            Resolve::Done(result) => result,
            Resolve::Lookup(host, port) => panic!("a lookup of {host}:{port}"),
        }
    }

    #[test]
    fn literals_resolve_without_a_lookup() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(done("127.0.0.1:80".to_resolve()).unwrap(), [v4]);
        assert_eq!(done("[::1]:443".to_resolve()).unwrap(), [v6]);
        assert_eq!(done(("::1", 443).to_resolve()).unwrap(), [v6]);
        assert_eq!(
            done((String::from("127.0.0.1"), 80).to_resolve()).unwrap(),
            [v4]
        );
        assert_eq!(done((Ipv4Addr::LOCALHOST, 80).to_resolve()).unwrap(), [v4]);
        assert_eq!(done(v6.to_resolve()).unwrap(), [v6]);
        assert_eq!(done([v4, v6][..].to_resolve()).unwrap(), [v4, v6]);
        assert_eq!(done((&&v4).to_resolve()).unwrap(), [v4]);
    }

    #[test]
    fn names_are_looked_up_and_malformed_text_is_invalid_input() {
        assert!(matches!(
            "localhost:80".to_resolve(),
            Resolve::Lookup(host, 80) if host == "localhost"
        ));
        assert!(matches!(
            ("example.com", 1).to_resolve(),
            Resolve::Lookup(host, 1) if host == "example.com"
        ));
        for (text, message) in [
            ("localhost", "invalid socket address"),
            ("localhost:http", "invalid port value"),
            ("localhost:65536", "invalid port value"),
        ] {
            let err = done(text.to_resolve()).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert_eq!(err.to_string(), message);
        }
    }
}
