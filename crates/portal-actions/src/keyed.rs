//! Entries kept by object, then by rule, then by a key of their own: what clears together — one
//! rule on one object, or everything of one object — is found without a scan.

use std::collections::HashMap;
use std::hash::Hash;

#[derive(Debug)]
pub(crate) struct Keyed<K, T> {
    objects: HashMap<String, HashMap<String, HashMap<K, T>>>,
    len: usize,
}

impl<K, T> Default for Keyed<K, T> {
    fn default() -> Self {
        Self { objects: HashMap::new(), len: 0 }
    }
}

impl<K: Hash + Eq + Clone, T> Keyed<K, T> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn get(&self, object: &str, rule: &str, key: &K) -> Option<&T> {
        self.objects.get(object)?.get(rule)?.get(key)
    }

    pub(crate) fn get_mut(&mut self, object: &str, rule: &str, key: &K) -> Option<&mut T> {
        self.objects.get_mut(object)?.get_mut(rule)?.get_mut(key)
    }

    pub(crate) fn insert(&mut self, object: &str, rule: &str, key: K, value: T) -> Option<T> {
        let entries = self.objects.entry(object.to_owned()).or_default().entry(rule.to_owned()).or_default();
        let old = entries.insert(key, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub(crate) fn remove(&mut self, object: &str, rule: &str, key: &K) -> Option<T> {
        let rules = self.objects.get_mut(object)?;
        let entries = rules.get_mut(rule)?;
        let removed = entries.remove(key)?;
        self.len -= 1;
        if entries.is_empty() {
            rules.remove(rule);
            if rules.is_empty() {
                self.objects.remove(object);
            }
        }
        Some(removed)
    }

    /// The keys `rule` has on `object`.
    pub(crate) fn keys_of(&self, object: &str, rule: &str) -> Vec<K> {
        self.objects
            .get(object)
            .and_then(|rules| rules.get(rule))
            .map(|entries| entries.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Removes what `rule` has on `object`.
    pub(crate) fn remove_rule_on(&mut self, object: &str, rule: &str) -> Vec<(K, T)> {
        let Some(rules) = self.objects.get_mut(object) else { return Vec::new() };
        let removed: Vec<(K, T)> = rules.remove(rule).map(|entries| entries.into_iter().collect()).unwrap_or_default();
        if rules.is_empty() {
            self.objects.remove(object);
        }
        self.len -= removed.len();
        removed
    }

    /// Removes everything of `object`.
    pub(crate) fn remove_object(&mut self, object: &str) -> Vec<(String, K, T)> {
        let removed: Vec<(String, K, T)> = self
            .objects
            .remove(object)
            .into_iter()
            .flatten()
            .flat_map(|(rule, entries)| entries.into_iter().map(move |(key, value)| (rule.clone(), key, value)))
            .collect();
        self.len -= removed.len();
        removed
    }

    /// Removes the entries `remove` picks; returns them as (object, rule, key, value).
    pub(crate) fn extract(
        &mut self,
        mut remove: impl FnMut(&str, &str, &K, &T) -> bool,
    ) -> Vec<(String, String, K, T)> {
        let mut picked = Vec::new();
        for (object, rules) in &self.objects {
            for (rule, entries) in rules {
                for (key, value) in entries {
                    if remove(object, rule, key, value) {
                        picked.push((object.clone(), rule.clone(), key.clone()));
                    }
                }
            }
        }
        picked
            .into_iter()
            .filter_map(|(object, rule, key)| {
                let value = self.remove(&object, &rule, &key)?;
                Some((object, rule, key, value))
            })
            .collect()
    }

    /// Every entry as (object, rule, key, value).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str, &K, &T)> {
        self.objects.iter().flat_map(|(object, rules)| {
            rules.iter().flat_map(move |(rule, entries)| {
                entries.iter().map(move |(key, value)| (object.as_str(), rule.as_str(), key, value))
            })
        })
    }

    pub(crate) fn clear(&mut self) {
        self.objects.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_clear_by_rule_on_object_and_by_object() {
        let mut keyed: Keyed<usize, &str> = Keyed::default();
        keyed.insert("pod-a", "r1", 0, "a0");
        keyed.insert("pod-a", "r1", 1, "a1");
        keyed.insert("pod-a", "r2", 0, "a2");
        keyed.insert("pod-b", "r1", 0, "b0");
        assert_eq!(keyed.len(), 4);
        assert_eq!(keyed.remove_rule_on("pod-a", "r1").len(), 2);
        assert_eq!(keyed.get("pod-a", "r2", &0), Some(&"a2"));
        assert_eq!(keyed.remove_object("pod-a").len(), 1);
        assert_eq!(keyed.extract(|_, rule, _, _| rule == "r1").len(), 1);
        assert_eq!(keyed.len(), 0);
        assert_eq!(keyed.iter().count(), 0);
    }
}
