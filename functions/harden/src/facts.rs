//! Harden's facts: none. Its rules judge the event alone (what a call turned off, what a log
//! group was created without), and the executor reads the current state itself before it
//! changes anything, so a repeated delivery still reports "already done".

use reflex_shared::Notes;

use crate::trigger::Trigger;

/// Nothing beyond the event.
pub type Facts = ();

/// No lookup: nothing to read, nothing to note.
pub async fn gather(_trigger: &Trigger, _notes: &mut Notes) -> Facts {}
