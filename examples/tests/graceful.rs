//! The `graceful` example: SIGTERM stops the accepting, a request in
//! flight still gets its answer, a connection past the deadline is
//! cancelled, and the process exits 0 either way.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Generous: the machine may be busy.
const LIMIT: Duration = Duration::from_secs(30);

struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    addr: String,
}

impl Server {
    fn start(grace_ms: u64) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_graceful"))
            .args(["127.0.0.1:0", &grace_ms.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start graceful");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let first = lines.recv_timeout(LIMIT).expect("the server's first line");
        let addr = first
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        Server { child, lines, addr }
    }

    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(LIMIT)
            .expect("a line from the server")
    }

    fn terminate(&self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    }

    fn wait(mut self) -> std::process::ExitStatus {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!("the server did not exit within 30 s");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream
}

fn request(stream: &mut TcpStream, line: &str) -> String {
    stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut answer = String::new();
    reader.read_line(&mut answer).unwrap();
    answer.trim_end().to_owned()
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_and_exits_0() {
    let server = Server::start(10_000);
    let mut quick = connect(&server.addr);
    assert_eq!(request(&mut quick, "echo hello"), "hello");
    drop(quick);

    // A slow request, in flight when the signal comes.
    let mut slow = connect(&server.addr);
    slow.write_all(b"sleep 500\n").unwrap();
    thread::sleep(Duration::from_millis(50));
    server.terminate();
    let stopping = server.next_line();
    assert!(
        stopping.starts_with("SIGTERM: no new connections; waiting up to 10s"),
        "{stopping}"
    );
    // No new connections: the listener is closed.
    let refused = TcpStream::connect(&server.addr).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    // The request in flight gets its answer.
    let mut answer = String::new();
    BufReader::new(slow.try_clone().unwrap())
        .read_line(&mut answer)
        .unwrap();
    assert_eq!(answer.trim_end(), "slept 500");
    drop(slow);
    assert_eq!(server.next_line(), "all connections finished");
    assert_eq!(server.next_line(), "bye");
    assert!(server.wait().success());
}

#[test]
fn a_connection_past_the_deadline_is_cancelled_and_the_exit_is_still_0() {
    let server = Server::start(200);
    let mut stuck = connect(&server.addr);
    stuck.write_all(b"sleep 60000\n").unwrap();
    thread::sleep(Duration::from_millis(50));
    server.terminate();
    let stopping = server.next_line();
    assert!(
        stopping.contains("waiting up to 200ms for 1 open ones"),
        "{stopping}"
    );
    assert_eq!(
        server.next_line(),
        "deadline passed: 1 connections cancelled"
    );
    assert_eq!(server.next_line(), "bye");
    assert!(server.wait().success());
    // The cancelled connection was closed: the client reads the end.
    let mut rest = Vec::new();
    assert_eq!(stuck.read_to_end(&mut rest).unwrap(), 0);
}
