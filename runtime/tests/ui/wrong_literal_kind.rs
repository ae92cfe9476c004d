#[runtime::test(flavor = current_thread)]
async fn ident_flavor() {}

#[runtime::test(flavor = 1)]
async fn integer_flavor() {}

#[runtime::main(worker_threads = "2")]
async fn string_worker_threads() {}

#[runtime::test(start_paused = "yes")]
async fn string_start_paused() {}

#[runtime::test(crate = runtime)]
async fn ident_crate() {}

fn main() {}
