//! A task that deadlocks on a std mutex, and what the runtime shows of it.
//!
//! A plain thread takes a `std::sync::Mutex` and holds it; a task blocks on
//! the same mutex inside its poll: its worker is stuck. With
//! `long_poll_warning(100 ms)` the runtime reports the stuck poll on stderr
//! *while it is stuck* (a watchdog thread notices), naming the task and
//! where it was spawned, and then the stuck thread's stack, down to the
//! `lock` call in `add_one_under_the_lock`.
//!
//! `SIGUSR1` prints a task dump (`Handle::dump`), which shows the stuck
//! task `Running` and the others `Pending`. The program prints its pid so
//! you can send one yourself (`kill -USR1 <pid>`); to stay self-contained
//! it also sends itself one, once the stuck poll has been reported. The
//! listener runs on a plain thread of its own, with a small current_thread
//! runtime: a listener task on the stalled runtime would depend on a free
//! worker picking it up, and the point of a dump is to work when workers
//! are stuck. After the dump the thread lets go of the mutex, the stuck
//! poll returns, and one more report gives its total.
//!
//! Run: `cargo run -p examples --bin stall`

use runtime::signal::unix::{signal, SignalKind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the stuck task blocks: a name to look for in the report's stack.
#[inline(never)]
fn add_one_under_the_lock(lock: &Mutex<u32>) {
    *lock.lock().unwrap() += 1;
}

fn main() -> std::io::Result<()> {
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .long_poll_warning(Duration::from_millis(100))
        .build()?;

    // The listener exists before anything sends SIGUSR1 (whose default
    // action would end the process).
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let pid = std::process::id();
    eprintln!("pid {pid}: `kill -USR1 {pid}` prints a task dump");
    let (dumped, was_dumped) = mpsc::channel();
    let done = Arc::new(AtomicBool::new(false));
    let dumper = std::thread::spawn({
        let handle = rt.handle();
        let done = done.clone();
        move || -> std::io::Result<()> {
            let listener = runtime::Builder::new_current_thread().build()?;
            listener.block_on(async {
                while !done.load(Ordering::SeqCst) {
                    // Looks at `done` every 50 ms; a signal meanwhile is
                    // counted, not lost, by the listener.
                    let tick = runtime::time::timeout(Duration::from_millis(50), usr1.recv());
                    if let Ok(Some(())) = tick.await {
                        eprintln!("--- task dump (on SIGUSR1, from a plain thread) ---");
                        eprint!("{}", handle.dump());
                        eprintln!("--- end of dump ---");
                        let _ = dumped.send(());
                    }
                }
            });
            Ok(())
        }
    });

    // A plain thread takes the mutex and holds it until the dump is made
    // (at most 10 s).
    let lock = Arc::new(Mutex::new(0u32));
    let (locked, is_locked) = mpsc::channel();
    let holder = std::thread::spawn({
        let lock = lock.clone();
        move || {
            let guard = lock.lock().unwrap();
            locked.send(()).unwrap();
            let _ = was_dumped.recv_timeout(Duration::from_secs(10));
            drop(guard);
        }
    });
    is_locked.recv().unwrap();

    // Once the watchdog has reported the stuck poll, and a second later
    // (the stack follows the summary when its frames are named, which the
    // first time reads the binary's debug info), the program signals
    // itself.
    let metrics = rt.metrics();
    let self_signal = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        while metrics.live_stall_reports() == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_secs(1));
        eprintln!("(sending myself SIGUSR1)");
        // SAFETY: kill with our own pid and a valid signal number has no
        // memory effects; a listener for SIGUSR1 exists (above).
        unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
    });

    rt.block_on(async {
        // A task that idles on a timer: it shows in the dump as Pending.
        let idler = runtime::task::Builder::new()
            .name("idler")
            .spawn(runtime::time::sleep(Duration::from_secs(3600)));
        let blocked = runtime::task::Builder::new()
            .name("blocked-on-mutex")
            .spawn({
                let lock = lock.clone();
                // Blocks its worker: a std mutex inside async code.
                async move { add_one_under_the_lock(&lock) }
            });
        blocked.await.unwrap();
        idler.cancel();
        assert!(idler.await.unwrap_err().is_cancelled());
    });
    holder.join().unwrap();
    self_signal.join().unwrap();
    done.store(true, Ordering::SeqCst);
    dumper.join().unwrap()?;
    assert_eq!(*lock.lock().unwrap(), 1);
    println!("the mutex was released; the stuck task finished");
    Ok(())
}
