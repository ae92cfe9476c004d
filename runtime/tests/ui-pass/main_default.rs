// The default: multi_thread, one worker per CPU; attributes and visibility
// are kept.
#[runtime::main]
#[allow(unused_variables)]
pub async fn main() {
    let unused = 1;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(runtime::Handle::current().metrics().num_workers(), cpus);
}
