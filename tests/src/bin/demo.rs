//! The local demo: `make demo` (or `cargo run -p reflex-tests --bin reflex-demo`).
//! `RUST_LOG=info` adds the audit log lines. The scenarios live in `reflex_tests::demo`.

#[tokio::main]
async fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        reflex_shared::lambda::init_tracing();
    }
    reflex_tests::demo::run().await;
}
