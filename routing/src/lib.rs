//! Which function an event reaches, with no AWS account: the EventBridge rules of Reflex's SAM
//! templates ([`rules`]) and an event-pattern matcher with EventBridge's semantics ([`pattern`]).
//! Shared by the `reflex` command line (plan, backtest) and the wiring tests.

pub mod pattern;
pub mod rules;
pub mod template;

pub use pattern::Pattern;
pub use rules::{Rule, rules_of};
