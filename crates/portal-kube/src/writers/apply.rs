//! How every writer writes: server-side apply under one field manager.

use kube::api::PatchParams;

/// The field manager of every write, so `kubectl` shows which fields Portal owns.
pub const FIELD_MANAGER: &str = "portal";

/// Server-side apply as [`FIELD_MANAGER`], taking over fields another manager set: Portal is
/// the only writer of what it applies.
pub(super) fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}
