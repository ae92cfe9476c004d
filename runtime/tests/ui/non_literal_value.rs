const WORKERS: usize = 2;

#[runtime::main(worker_threads = WORKERS)]
async fn main() {}
