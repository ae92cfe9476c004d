//! Runs `http_server` and fetches from it with `http_get`: every route,
//! HTTP/1 and HTTP/2, an upgrade; then SIGTERM with a request in flight
//! (it finishes, the server exits cleanly), and a deadline shorter than
//! the request in flight (the server exits anyway, on time).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const SERVER: &str = env!("CARGO_BIN_EXE_http_server");
const GET: &str = env!("CARGO_BIN_EXE_http_get");
const LIMIT: Duration = Duration::from_secs(30);

/// A running `http_server`, killed if the test ends early.
struct Server {
    child: Child,
    url: String,
    /// The server's stdout lines after the first, as they come.
    lines: mpsc::Receiver<String>,
}

impl Server {
    fn start(grace_ms: u64) -> Server {
        let mut child = Command::new(SERVER)
            .arg("127.0.0.1:0")
            .env("HTTP_SERVER_GRACE_MS", grace_ms.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start http_server");
        let lines = read_lines(child.stdout.take().unwrap());
        let first = lines.recv_timeout(LIMIT).expect("the server's first line");
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        Server { child, url, lines }
    }

    /// Waits for the next stdout line.
    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(LIMIT)
            .expect("a line from the server")
    }

    fn terminate(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on our own child, which has not been reaped yet
        // (we hold its `Child`), so the pid is still that process.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    }

    /// Waits (bounded) for the server to exit; its status and the rest of
    /// its output.
    fn wait(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(start.elapsed() < LIMIT, "the server did not exit");
            thread::sleep(Duration::from_millis(10));
        };
        let rest = self.lines.iter().collect();
        (status, rest)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn get(args: &[&str]) -> Vec<String> {
    let out = common::run(GET, args);
    assert!(out.status.success(), "http_get {args:?}: {out:?}");
    out.stdout_lines().into_iter().map(str::to_owned).collect()
}

#[test]
fn every_route_over_http1_and_http2() {
    let server = Server::start(5000);
    let url = |path: &str| format!("{}{path}", server.url);
    assert_eq!(get(&[&url("/")]), ["HTTP/1.1 200 OK", "hello from runtime"]);
    let json = get(&[&url("/json")]);
    assert_eq!(json[0], "HTTP/1.1 200 OK");
    assert!(json[1].starts_with(r#"{"io_driver":""#), "{json:?}");
    assert!(json[1].ends_with(r#"","server":"runtime"}"#), "{json:?}");
    assert_eq!(get(&[&url("/users/42")]), ["HTTP/1.1 200 OK", "user 42"]);
    assert_eq!(get(&[&url("/add?a=2&b=40")]), ["HTTP/1.1 200 OK", "42"]);
    assert_eq!(
        get(&[&url("/add?a=two")]),
        ["HTTP/1.1 400 Bad Request", "want ?a=<int>&b=<int>"]
    );
    assert_eq!(
        get(&["--post", "echo me", &url("/echo")]),
        ["HTTP/1.1 200 OK", "echo me"]
    );
    assert_eq!(
        get(&["--http2", &url("/users/7")]),
        ["HTTP/2.0 200 OK", "user 7"]
    );
    assert_eq!(
        get(&["--upgrade", "raw bytes", &url("/upgrade")]),
        ["HTTP/1.1 101 Switching Protocols", "RAW BYTES"]
    );
    assert_eq!(get(&[&url("/nowhere")]), ["HTTP/1.1 404 Not Found"]);
}

/// Starts `http_get` on `/slow?ms=<ms>` and waits until the server says
/// the request is in its handler.
fn slow_request(server: &Server, ms: u64) -> thread::JoinHandle<common::Output> {
    let url = format!("{}/slow?ms={ms}", server.url);
    let client = thread::spawn(move || common::run(GET, &[&url]));
    assert_eq!(
        server.next_line(),
        format!("slow request: sleeping {ms} ms")
    );
    client
}

#[test]
fn sigterm_lets_the_request_in_flight_finish() {
    let server = Server::start(10_000);
    let client = slow_request(&server, 1000);
    server.terminate();
    let out = client.join().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout_lines(), ["HTTP/1.1 200 OK", "slept 1000 ms"]);
    let addr = server.url.trim_start_matches("http://").to_owned();
    let (status, rest) = server.wait();
    assert!(status.success(), "{status:?} {rest:?}");
    assert_eq!(
        rest,
        [
            "SIGTERM: no new connections; waiting up to 10s for open ones",
            "all connections closed"
        ]
    );
    // A server that shut down through its runtime left no accept in flight
    // in a ring, so its port is free the moment it is gone (a killed one's
    // is not, for a few ms: see `TcpListener`'s docs).
    std::net::TcpListener::bind(&addr).expect("the port is free at once");
}

#[test]
fn the_grace_deadline_bounds_the_wait() {
    let server = Server::start(200);
    let client = slow_request(&server, 20_000);
    server.terminate();
    let (status, rest) = server.wait();
    assert!(status.success(), "{status:?} {rest:?}");
    assert_eq!(
        rest,
        [
            "SIGTERM: no new connections; waiting up to 200ms for open ones",
            "deadline passed; cutting the connections still open"
        ]
    );
    // The client's connection was cut: it fails, and does not hang.
    let out = client.join().unwrap();
    assert!(!out.status.success(), "{out:?}");
}
