// `main` may return a `Result`; `?` works in the body without annotations.
#[runtime::main]
async fn main() -> Result<(), std::io::Error> {
    let answer = runtime::spawn(async { 40 + 2 }).await.unwrap();
    assert_eq!(answer, 42);
    let parsed: u32 = "7"
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    assert_eq!(parsed, 7);
    Ok(())
}
