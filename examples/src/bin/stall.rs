//! A task that deadlocks on a std mutex, and what the runtime shows of it.
//!
//! A plain thread takes a `std::sync::Mutex` and holds it for 800 ms; a
//! task blocks on the same mutex inside its poll: its worker is stuck. With `long_poll_warning(100 ms)` the runtime reports
//! the stuck poll on stderr *while it is stuck* (a watchdog thread notices),
//! naming the task and where it was spawned. A plain thread then prints a
//! task dump (`Handle::dump`) — on a timer, as the runtime has no signal
//! support yet to do it on `SIGUSR1` — which shows the stuck task
//! `Running` and the others `Pending`. The thread then lets go of the
//! mutex, the stuck poll returns, and one more report gives its total.
//!
//! Run: `cargo run -p examples --bin stall`

use std::sync::{Arc, Mutex};
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .long_poll_warning(Duration::from_millis(100))
        .build()?;
    let handle = rt.handle();
    let dumper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        eprintln!("--- task dump (from a plain thread, while a worker is stuck) ---");
        eprint!("{}", handle.dump());
        eprintln!("--- end of dump ---");
    });
    // A plain thread takes the mutex and holds it for 800 ms.
    let lock = Arc::new(Mutex::new(0u32));
    let (locked, is_locked) = std::sync::mpsc::channel();
    let holder = std::thread::spawn({
        let lock = lock.clone();
        move || {
            let guard = lock.lock().unwrap();
            locked.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(800));
            drop(guard);
        }
    });
    is_locked.recv().unwrap();
    rt.block_on(async {
        // A task that idles on a timer: it shows in the dump as Pending.
        let idler = runtime::task::Builder::new()
            .name("idler")
            .spawn(runtime::time::sleep(Duration::from_secs(3600)));
        let blocked = runtime::task::Builder::new()
            .name("blocked-on-mutex")
            .spawn({
                let lock = lock.clone();
                async move {
                    // Blocks its worker: a std mutex inside async code.
                    *lock.lock().unwrap() += 1;
                }
            });
        blocked.await.unwrap();
        idler.cancel();
        assert!(idler.await.unwrap_err().is_cancelled());
    });
    holder.join().unwrap();
    assert_eq!(*lock.lock().unwrap(), 1);
    dumper.join().unwrap();
    println!("the mutex was released; the stuck task finished");
    Ok(())
}
