//! Notify's executor: there is never an action to carry out.

use reflex_shared::Outcome;

use crate::actions::NoAction;

pub async fn execute(action: &NoAction) -> Outcome {
    match *action {}
}
