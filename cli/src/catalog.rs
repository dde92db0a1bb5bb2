//! The six functions, for code that runs the same steps on each: a [`Visit`] is called with the
//! function as a type parameter, so it reaches the function's own trigger, facts and action
//! types (no copy of a rule here: the command line never has rules of its own).

use reflex_harden::Harden;
use reflex_notify::Notify;
use reflex_privatize::Privatize;
use reflex_quarantine::Quarantine;
use reflex_revoke::Revoke;
use reflex_scale::Scale;
use reflex_shared::Function;

/// Every function's name (`Function::NAME`), in the order reports list them.
pub const NAMES: [&str; 6] = [
    Revoke::NAME,
    Scale::NAME,
    Harden::NAME,
    Notify::NAME,
    Quarantine::NAME,
    Privatize::NAME,
];

/// Something done with one function, whichever it is.
pub trait Visit {
    type Out;
    fn visit<F: Function>(self) -> Self::Out;
}

/// `visit` with the function named `name`; `None` for a name that is no function's.
pub fn visit<V: Visit>(name: &str, visit: V) -> Option<V::Out> {
    Some(match name {
        Revoke::NAME => visit.visit::<Revoke>(),
        Scale::NAME => visit.visit::<Scale>(),
        Harden::NAME => visit.visit::<Harden>(),
        Notify::NAME => visit.visit::<Notify>(),
        Quarantine::NAME => visit.visit::<Quarantine>(),
        Privatize::NAME => visit.visit::<Privatize>(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Name;
    impl Visit for Name {
        type Out = &'static str;
        fn visit<F: Function>(self) -> &'static str {
            F::NAME
        }
    }

    #[test]
    fn every_name_visits_its_function() {
        for name in NAMES {
            assert_eq!(visit(name, Name), Some(name));
        }
        assert_eq!(visit("reflex-revoke", Name), None);
    }
}
