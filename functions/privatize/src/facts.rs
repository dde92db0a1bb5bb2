//! Privatize's facts: none. Its rules judge the event alone (what the call made public), and
//! the executor reads the current policy, ACL, block or permissions itself before it changes
//! anything, so a repeated delivery still reports "already done".

use reflex_shared::Notes;

use crate::trigger::Trigger;

/// Nothing beyond the event.
pub type Facts = ();

/// No lookup: nothing to read, nothing to note.
pub async fn gather(_trigger: &Trigger, _notes: &mut Notes) -> Facts {}
