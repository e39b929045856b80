//! Entry marks ([`EntryMark`]) as stored: grouped a hundred to a record by all but the last
//! two bytes of their keys (source, NUL, arXiv id), because sled spends far more on each
//! record than a 16-byte digest (a record per mark took about 240 bytes a paper on disk; a
//! group takes about 20). Marks are a cache of what was stored: a group that cannot be read
//! is as good as empty, and its entries are read again. Pure but for the reads it is given.

use std::collections::BTreeMap;

use crate::model::EntryMark;

/// How many bytes at the end of a mark's key name it within its group.
const MEMBER_BYTES: usize = 2;

/// A mark's group (the record it is kept in) and its name within it. The source and the NUL
/// after it are always in the group.
pub(super) fn split(key: &[u8]) -> (&[u8], &[u8]) {
    let source_end = key.iter().position(|&b| b == 0).map_or(0, |nul| nul + 1);
    key.split_at(key.len().saturating_sub(MEMBER_BYTES).max(source_end))
}

/// Each member of a group record, its name and digest, in the order written; `None` where
/// the bytes stop being a group record (damaged), and nothing after that.
fn members(mut bytes: &[u8]) -> impl Iterator<Item = Option<(&[u8], [u8; 16])>> {
    std::iter::from_fn(move || {
        let (&len, rest) = bytes.split_first()?;
        let member = rest
            .split_at_checked(usize::from(len))
            .and_then(|(name, rest)| {
                let (digest, rest) = rest.split_at_checked(16)?;
                Some((name, digest.try_into().ok()?, rest))
            });
        let Some((name, digest, rest)) = member else {
            bytes = &[];
            return Some(None);
        };
        bytes = rest;
        Some(Some((name, digest)))
    })
}

/// The marks of a group record: each member's name and digest. `None` when the bytes are not
/// a group record (damaged): the group is then as good as empty.
fn decode(bytes: &[u8]) -> Option<BTreeMap<Vec<u8>, [u8; 16]>> {
    members(bytes)
        .map(|member| member.map(|(name, digest)| (name.to_vec(), digest)))
        .collect()
}

/// A group record: each member as its name's length, its name and its digest, in name order.
fn encode(members: &BTreeMap<Vec<u8>, [u8; 16]>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(members.len() * (1 + MEMBER_BYTES + 16));
    for (name, digest) in members {
        // A member's name is at most MEMBER_BYTES long, or a key without a NUL (never made).
        let len = u8::try_from(name.len()).unwrap_or(u8::MAX);
        bytes.push(len);
        bytes.extend_from_slice(&name[..usize::from(len)]);
        bytes.extend_from_slice(digest);
    }
    bytes
}

/// Whether `group` (a group record as stored, if any) holds `mark` with the same digest. Read
/// in place: this runs for every entry of every page of a marking kind.
pub(super) fn holds(group: Option<&[u8]>, mark: &EntryMark) -> bool {
    let (_, member) = split(&mark.key);
    let Some(bytes) = group else {
        return false;
    };
    let mut found = None;
    for entry in members(bytes) {
        match entry {
            Some((name, digest)) if name == member => found = Some(digest),
            Some(_) => {}
            None => return false,
        }
    }
    found == Some(mark.digest)
}

/// A group's key and its record.
pub(super) type GroupRecord = (Vec<u8>, Vec<u8>);

/// The group records that `marks` change, each written whole: `read` gives a group's record
/// as stored. A mark replaces any earlier one under its key.
pub(super) fn updated_groups<E>(
    marks: &[EntryMark],
    mut read: impl FnMut(&[u8]) -> Result<Option<Vec<u8>>, E>,
) -> Result<Vec<GroupRecord>, E> {
    let mut groups: BTreeMap<&[u8], Vec<&EntryMark>> = BTreeMap::new();
    for mark in marks {
        groups.entry(split(&mark.key).0).or_default().push(mark);
    }
    let mut records = Vec::with_capacity(groups.len());
    for (group, marks) in groups {
        let mut members = read(group)?
            .and_then(|bytes| decode(&bytes))
            .unwrap_or_default();
        for mark in marks {
            members.insert(split(&mark.key).1.to_vec(), mark.digest);
        }
        records.push((group.to_vec(), encode(&members)));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(key: &[u8], digest: u8) -> EntryMark {
        EntryMark {
            key: key.to_vec(),
            digest: [digest; 16],
        }
    }

    #[test]
    fn keys_split_after_the_source_and_before_the_last_two_bytes() {
        assert_eq!(
            split(b"src\x002604.26888"),
            (&b"src\x002604.268"[..], &b"88"[..])
        );
        assert_eq!(split(b"src\x001"), (&b"src\x00"[..], &b"1"[..]));
        assert_eq!(split(b"src\x00"), (&b"src\x00"[..], &b""[..]));
    }

    #[test]
    fn groups_keep_every_member_and_a_new_digest_replaces_the_old() {
        let marks = [mark(b"s\x002604.00101", 1), mark(b"s\x002604.00102", 2)];
        let none = |_: &[u8]| Ok::<_, ()>(None);
        let written = updated_groups(&marks, none).unwrap();
        assert_eq!(written.len(), 1);
        let (group, record) = &written[0];
        assert_eq!(group, b"s\x002604.001");
        assert!(marks.iter().all(|m| holds(Some(record), m)));
        assert!(!holds(Some(record), &mark(b"s\x002604.00101", 3)));
        assert!(!holds(None, &marks[0]));

        // Another batch: one member replaced, one added, the other kept.
        let later = [mark(b"s\x002604.00101", 3), mark(b"s\x002604.00199", 4)];
        let stored = |_: &[u8]| Ok::<_, ()>(Some(record.clone()));
        let written = updated_groups(&later, stored).unwrap();
        let record = &written[0].1;
        assert!(holds(Some(record), &later[0]));
        assert!(holds(Some(record), &later[1]));
        assert!(holds(Some(record), &marks[1]));
        assert!(!holds(Some(record), &marks[0]));
    }

    #[test]
    fn a_damaged_group_holds_nothing_and_is_written_anew() {
        let m = mark(b"s\x002604.00101", 1);
        for damaged in [&b"\x05ab"[..], &b"\x0201"[..], &[2, b'0', b'1', 7][..]] {
            assert!(!holds(Some(damaged), &m));
            let written = updated_groups(std::slice::from_ref(&m), |_| {
                Ok::<_, ()>(Some(damaged.to_vec()))
            })
            .unwrap();
            assert!(holds(Some(&written[0].1), &m));
        }
    }
}
