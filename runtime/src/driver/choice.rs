//! Which I/O driver a runtime gets: [`IoDriver`], the `RUNTIME_IO_DRIVER`
//! variable, and `Auto`'s fallback from io_uring to epoll.

use std::io;
use std::sync::Arc;
use std::time::Duration;

/// Which I/O driver a runtime uses.
///
/// # Examples
///
/// ```
/// use runtime::{Builder, IoDriver};
///
/// // `Auto` (the default) takes io_uring when the kernel allows it.
/// let rt = Builder::new_current_thread().io_driver(IoDriver::Auto).build()?;
/// assert_ne!(rt.handle().io_driver(), IoDriver::Auto);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum IoDriver {
    /// io_uring if the kernel allows it, else epoll.
    #[default]
    Auto,
    /// io_uring, or `build()` fails.
    IoUring,
    /// epoll (through mio), with file I/O on the blocking pool; `build()`
    /// fails only if epoll itself cannot be set up.
    Epoll,
}

/// The I/O side of a runtime being built: a ring per worker, or the epoll
/// driver.
pub(crate) enum Io {
    Rings(Vec<super::Driver>),
    Epoll(Arc<super::epoll::Reactor>),
}

/// The environment variable that picks the driver of runtimes whose
/// builder says [`IoDriver::Auto`].
const IO_DRIVER_ENV: &str = "RUNTIME_IO_DRIVER";

/// Sets up the driver `requested` asks for (for `Auto`: what
/// `RUNTIME_IO_DRIVER` says, if set): one io_uring ring of `ring_entries`
/// per worker, or the epoll driver. `Auto` takes epoll when io_uring cannot
/// be set up (an old kernel, `kernel.io_uring_disabled`, a seccomp profile,
/// the memlock limit).
pub(crate) fn start(requested: IoDriver, ring_entries: u32, workers: usize) -> io::Result<Io> {
    let choice = match requested {
        IoDriver::Auto => driver_from_env(std::env::var_os(IO_DRIVER_ENV).as_deref())?,
        explicit => explicit,
    };
    if choice != IoDriver::Epoll {
        let mut rings = Vec::with_capacity(workers);
        for _ in 0..workers {
            match super::Driver::new(ring_entries) {
                Ok((driver, _handle)) => rings.push(driver),
                Err(err) if choice == IoDriver::IoUring => {
                    return Err(io::Error::new(
                        err.kind(),
                        format!("cannot set up an io_uring ring: {err}"),
                    ));
                }
                Err(err) => {
                    say_once_why_epoll(&err);
                    break;
                }
            }
        }
        if rings.len() == workers {
            return Ok(Io::Rings(rings));
        }
    }
    let reactor = super::epoll::Reactor::start().map_err(|err| {
        io::Error::new(err.kind(), format!("cannot start the epoll driver: {err}"))
    })?;
    Ok(Io::Epoll(reactor))
}

/// The environment variable that caps each wait of a worker in its ring,
/// in whole milliseconds (unset: no cap). For tools that serialise threads
/// and cannot tell that `io_uring_enter` blocks: valgrind (3.19) keeps its
/// one-thread-at-a-time lock while a thread waits there, so an uncapped
/// wait freezes the very threads that could end it. Each cross-thread
/// wake-up can cost a whole cap there, so CI sets 1 (the multi_thread
/// shutdown test with 2000 ops in flight: 61 s at 1 ms, 275 s at 5 ms).
const RING_WAIT_MAX_ENV: &str = "RUNTIME_RING_WAIT_MAX_MS";

/// The cap `RUNTIME_RING_WAIT_MAX_MS` asks for; an `InvalidInput` error
/// naming the variable for anything but a whole number of milliseconds
/// above 0.
pub(crate) fn ring_wait_cap() -> io::Result<Option<Duration>> {
    ring_wait_cap_from(std::env::var_os(RING_WAIT_MAX_ENV).as_deref())
}

fn ring_wait_cap_from(value: Option<&std::ffi::OsStr>) -> io::Result<Option<Duration>> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.to_str().map(str::trim).map(str::parse::<u64>) {
        Some(Ok(ms)) if ms > 0 => Ok(Some(Duration::from_millis(ms))),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{RING_WAIT_MAX_ENV}={value:?} is not a wait cap: use a whole number of \
                 milliseconds above 0"
            ),
        )),
    }
}

/// Tells the user, once per process, why `IoDriver::Auto` runs on epoll:
/// a silent fallback would hide a misconfiguration (a seccomp profile, a
/// memlock limit) behind slower I/O.
fn say_once_why_epoll(err: &io::Error) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        eprintln!("runtime: io_uring cannot be set up ({err}); using the epoll driver");
    });
}

/// What `RUNTIME_IO_DRIVER` asks for: `io_uring`, `epoll` or `auto` (or
/// nothing, when unset); anything else is an `InvalidInput` error that
/// names the variable.
fn driver_from_env(value: Option<&std::ffi::OsStr>) -> io::Result<IoDriver> {
    let Some(value) = value else {
        return Ok(IoDriver::Auto);
    };
    match value.to_str().map(str::trim) {
        Some("epoll") => Ok(IoDriver::Epoll),
        Some("io_uring") => Ok(IoDriver::IoUring),
        Some("auto" | "") => Ok(IoDriver::Auto),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{IO_DRIVER_ENV}={value:?} is not a driver: use `io_uring`, `epoll` or `auto`"),
        )),
    }
}

#[cfg(test)]
mod test {
    use super::{driver_from_env, ring_wait_cap_from, IoDriver};
    use std::ffi::OsStr;
    use std::time::Duration;

    #[test]
    fn the_driver_variable_is_parsed_or_refused_with_its_name() {
        let parse = |value: &str| driver_from_env(Some(OsStr::new(value)));
        assert_eq!(driver_from_env(None).unwrap(), IoDriver::Auto);
        assert_eq!(parse("epoll").unwrap(), IoDriver::Epoll);
        assert_eq!(parse("io_uring").unwrap(), IoDriver::IoUring);
        assert_eq!(parse(" auto ").unwrap(), IoDriver::Auto);
        let err = parse("kqueue").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(
            err.to_string(),
            "RUNTIME_IO_DRIVER=\"kqueue\" is not a driver: use `io_uring`, `epoll` or `auto`"
        );
    }

    #[test]
    fn the_ring_wait_cap_is_parsed_or_refused_with_its_name() {
        let parse = |value: &str| ring_wait_cap_from(Some(OsStr::new(value)));
        assert_eq!(ring_wait_cap_from(None).unwrap(), None);
        assert_eq!(parse("1").unwrap(), Some(Duration::from_millis(1)));
        assert_eq!(parse(" 25 ").unwrap(), Some(Duration::from_millis(25)));
        for bad in ["0", "-1", "1ms", ""] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
            assert!(
                err.to_string().starts_with("RUNTIME_RING_WAIT_MAX_MS="),
                "{err}"
            );
        }
    }
}
