//! Notify's facts: none. Everything its rules read is in the event.

/// Nothing to look up.
pub type Facts = ();
