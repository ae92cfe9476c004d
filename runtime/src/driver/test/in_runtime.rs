//! The driver inside real runtimes: ops submitted from tasks, from a
//! `block_on` thread, dropped by timeouts, and cut off by shutdown.

use super::{pipe, write_fd, TrackedBuf};
use crate::driver::{submit, Read};
use crate::time::{sleep, timeout};
use crate::{Builder, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn runtimes() -> [Runtime; 2] {
    [
        Builder::new_current_thread().build().unwrap(),
        Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap(),
    ]
}

#[test]
fn a_pipe_read_dropped_by_timeout_keeps_its_buffer_until_the_kernel_is_done() {
    for rt in runtimes() {
        let drops = Arc::new(AtomicUsize::new(0));
        let (read_end, write_end) = pipe();
        let (r, d) = (read_end.clone(), drops.clone());
        rt.block_on(async move {
            let task = crate::spawn(async move {
                let read = submit(Read::stream(r, TrackedBuf::new(4096, &d))).unwrap();
                timeout(Duration::from_millis(20), read).await.is_err()
            });
            assert!(
                task.await.unwrap(),
                "the read must time out: the pipe is empty"
            );
        });
        // The cancel may still be on its way; the ring keeps the buffer
        // until the completion. Shutdown waits for all of that.
        drop(rt);
        assert_eq!(drops.load(Ordering::SeqCst), 1, "buffer freed exactly once");
        // The pipe is intact: a later read sees later data.
        write_fd(&write_end, b"after");
        let mut buf = [0u8; 5];
        let n = std::io::Read::read(
            &mut std::fs::File::from(read_end.try_clone().unwrap()),
            &mut buf,
        )
        .unwrap();
        assert_eq!(&buf[..n], b"after");
    }
}

#[test]
fn reads_from_tasks_and_from_block_on_complete_on_every_flavor() {
    for rt in runtimes() {
        let (read_end, write_end) = pipe();
        let writer = write_end.clone();
        let got = rt.block_on(async move {
            let r = read_end.clone();
            let in_task = crate::spawn(async move {
                let (n, buf) = submit(Read::stream(r, vec![0u8; 16])).unwrap().await;
                buf[..n.unwrap()].to_vec()
            });
            sleep(Duration::from_millis(5)).await;
            write_fd(&writer, b"one");
            let first = in_task.await.unwrap();
            // From the block_on thread itself (which owns a ring only on
            // current_thread; on multi_thread it goes through a worker's
            // command queue).
            let read = submit(Read::stream(read_end, vec![0u8; 16])).unwrap();
            write_fd(&writer, b"two");
            let (n, buf) = read.await;
            (first, buf[..n.unwrap()].to_vec())
        });
        assert_eq!(got, (b"one".to_vec(), b"two".to_vec()));
    }
}

#[test]
fn an_op_after_shutdown_fails_instead_of_hanging() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let handle = rt.handle();
    drop(rt);
    let (read_end, _write_end) = pipe();
    let other = Builder::new_current_thread().build().unwrap();
    let _enter = handle.enter();
    let result = submit(Read::stream(read_end, vec![0u8; 8]));
    match result {
        Ok(op) => {
            let (res, _) = other.block_on(op);
            assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
        }
        Err(err) => panic!("expected an op that fails, got {err}"),
    }
}

#[test]
fn io_outside_a_runtime_is_an_error_with_a_message() {
    let (read_end, _write_end) = pipe();
    let err = submit(Read::stream(read_end, vec![0u8; 8])).err().unwrap();
    assert!(
        err.to_string().contains("I/O outside of a runtime"),
        "{err}"
    );
}
