//! `harden`: placeholder, being built.
