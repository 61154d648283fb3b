//! Offline mode.
