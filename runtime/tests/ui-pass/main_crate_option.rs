// `crate = "..."` for a runtime reached under another path.
mod my_reexport {
    pub use runtime as rt;
}

#[runtime::main(crate = "my_reexport::rt", flavor = "current_thread")]
async fn main() {
    assert_eq!(my_reexport::rt::spawn(async { 1 }).await.unwrap(), 1);
}
