//! What to do next when `serve` cannot start, for the failures that are the operator's to
//! fix: the state directory cannot be opened (the default `/var/lib/alertrun` as an
//! ordinary user). A port in use is worded by the listener's own error
//! ([`super::listener::ServeError::InUse`]).
//!
//! It only words errors; it never retries or falls back (a silent fallback to another
//! directory would lose the history).

use std::io;
use std::path::Path;

use crate::store::StoreError;

/// `e`, from opening the store in `dir`, with the way out when the directory is not ours.
pub(super) fn store_error(dir: &Path, e: StoreError) -> anyhow::Error {
    let denied = matches!(&e, StoreError::Open { source, .. }
        if source.kind() == io::ErrorKind::PermissionDenied);
    if !denied {
        return anyhow::Error::new(e)
            .context(format!("cannot open the state store in {}", dir.display()));
    }
    let dir = dir.display();
    anyhow::anyhow!(
        "cannot open the state store in {dir}: permission denied: create it for the user \
         alertrun runs as (sudo install -d -o \"$USER\" {dir}), or keep the state elsewhere \
         with --state-dir ./alertrun-state or server.state.dir"
    )
}
