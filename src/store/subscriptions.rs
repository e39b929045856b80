//! WebSub subscriptions in the store: one record per feed and callback, so subscriptions and
//! what each subscriber was last sent survive restarts. Not part of any batch: writing one
//! leaves the feeds' generation alone.

use super::keys::{decode, encode};
use super::kv::{Op, StoreError, Tree};
use super::papers::PaperStore;
use crate::model::Subscription;

fn key(topic: &str, callback: &str) -> Vec<u8> {
    [topic.as_bytes(), &[0], callback.as_bytes()].concat()
}

impl PaperStore {
    /// Every stored subscription, by feed URL and callback.
    pub fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let mut out = Vec::new();
        self.for_each_chunk(Tree::Subscriptions, |rows| {
            for (key, bytes) in rows {
                out.push(decode(Tree::Subscriptions, key, bytes)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The subscription of `callback` to the feed `topic`, when there is one.
    pub fn subscription(
        &self,
        topic: &str,
        callback: &str,
    ) -> Result<Option<Subscription>, StoreError> {
        let key = key(topic, callback);
        self.kv
            .get(Tree::Subscriptions, &key)?
            .map(|bytes| decode(Tree::Subscriptions, &key, &bytes))
            .transpose()
    }

    /// Stores a subscription, replacing the same subscriber's earlier one to the same feed.
    pub fn put_subscription(&self, subscription: &Subscription) -> Result<(), StoreError> {
        let key = key(&subscription.topic, &subscription.callback);
        let value = encode(Tree::Subscriptions, &key, subscription)?;
        self.kv.commit(&[Op::Put(Tree::Subscriptions, key, value)])
    }

    /// Removes the subscription of `callback` to `topic`; whether there was one.
    pub fn remove_subscription(&self, topic: &str, callback: &str) -> Result<bool, StoreError> {
        let key = key(topic, callback);
        if self.kv.get(Tree::Subscriptions, &key)?.is_none() {
            return Ok(false);
        }
        self.kv.commit(&[Op::Delete(Tree::Subscriptions, key)])?;
        Ok(true)
    }
}
