//! Reads numbers from standard input, one per line, and prints their
//! Fibonacci numbers, while a heartbeat shows the runtime is never blocked.
//!
//! The article's loop polls stdin with a zero timeout (busy-waiting) and
//! computes Fibonacci inline, so a large `n` freezes everything. Here stdin
//! is read asynchronously (`runtime::io::stdin`), the computation runs on
//! the blocking pool (`spawn_blocking`), the result is exact (`u128`, so up
//! to n = 186), bad input gets a message and the loop goes on, and the end
//! of input ends the program.
//!
//! `cargo run -p examples --bin stdin_fib`, then type numbers; Ctrl-D ends.
//! `--heartbeat-ms N` sets the heartbeat period (default 500).

use futures_util::io::{AsyncBufReadExt, BufReader};
use futures_util::StreamExt;
use std::time::Duration;

/// The largest `n` whose Fibonacci number fits in a `u128`.
const MAX_N: u32 = 186;

/// fib(n), iteratively: the article's doubly recursive version takes
/// exponential time; this is the same function done properly.
fn fib(n: u32) -> u128 {
    let (mut a, mut b) = (0u128, 1u128);
    for _ in 0..n {
        // `b` runs one step ahead: at n = 186 it would be fib(187), which
        // overflows but is never returned.
        (a, b) = (b, a.wrapping_add(b));
    }
    a
}

/// What to do with one line of input.
fn parse(line: &str) -> Result<u32, String> {
    let trimmed = line.trim();
    let n: u64 = trimmed
        .parse()
        .map_err(|_| format!("not a number: {trimmed:?} (expected a whole number 0..={MAX_N})"))?;
    u32::try_from(n)
        .ok()
        .filter(|&n| n <= MAX_N)
        .ok_or_else(|| format!("too large: {n} (fib(n) fits in 128 bits only up to n = {MAX_N})"))
}

fn heartbeat_period() -> Result<Duration, String> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => Ok(Duration::from_millis(500)),
        (Some("--heartbeat-ms"), Some(ms)) => ms
            .parse::<u64>()
            .ok()
            .filter(|&ms| ms > 0)
            .map(Duration::from_millis)
            .ok_or_else(|| format!("--heartbeat-ms takes a positive number, not {ms:?}")),
        _ => Err("usage: stdin_fib [--heartbeat-ms N]".to_string()),
    }
}

#[runtime::main(worker_threads = 2)]
async fn main() {
    let period = match heartbeat_period() {
        Ok(period) => period,
        Err(message) => {
            eprintln!("stdin_fib: {message}");
            std::process::exit(2);
        }
    };
    let heartbeat = runtime::spawn(async move {
        let mut interval = runtime::time::interval(period);
        interval.tick().await;
        let mut beats = 0u64;
        loop {
            interval.tick().await;
            beats += 1;
            println!("heartbeat {beats}");
        }
    });

    let mut lines = BufReader::new(runtime::io::stdin()).lines();
    while let Some(line) = lines.next().await {
        let line = match line {
            Ok(line) => line,
            Err(err) => {
                eprintln!("stdin_fib: reading stdin failed: {err}");
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match parse(&line) {
            Ok(n) => {
                // Off the workers: the heartbeat keeps beating meanwhile.
                let value = runtime::spawn_blocking(move || fib(n)).await;
                match value {
                    Ok(value) => println!("fib({n}) = {value}"),
                    Err(err) => eprintln!("stdin_fib: computing fib({n}) failed: {err}"),
                }
            }
            Err(message) => println!("error: {message}"),
        }
    }
    heartbeat.cancel();
    println!("end of input");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fib_is_exact_up_to_the_limit() {
        assert_eq!(fib(0), 0);
        assert_eq!(fib(1), 1);
        assert_eq!(fib(10), 55);
        assert_eq!(fib(93), 12_200_160_415_121_876_738);
        assert_eq!(
            fib(186),
            332_825_110_087_067_562_321_196_029_789_634_457_848
        );
    }

    #[test]
    fn parse_rejects_what_it_cannot_compute() {
        assert_eq!(parse(" 42 "), Ok(42));
        assert!(parse("forty").unwrap_err().starts_with("not a number"));
        assert!(parse("-1").unwrap_err().starts_with("not a number"));
        assert!(parse("187").unwrap_err().starts_with("too large: 187"));
        assert!(parse("99999999999").unwrap_err().starts_with("too large"));
    }
}
