//! Shared pieces of the I/O benchmarks (`benches/io.rs`): the echo message
//! format, a small PRNG, the page-cached test file of `file_read`, and the
//! hand-written io_uring echo loop that is the `raw_uring` upper limit.

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

// ---------------------------------------------------------------- echo messages

/// Size of one echo message.
pub const MESSAGE_SIZE: usize = 1024;

/// Filler of the bytes between a message's header and trailer.
const FILLER: u8 = 0xa5;

/// A message buffer with the filler in place; [`stamp_message`] writes the
/// sequence number into it before each send.
pub fn new_message() -> Vec<u8> {
    vec![FILLER; MESSAGE_SIZE]
}

/// Writes `seq` into the first 8 bytes and `!seq` into the last 8 bytes
/// of `message` (of [`MESSAGE_SIZE`] bytes).
pub fn stamp_message(message: &mut [u8], seq: u64) {
    assert_eq!(message.len(), MESSAGE_SIZE);
    message[..8].copy_from_slice(&seq.to_le_bytes());
    message[MESSAGE_SIZE - 8..].copy_from_slice(&(!seq).to_le_bytes());
}

/// Panics unless `echo` is the message [`stamp_message`] made for `seq`
/// (checked: the length, the header, the trailer and the byte after the
/// header).
pub fn check_echo(echo: &[u8], seq: u64) {
    assert_eq!(
        echo.len(),
        MESSAGE_SIZE,
        "echo of message {seq:#x}: wrong length"
    );
    let head = u64::from_le_bytes(echo[..8].try_into().unwrap());
    let tail = u64::from_le_bytes(echo[MESSAGE_SIZE - 8..].try_into().unwrap());
    assert!(
        head == seq && tail == !seq && echo[8] == FILLER,
        "echo of message {seq:#x} came back as head {head:#x}, tail {tail:#x}"
    );
}

/// The sequence number of round trip `round` on connection `conn`: unique
/// across connections, so a crossed echo is caught as well.
pub fn sequence(conn: usize, round: u64) -> u64 {
    ((conn as u64) << 40) | round
}

// ---------------------------------------------------------------- PRNG

/// xorshift64 (Marsaglia): a fixed-seed source of offsets and durations.
#[derive(Debug, Clone)]
pub struct Xorshift(u64);

impl Xorshift {
    /// A generator seeded with `seed` (a zero seed is replaced, as zero is
    /// xorshift's one fixed point).
    pub fn new(seed: u64) -> Xorshift {
        Xorshift(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

// ---------------------------------------------------------------- test file

/// Size of one random read, and the alignment of its offset.
pub const BLOCK_SIZE: usize = 4096;

/// The byte every position of block `block` holds in the test file:
/// never zero, and different for neighbouring blocks.
pub fn block_byte(block: u64) -> u8 {
    (block % 251) as u8 + 1
}

/// Panics unless `data`, read from `offset`, is a whole block with the
/// right content at both ends.
pub fn check_block(data: &[u8], offset: u64) {
    let expected = block_byte(offset / BLOCK_SIZE as u64);
    assert!(
        data.len() == BLOCK_SIZE && data[0] == expected && data[BLOCK_SIZE - 1] == expected,
        "block at {offset} read back wrong ({} bytes)",
        data.len()
    );
}

/// A file of `len` bytes in its own directory under
/// `std::env::temp_dir()`, written with [`block_byte`] content, synced
/// (so no writeback runs during the measurements) and read once
/// sequentially so that it is in the page cache. Dropping it deletes the
/// file and the directory.
#[derive(Debug)]
pub struct TestFile {
    dir: PathBuf,
    path: PathBuf,
    len: u64,
}

impl TestFile {
    /// Creates, fills, syncs and warms the file.
    pub fn create(len: u64) -> io::Result<TestFile> {
        assert_eq!(len % BLOCK_SIZE as u64, 0, "whole blocks only");
        let dir = std::env::temp_dir().join(format!("runtime-io-bench-{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        let path = dir.join("random-reads.bin");
        // From here on, `Drop` cleans up whatever was made.
        let test_file = TestFile { dir, path, len };

        let mut file = File::create(&test_file.path)?;
        let chunk_blocks = 256;
        let mut chunk = vec![0u8; chunk_blocks * BLOCK_SIZE];
        let mut block = 0u64;
        let blocks = len / BLOCK_SIZE as u64;
        while block < blocks {
            let here = (blocks - block).min(chunk_blocks as u64) as usize;
            for (i, piece) in chunk[..here * BLOCK_SIZE]
                .chunks_mut(BLOCK_SIZE)
                .enumerate()
            {
                piece.fill(block_byte(block + i as u64));
            }
            file.write_all(&chunk[..here * BLOCK_SIZE])?;
            block += here as u64;
        }
        file.sync_all()?;
        drop(file);

        // Warm the page cache (the pages written are normally still there;
        // this makes sure of it) and check the length.
        let mut file = File::open(&test_file.path)?;
        let mut total = 0u64;
        loop {
            let n = file.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        assert_eq!(total, len, "test file has the wrong length");
        Ok(test_file)
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of [`BLOCK_SIZE`] blocks in the file.
    pub fn blocks(&self) -> u64 {
        self.len / BLOCK_SIZE as u64
    }
}

impl Drop for TestFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        let _ = fs::remove_dir(&self.dir);
    }
}

// ---------------------------------------------------------------- raw io_uring echo

/// Connected loopback pairs `(client, server)`, with `TCP_NODELAY` on both
/// ends (as in the runtime and tokio entries).
pub fn loopback_pairs(count: usize) -> io::Result<Vec<(TcpStream, TcpStream)>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut pairs = Vec::with_capacity(count);
    for _ in 0..count {
        let client = TcpStream::connect(addr)?;
        let (server, _) = listener.accept()?;
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        pairs.push((client, server));
    }
    Ok(pairs)
}

/// The `raw_uring` echo: `threads` threads, each with its own ring and its
/// share of the connections (client and server end of each), running the
/// same round trips as the runtime entries with no runtime at all.
///
/// [`RawEcho::run`] makes every connection do a number of round trips and
/// returns when all are done. Dropping a `RawEcho` shuts the connections
/// down, waits for the kernel to finish every operation, and joins the
/// threads.
#[derive(Debug)]
pub struct RawEcho {
    /// Per thread: where to send a round count, and where it reports
    /// back.
    commands: Vec<(mpsc::Sender<u64>, mpsc::Receiver<()>)>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl RawEcho {
    /// Spreads `pairs` over `threads` threads (connection `i` goes to
    /// thread `i % threads`).
    pub fn start(pairs: Vec<(TcpStream, TcpStream)>, threads: usize) -> RawEcho {
        let mut shares: Vec<Vec<RawConn>> = (0..threads).map(|_| Vec::new()).collect();
        for (id, (client, server)) in pairs.into_iter().enumerate() {
            shares[id % threads].push(RawConn::new(id, client, server));
        }
        let mut commands = Vec::with_capacity(threads);
        let mut handles = Vec::with_capacity(threads);
        for (index, conns) in shares.into_iter().enumerate() {
            let (command_tx, command_rx) = mpsc::channel();
            let (done_tx, done_rx) = mpsc::channel();
            let handle = thread::Builder::new()
                .name(format!("raw-uring-{index}"))
                .spawn(move || RawLoop::new(conns).serve(command_rx, done_tx))
                .expect("starting raw io_uring thread");
            commands.push((command_tx, done_rx));
            handles.push(handle);
        }
        RawEcho {
            commands,
            threads: handles,
        }
    }

    /// Every connection does `rounds` round trips; returns when all have.
    pub fn run(&self, rounds: u64) {
        for (command, _) in &self.commands {
            command.send(rounds).expect("raw io_uring thread gone");
        }
        for (_, done) in &self.commands {
            done.recv().expect("raw io_uring thread failed");
        }
    }
}

impl Drop for RawEcho {
    fn drop(&mut self) {
        self.commands.clear();
        for handle in self.threads.drain(..) {
            if handle.join().is_err() && !thread::panicking() {
                panic!("raw io_uring thread panicked");
            }
        }
    }
}

/// `user_data` tags: the low 2 bits say which operation, the rest which
/// connection (its index in the thread's share).
const CLIENT_SEND: u64 = 0;
const CLIENT_RECV: u64 = 1;
const SERVER_RECV: u64 = 2;
const SERVER_SEND: u64 = 3;

/// One connection as seen by a raw loop: both sockets, a fixed buffer per
/// direction and end, and where each end is in its current message.
///
/// The buffers are boxed slices: the heap memory the kernel is given does
/// not move when a `RawConn` (or the `Vec` holding it) moves. A buffer is
/// never touched by the loop while an operation on it is in flight.
struct RawConn {
    id: usize,
    client: TcpStream,
    server: TcpStream,
    /// The message being sent; `client_sent` bytes of it are out.
    client_out: Box<[u8]>,
    client_sent: usize,
    /// The echo being received; `client_got` bytes of it are in.
    client_in: Box<[u8]>,
    client_got: usize,
    /// Round trips done so far (for sequence numbers) and left to do.
    round: u64,
    rounds_left: u64,
    /// What the server received, `server_len` bytes, of which
    /// `server_sent` have been echoed.
    server_buf: Box<[u8]>,
    server_len: usize,
    server_sent: usize,
    /// The server end saw end-of-stream (shutdown only).
    server_closed: bool,
}

impl RawConn {
    fn new(id: usize, client: TcpStream, server: TcpStream) -> RawConn {
        RawConn {
            id,
            client,
            server,
            client_out: new_message().into_boxed_slice(),
            client_sent: 0,
            client_in: vec![0; MESSAGE_SIZE].into_boxed_slice(),
            client_got: 0,
            round: 0,
            rounds_left: 0,
            server_buf: vec![0; MESSAGE_SIZE].into_boxed_slice(),
            server_len: 0,
            server_sent: 0,
            server_closed: false,
        }
    }
}

/// A thread's ring and connections.
struct RawLoop {
    ring: IoUring,
    conns: Vec<RawConn>,
    /// Operations submitted and not yet completed.
    in_flight: usize,
    /// Connections whose round trips are not all done.
    busy: usize,
    /// Completions copied out of the ring, reused.
    reaped: Vec<(u64, i32)>,
}

impl RawLoop {
    fn new(conns: Vec<RawConn>) -> RawLoop {
        // At most two operations per connection are in flight (one per
        // end), so neither queue can fill up.
        let entries = (2 * conns.len()).next_power_of_two().max(8) as u32;
        let ring = IoUring::new(entries).expect("creating io_uring");
        RawLoop {
            ring,
            conns,
            in_flight: 0,
            busy: 0,
            reaped: Vec::with_capacity(entries as usize * 2),
        }
    }

    /// Runs commands until the sender goes away, then shuts down.
    fn serve(mut self, commands: mpsc::Receiver<u64>, done: mpsc::Sender<()>) {
        // The server ends always have a receive posted.
        for index in 0..self.conns.len() {
            self.server_recv(index);
        }
        while let Ok(rounds) = commands.recv() {
            self.round_trips(rounds);
            if done.send(()).is_err() {
                break;
            }
        }
        self.shutdown();
    }

    fn round_trips(&mut self, rounds: u64) {
        if rounds == 0 {
            return;
        }
        self.busy = self.conns.len();
        for index in 0..self.conns.len() {
            self.conns[index].rounds_left = rounds;
            self.start_message(index);
        }
        while self.busy > 0 {
            self.wait_and_dispatch();
        }
    }

    /// Closes the client ends and waits until the kernel has completed
    /// every operation (each server end then reads end-of-stream), so no
    /// buffer is freed while the kernel may still use it.
    fn shutdown(mut self) {
        for conn in &self.conns {
            let _ = conn.client.shutdown(Shutdown::Both);
        }
        while self.in_flight > 0 {
            self.wait_and_dispatch();
        }
        assert!(self.conns.iter().all(|conn| conn.server_closed));
    }

    /// Submits what is queued, waits for at least one completion, and
    /// handles every completion there is.
    fn wait_and_dispatch(&mut self) {
        loop {
            match self.ring.submit_and_wait(1) {
                Ok(_) => break,
                Err(err) if err.raw_os_error() == Some(libc::EINTR) => continue,
                Err(err) => panic!("io_uring_enter: {err}"),
            }
        }
        let mut reaped = std::mem::take(&mut self.reaped);
        reaped.extend(
            self.ring
                .completion()
                .map(|cqe: cqueue::Entry| (cqe.user_data(), cqe.result())),
        );
        self.in_flight -= reaped.len();
        for &(user_data, result) in &reaped {
            let index = (user_data >> 2) as usize;
            match user_data & 3 {
                CLIENT_SEND => self.client_sent(index, result),
                CLIENT_RECV => self.client_received(index, result),
                SERVER_RECV => self.server_received(index, result),
                _ => self.server_echoed(index, result),
            }
        }
        reaped.clear();
        self.reaped = reaped;
    }

    fn push(&mut self, entry: squeue::Entry) {
        // Every entry built in this loop points at a boxed buffer of a
        // connection in `self.conns` (heap memory that does not move) and
        // at that connection's socket. Neither is dropped, nor is the
        // buffer touched, until the entry's completion has been reaped:
        // `shutdown` drains every operation in flight before the
        // connections are dropped, and the handlers only look at a buffer
        // after its operation completed.
        // SAFETY: so the entry's buffer and socket outlive its completion.
        let pushed = unsafe { self.ring.submission().push(&entry) };
        pushed.expect("submission queue full (more operations than sized for)");
        self.in_flight += 1;
    }

    /// Stamps the next message of connection `index` and sends it.
    fn start_message(&mut self, index: usize) {
        let conn = &mut self.conns[index];
        stamp_message(&mut conn.client_out, sequence(conn.id, conn.round));
        conn.client_sent = 0;
        self.client_send(index);
    }

    fn client_send(&mut self, index: usize) {
        let conn = &mut self.conns[index];
        let rest = &conn.client_out[conn.client_sent..];
        let entry = opcode::Send::new(
            types::Fd(conn.client.as_raw_fd()),
            rest.as_ptr(),
            rest.len() as u32,
        )
        .flags(libc::MSG_NOSIGNAL)
        .build()
        .user_data(((index as u64) << 2) | CLIENT_SEND);
        self.push(entry);
    }

    fn client_recv(&mut self, index: usize) {
        let conn = &mut self.conns[index];
        let rest = &mut conn.client_in[conn.client_got..];
        let entry = opcode::Recv::new(
            types::Fd(conn.client.as_raw_fd()),
            rest.as_mut_ptr(),
            rest.len() as u32,
        )
        .build()
        .user_data(((index as u64) << 2) | CLIENT_RECV);
        self.push(entry);
    }

    fn server_recv(&mut self, index: usize) {
        let conn = &mut self.conns[index];
        let entry = opcode::Recv::new(
            types::Fd(conn.server.as_raw_fd()),
            conn.server_buf.as_mut_ptr(),
            conn.server_buf.len() as u32,
        )
        .build()
        .user_data(((index as u64) << 2) | SERVER_RECV);
        self.push(entry);
    }

    fn server_send(&mut self, index: usize) {
        let conn = &mut self.conns[index];
        let rest = &conn.server_buf[conn.server_sent..conn.server_len];
        let entry = opcode::Send::new(
            types::Fd(conn.server.as_raw_fd()),
            rest.as_ptr(),
            rest.len() as u32,
        )
        .flags(libc::MSG_NOSIGNAL)
        .build()
        .user_data(((index as u64) << 2) | SERVER_SEND);
        self.push(entry);
    }

    fn client_sent(&mut self, index: usize, result: i32) {
        let sent = checked("client send", result);
        let conn = &mut self.conns[index];
        conn.client_sent += sent;
        if conn.client_sent < MESSAGE_SIZE {
            self.client_send(index);
        } else {
            conn.client_got = 0;
            self.client_recv(index);
        }
    }

    fn client_received(&mut self, index: usize, result: i32) {
        let got = checked("client receive", result);
        assert!(got > 0, "echo connection closed by the server");
        let conn = &mut self.conns[index];
        conn.client_got += got;
        if conn.client_got < MESSAGE_SIZE {
            self.client_recv(index);
            return;
        }
        check_echo(&conn.client_in, sequence(conn.id, conn.round));
        conn.round += 1;
        conn.rounds_left -= 1;
        if conn.rounds_left == 0 {
            self.busy -= 1;
        } else {
            self.start_message(index);
        }
    }

    fn server_received(&mut self, index: usize, result: i32) {
        let got = checked("server receive", result);
        let conn = &mut self.conns[index];
        if got == 0 {
            conn.server_closed = true;
            return;
        }
        conn.server_len = got;
        conn.server_sent = 0;
        self.server_send(index);
    }

    fn server_echoed(&mut self, index: usize, result: i32) {
        let sent = checked("server send", result);
        let conn = &mut self.conns[index];
        conn.server_sent += sent;
        if conn.server_sent < conn.server_len {
            self.server_send(index);
        } else {
            self.server_recv(index);
        }
    }
}

impl Drop for RawLoop {
    fn drop(&mut self) {
        // After a panic with operations in flight, the kernel may still
        // write into the buffers: leak them rather than free them.
        if self.in_flight > 0 {
            std::mem::forget(std::mem::take(&mut self.conns));
        }
    }
}

/// A completion's byte count, or a panic naming the operation and errno.
fn checked(what: &str, result: i32) -> usize {
    if result < 0 {
        panic!("{what} failed: {}", io::Error::from_raw_os_error(-result));
    }
    result as usize
}
