//! Settings: small values by name, in their own table, `settings`, that must outlive a
//! restart besides the runs: the decisions an operator makes at run time (a pause and its
//! reasons), and the rails' state of each target (its rate-limit window, its breaker).
//!
//! An operator's decision is rare (a person types it), so it is its own durable redb
//! transaction ([`Store::put_setting`]), written before the operator is answered. The
//! rails' state changes with runs, so it goes with them: a [`Batch`](super::Batch)'s
//! `settings`, in the same commit (and journal frame) as the runs that changed it. What
//! this module is not: a general key-value store.

use redb::{ReadableTable as _, TableDefinition, TableError};

use super::{Store, StoreError};

/// Name → value (JSON, as the caller encodes it). Made by the first write that needs it,
/// not at open, so that a store written before it still opens without a write.
pub(super) const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings");

impl Store {
    /// Sets the setting `name` to `value`, or deletes it when `None`; durable once it
    /// returns `Ok` (and with it every batch committed before).
    ///
    /// # Errors
    /// [`StoreError::Write`] when the store cannot be written (full disk, read-only file).
    pub fn put_setting(&self, name: &str, value: Option<&[u8]>) -> Result<(), StoreError> {
        let _journal = self
            .inner
            .journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.with_writer(|db, cx| {
            let txn = db.begin_write().map_err(|e| cx.error(e))?;
            {
                let mut table = txn.open_table(SETTINGS).map_err(|e| cx.error(e))?;
                match value {
                    Some(value) => table.insert(name, value).map(|_| ()),
                    None => table.remove(name).map(|_| ()),
                }
                .map_err(|e| cx.error(e))?;
            }
            txn.commit().map_err(|e| cx.error(e))
        })
    }

    /// Every setting, by name.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn settings(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.with_reader(|db, cx| {
            let txn = db.begin_read().map_err(|e| cx.error(e))?;
            let table = match txn.open_table(SETTINGS) {
                Ok(table) => table,
                Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(cx.error(e)),
            };
            let mut all = Vec::new();
            for entry in table.iter().map_err(|e| cx.error(e))? {
                let (name, value) = entry.map_err(|e| cx.error(e))?;
                all.push((name.value().to_owned(), value.value().to_vec()));
            }
            Ok(all)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_survives_reopening_the_store_and_can_be_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.settings().unwrap(), vec![]);
        store.put_setting("pauses", Some(b"[1]")).unwrap();
        store.put_setting("other", Some(b"x")).unwrap();
        store.put_setting("other", None).unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.settings().unwrap(),
            vec![("pauses".to_owned(), b"[1]".to_vec())]
        );
    }
}
