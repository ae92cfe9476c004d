//! [`HyperExecutor`] and [`HyperTimer`]: hyper's `rt::Executor` and
//! `rt::Timer` on the runtime's tasks and timers.

use crate::time::{Instant, Sleep};
use crate::Handle;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Runs the background tasks hyper spawns (HTTP/2 connection and stream
/// tasks, hyper-util's auto builder) as runtime tasks.
///
/// [`HyperExecutor::new`] (also `Default`) spawns on the runtime current
/// where hyper spawns, which is the runtime driving the connection;
/// [`HyperExecutor::with_handle`] on a given runtime. Each spawn is a
/// detached task: dropping the runtime cancels it like any other.
///
/// # Panics
///
/// A `new()` executor panics when used outside a runtime (as
/// [`spawn`](crate::spawn) does); hyper spawns from inside the connection's
/// poll, so this means the connection itself was polled outside one.
///
/// # Examples
///
/// HTTP/2 needs an executor on both sides:
///
/// ```
/// use http_body_util::{BodyExt, Empty, Full};
/// use hyper::body::Bytes;
/// use runtime::compat::hyper::{HyperExecutor, HyperIo};
/// use runtime::net::{TcpListener, TcpStream};
///
/// #[runtime::main(worker_threads = 2)]
/// async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     runtime::spawn(async move {
///         let (stream, _) = listener.accept().await.unwrap();
///         let service = hyper::service::service_fn(|req: hyper::Request<_>| async move {
///             let body = format!("{:?}", req.version());
///             Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from(body))))
///         });
///         hyper::server::conn::http2::Builder::new(HyperExecutor::new())
///             .serve_connection(HyperIo::new(stream), service)
///             .await
///     });
///
///     let stream = TcpStream::connect(addr).await?;
///     let (mut sender, conn) =
///         hyper::client::conn::http2::handshake(HyperExecutor::new(), HyperIo::new(stream))
///             .await?;
///     runtime::spawn(conn);
///     let response = sender
///         .send_request(hyper::Request::get("http://localhost/").body(Empty::<Bytes>::new())?)
///         .await?;
///     assert_eq!(response.into_body().collect().await?.to_bytes(), "HTTP/2.0");
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug, Default)]
pub struct HyperExecutor {
    handle: Option<Handle>,
}

impl HyperExecutor {
    /// An executor that spawns on the current runtime (the one whose task
    /// or `block_on` is running when hyper spawns).
    ///
    /// # Examples
    ///
    /// ```
    /// use hyper::rt::Executor;
    /// use runtime::compat::hyper::HyperExecutor;
    ///
    /// let rt = runtime::Runtime::new()?;
    /// rt.block_on(async {
    ///     let (tx, rx) = futures_channel::oneshot::channel();
    ///     HyperExecutor::new().execute(async move { tx.send(42).unwrap() });
    ///     assert_eq!(rx.await.unwrap(), 42);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> HyperExecutor {
        HyperExecutor { handle: None }
    }

    /// An executor that spawns on `handle`'s runtime, from any thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use hyper::rt::Executor;
    /// use runtime::compat::hyper::HyperExecutor;
    ///
    /// let rt = runtime::Runtime::new()?;
    /// let executor = HyperExecutor::with_handle(rt.handle());
    /// let (tx, rx) = futures_channel::oneshot::channel();
    /// // Not inside the runtime: the handle says where to spawn.
    /// executor.execute(async move { tx.send("spawned").unwrap() });
    /// assert_eq!(rt.block_on(rx).unwrap(), "spawned");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_handle(handle: Handle) -> HyperExecutor {
        HyperExecutor {
            handle: Some(handle),
        }
    }
}

impl<F> hyper::rt::Executor<F> for HyperExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[track_caller]
    fn execute(&self, future: F) {
        // Detached: hyper's tasks report through the connection, not
        // through a JoinHandle.
        match &self.handle {
            Some(handle) => drop(handle.spawn(future)),
            None => drop(crate::spawn(future)),
        }
    }
}

/// hyper's timeouts and intervals (`header_read_timeout`, keep-alive,
/// HTTP/2 pings) on the runtime's timers.
///
/// * `sleep` and `sleep_until` are [`time::sleep`](crate::time::sleep) and
///   [`time::sleep_until`](crate::time::sleep_until), boxed as hyper's
///   trait asks, on the current runtime.
/// * `reset` moves the deadline of a sleep made here in place
///   ([`Sleep::reset`]): no new timer and no new box. hyper resets its
///   header-read timer on every request of a keep-alive connection.
/// * `now` is [`time::Instant::now`](crate::time::Instant::now): with the
///   runtime's clock paused, hyper's deadlines are computed on the paused
///   clock too, and `advance` makes them pass.
///
/// # Panics
///
/// `sleep` and `sleep_until` outside a runtime, as the runtime's own.
///
/// # Examples
///
/// A client that sends no request within the server's
/// `header_read_timeout` is disconnected; on a paused clock the idle
/// runtime jumps straight to the timeout:
///
/// ```
/// use http_body_util::Empty;
/// use hyper::body::Bytes;
/// use runtime::compat::hyper::{HyperIo, HyperTimer};
/// use runtime::net::{TcpListener, TcpStream};
/// use std::time::Duration;
///
/// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let client = TcpStream::connect(listener.local_addr()?).await?;
///     let (stream, _) = listener.accept().await?;
///     let start = runtime::time::Instant::now();
///     let service = hyper::service::service_fn(|_req| async {
///         Ok::<_, hyper::Error>(hyper::Response::new(Empty::<Bytes>::new()))
///     });
///     let served = hyper::server::conn::http1::Builder::new()
///         .timer(HyperTimer::new())
///         .header_read_timeout(Duration::from_secs(30))
///         .serve_connection(HyperIo::new(stream), service)
///         .await;
///     assert!(served.unwrap_err().is_timeout());
///     assert!(start.elapsed() >= Duration::from_secs(30));
///     drop(client);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct HyperTimer {
    _private: (),
}

impl HyperTimer {
    /// A timer on the current runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use hyper::rt::Timer;
    /// use runtime::compat::hyper::HyperTimer;
    /// use std::time::Duration;
    ///
    /// let rt = runtime::Builder::new_current_thread().start_paused(true).build()?;
    /// rt.block_on(async {
    ///     let timer = HyperTimer::new();
    ///     let start = timer.now();
    ///     timer.sleep(Duration::from_secs(5)).await;
    ///     assert_eq!(timer.now() - start, Duration::from_secs(5));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> HyperTimer {
        HyperTimer { _private: () }
    }
}

// The runtime's `Sleep` is `Send + Sync` by its fields; hyper only asks for
// its marker trait.
impl hyper::rt::Sleep for Sleep {}

impl hyper::rt::Timer for HyperTimer {
    #[track_caller]
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(crate::time::sleep(duration))
    }

    #[track_caller]
    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(crate::time::sleep_until(Instant::from_std(deadline)))
    }

    fn now(&self) -> std::time::Instant {
        Instant::now().into_std()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: std::time::Instant) {
        match sleep.as_mut().downcast_mut_pin::<Sleep>() {
            Some(ours) => ours.get_mut().reset(Instant::from_std(new_deadline)),
            // A sleep some other timer made: replace it, as hyper's default.
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}
