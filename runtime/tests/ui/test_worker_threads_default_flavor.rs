// `#[runtime::test]` is current_thread unless told otherwise.
#[runtime::test(worker_threads = 2)]
async fn needs_multi_thread() {}

fn main() {}
