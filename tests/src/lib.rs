//! Reflex's emulator harness, shared by the end-to-end tests and the local demo.

pub mod account;
pub mod emulator;

pub use account::{Account, Delivered, load_event};
pub use emulator::Emulator;
