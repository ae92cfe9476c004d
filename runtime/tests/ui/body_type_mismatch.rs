// A type error in the body is reported at the offending expression, not at
// the attribute.
#[runtime::main]
async fn main() -> Result<(), std::io::Error> {
    let answer = 42;
    answer
}

#[runtime::main(flavor = "current_thread")]
async fn early_return() -> u32 {
    if std::env::args().count() > 10 {
        return "many";
    }
    7
}

#[derive(Debug)]
struct MyError;

#[runtime::main]
async fn question_mark() -> Result<(), MyError> {
    let _n: u32 = "7".parse()?;
    Ok(())
}

#[runtime::main]
async fn no_return_type() {
    1 + 1
}
