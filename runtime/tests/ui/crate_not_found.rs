// A `crate` path that does not resolve is reported at the string.
#[runtime::main(crate = "no_such_crate::rt")]
async fn main() {}
