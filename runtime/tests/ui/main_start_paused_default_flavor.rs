// `#[runtime::main]` is multi_thread unless told otherwise.
#[runtime::main(start_paused = true)]
async fn main() {}
