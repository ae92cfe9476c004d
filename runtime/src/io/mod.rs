//! Asynchronous I/O that is not tied to a socket or file type: standard
//! input for now.

mod stdin;

pub use self::stdin::{stdin, Stdin};
