//! Key rotation and the sealed canary.
//!
//! Rotating `SSO_SECRET_KEY` is three steps, none of which needs every record re-sealed at
//! once: (1) deploy the ring `NEW,OLD` (both keys open, the new one seals); (2)
//! [`Store::reseal`] (`sso rotate-key`) re-seals every vendor secret and the canary under the
//! new key; (3) deploy `NEW` alone. Each vendor is rewritten with one conditional write on
//! the record it read, so a vendor changed meanwhile is not overwritten (run it again).

use super::directory::VendorRecord;
use super::{DATA, Store, decode, keys};
use crate::StoreError;
use crate::item::{Attr, Cond, Item, Req, Write, WriteOutcome};
use crate::port::{DirectoryAdmin, Readiness};

/// The text the canary seals.
const CANARY_TEXT: &str = "sso canary";

/// What [`Store::reseal`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resealed {
    /// Vendors whose secrets were sealed under the previous key and are now under the current.
    pub vendors: usize,
    /// Vendors already under the current key (left as they were).
    pub current: usize,
}

impl Store {
    /// Re-seals every vendor secret (and the canary) that the current key does not open, with
    /// the current key. Records the box cannot open at all fail the run with
    /// [`StoreError::SecretKey`] before anything of theirs is written.
    pub async fn reseal(&self) -> Result<Resealed, StoreError> {
        let mut done = Resealed::default();
        for tenant in self.list_tenants().await? {
            let items = self
                .query_all(keys::tenant_pk(&tenant.name), "VENDOR#")
                .await?;
            for item in items {
                let record: VendorRecord = decode(&item)?;
                let context = item.key.to_string();
                let under_current = self.secrets.opens_with_current(&context, &record.secret)
                    && record
                        .previous_secret
                        .as_ref()
                        .is_none_or(|p| self.secrets.opens_with_current(&context, p));
                if under_current {
                    done.current += 1;
                    continue;
                }
                let vendor = self.vendor_from_record(&item.key, record)?;
                let fresh = self.vendor_record(&vendor)?;
                self.replace_unchanged(&item, fresh).await?;
                done.vendors += 1;
            }
        }
        let canary = self.sealed_canary()?;
        self.backend
            .write(Write::Put {
                item: canary,
                cond: Cond::Always,
            })
            .await?;
        Ok(done)
    }

    /// Writes `fresh` over `old` only if the record still holds what was read.
    async fn replace_unchanged(&self, old: &Item, fresh: Item) -> Result<(), StoreError> {
        let read = old.s(DATA).unwrap_or_default().to_owned();
        let outcome = self
            .backend
            .write(Write::Put {
                item: fresh,
                cond: Cond::Live {
                    now: 0,
                    reqs: vec![Req::Eq(DATA.into(), Attr::S(read))],
                },
            })
            .await?;
        match outcome {
            WriteOutcome::ConditionFailed => Err(StoreError::unavailable(
                "a vendor changed while it was being re-sealed; run it again",
            )),
            WriteOutcome::Done(_) => Ok(()),
        }
    }

    fn sealed_canary(&self) -> Result<Item, StoreError> {
        let key = keys::canary();
        let sealed = self.secrets.seal(&key.to_string(), CANARY_TEXT)?;
        Ok(Item::new(key).with(DATA, Attr::S(sealed)))
    }
}

#[async_trait::async_trait]
impl Readiness for Store {
    async fn ready(&self, check_key: bool) -> Result<(), StoreError> {
        let key = keys::canary();
        let found = self.backend.get(&key).await?;
        if !check_key {
            return Ok(());
        }
        let sealed = match found {
            Some(item) => item.s(DATA).map(str::to_owned),
            None => {
                // The first check of a deployment seals the canary (once: a conditional put).
                let canary = self.sealed_canary()?;
                let outcome = self
                    .backend
                    .write(Write::Put {
                        item: canary.clone(),
                        cond: Cond::AbsentOrExpired { now: 0 },
                    })
                    .await?;
                match outcome {
                    WriteOutcome::Done(_) => canary.s(DATA).map(str::to_owned),
                    WriteOutcome::ConditionFailed => self
                        .backend
                        .get(&key)
                        .await?
                        .and_then(|i| i.s(DATA).map(str::to_owned)),
                }
            }
        };
        let opened = sealed
            .ok_or(StoreError::SecretKey)
            .and_then(|s| self.secrets.open(&key.to_string(), &s))?;
        if opened == CANARY_TEXT {
            Ok(())
        } else {
            Err(StoreError::SecretKey)
        }
    }
}
