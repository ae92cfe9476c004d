#[runtime::main]
async fn main(args: Vec<String>, count: usize) {
    println!("{args:?} {count}");
}
