//! Attribute macros for the `runtime` crate: `#[runtime::main]` and
//! `#[runtime::test]`.
//!
//! Use them through the `runtime` crate (`runtime::main`, `runtime::test`),
//! where their documentation is shown too; this crate is an implementation
//! detail. The generated code refers to the runtime as `::runtime` unless
//! the `crate` option says otherwise.
//!
//! Both macros turn an `async fn` into a plain `fn` that builds a runtime
//! with `runtime::Builder` and blocks on the function's body. For example
//!
//! ```ignore
//! #[runtime::main(worker_threads = 2)]
//! async fn main() -> Result<(), std::io::Error> {
//!     let answer = runtime::spawn(async { 40 + 2 }).await.unwrap();
//!     println!("{answer}");
//!     Ok(())
//! }
//! ```
//!
//! becomes, roughly,
//!
//! ```ignore
//! fn main() -> Result<(), std::io::Error> {
//!     async fn __runtime_entry_body() -> Result<(), std::io::Error> {
//!         let answer = runtime::spawn(async { 40 + 2 }).await.unwrap();
//!         println!("{answer}");
//!         Ok(())
//!     }
//!     let body = __runtime_entry_body();
//!     ::runtime::Builder::new_multi_thread()
//!         .worker_threads(2)
//!         .build()
//!         .expect("failed to build the runtime")
//!         .block_on(body)
//! }
//! ```
//!
//! The body is moved into a nested `async fn` rather than an `async` block
//! so that it carries the function's declared return type: it is
//! type-checked exactly like any `async fn`, `?` needs no annotations, and a
//! type mismatch is reported at the offending expression in the body, not at
//! the attribute. One consequence: the body cannot use `Self` or generic
//! parameters of an enclosing item (entry points and tests have neither).
//!
//! On misuse, the macros emit the error (pointing at the offending tokens)
//! *and* the function expanded as well as possible, with the valid options,
//! so that one mistake gives one error rather than a cascade such as
//! "`main` function not found".

#![warn(missing_docs)]

mod entry;
mod options;

use proc_macro::TokenStream;

use crate::options::Kind;

/// Runs `async fn main` on a new runtime.
///
/// The function becomes a plain `fn` that builds a runtime, blocks on the
/// body, and returns what the body returns: `main` keeps its return type
/// (so it can return `Result<(), E>`), its attributes and its visibility.
/// By default the runtime is the multi-thread, work-stealing flavor with one
/// worker per CPU.
///
/// ```ignore
/// #[runtime::main]
/// async fn main() -> Result<(), std::io::Error> {
///     let answer = runtime::spawn(async { 40 + 2 }).await.unwrap();
///     assert_eq!(answer, 42);
///     Ok(())
/// }
/// ```
///
/// # Options
///
/// Options go in parentheses, separated by commas, in any order, each at
/// most once:
///
/// | option | values | default |
/// |---|---|---|
/// | `flavor` | `"multi_thread"` or `"current_thread"` | `"multi_thread"` |
/// | `worker_threads` | an integer literal, at least 1; `multi_thread` only | one per CPU |
/// | `start_paused` | `true` or `false`; `current_thread` only | `false` |
/// | `crate` | a string holding the path to the runtime crate | `"::runtime"` |
///
/// * `worker_threads = N` calls `.worker_threads(N)` on the builder.
/// * `start_paused = true` calls `.start_paused(true)` on the builder (the
///   virtual clock starts paused); `start_paused = false` adds nothing.
/// * `crate = "path"` is for code that reaches `runtime` under another path
///   (a renamed dependency, or a re-export from another crate).
///
/// ```ignore
/// #[runtime::main(worker_threads = 4)]
/// async fn main() { /* four workers */ }
///
/// #[runtime::main(flavor = "current_thread")]
/// async fn main() { /* tasks run on the main thread, inside `block_on` */ }
///
/// #[runtime::main(crate = "my_reexport::runtime")]
/// async fn main() { /* `runtime` reached through a re-export */ }
/// ```
///
/// # Errors
///
/// These are compile errors that point at the offending tokens: a function
/// that is not `async` (at `fn`), a function with arguments (at the
/// arguments), an unknown option (at its name), an unknown flavor (at the
/// string), `worker_threads = 0` (at the `0`), `worker_threads` with the
/// `current_thread` flavor, `start_paused` with the `multi_thread` flavor,
/// an option given twice, an option without a value, and a value that is
/// not a literal of the right kind. Each message lists what is accepted.
///
/// # Panics
///
/// The generated `main` panics with "failed to build the runtime" (and the
/// OS error) if the runtime cannot be built, for instance if a worker thread
/// cannot be started.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(Kind::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` test on a new runtime.
///
/// The function becomes a plain `#[test]` function that builds a runtime of
/// its own and blocks on the body. By default the runtime is the
/// `current_thread` flavor: tasks run on the test's thread. The test keeps
/// its attributes (`#[should_panic]`, `#[ignore]`, ...) and may return
/// `Result<(), E>`.
///
/// ```ignore
/// #[runtime::test]
/// async fn spawns() {
///     assert_eq!(runtime::spawn(async { 1 + 1 }).await.unwrap(), 2);
/// }
///
/// #[runtime::test(flavor = "multi_thread", worker_threads = 2)]
/// async fn on_two_workers() -> Result<(), std::io::Error> {
///     assert_eq!(runtime::Handle::current().metrics().num_workers(), 2);
///     Ok(())
/// }
///
/// #[runtime::test(start_paused = true)]
/// async fn with_a_paused_clock() { /* `current_thread` only */ }
/// ```
///
/// # Options
///
/// The same as [`macro@main`]'s, except that the default flavor is
/// `"current_thread"`, so `worker_threads` needs an explicit
/// `flavor = "multi_thread"`:
///
/// | option | values | default |
/// |---|---|---|
/// | `flavor` | `"multi_thread"` or `"current_thread"` | `"current_thread"` |
/// | `worker_threads` | an integer literal, at least 1; `multi_thread` only | one per CPU |
/// | `start_paused` | `true` or `false`; `current_thread` only | `false` |
/// | `crate` | a string holding the path to the runtime crate | `"::runtime"` |
///
/// # Errors
///
/// The same misuse as for [`macro@main`] is a compile error at the
/// offending tokens. In addition, the macro adds `#[test]` itself, so a
/// `#[test]` written below `#[runtime::test]` is an error ("this `#[test]` is
/// redundant"): with both, the test would be registered twice.
///
/// # Panics
///
/// The test panics (and fails) with "failed to build the runtime" if the
/// runtime cannot be built.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(Kind::Test, args.into(), item.into()).into()
}
