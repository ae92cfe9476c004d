#[runtime::main(worker_threads = 2)]
async fn main() {
    assert_eq!(runtime::Handle::current().metrics().num_workers(), 2);
    let mut handles = Vec::new();
    for i in 0..8 {
        handles.push(runtime::spawn(async move { i * 2 }));
    }
    let mut sum = 0;
    for handle in handles {
        sum += handle.await.unwrap();
    }
    assert_eq!(sum, 56);
}
