//! Records the host target triple, so the architecture tests resolve the graph for it only.
fn main() {
    let host = std::env::var("TARGET").unwrap_or_else(|_| "x86_64-unknown-linux-gnu".to_owned());
    println!("cargo:rustc-env=XTASK_HOST={host}");
}
