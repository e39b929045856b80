//! Short stable digests and hexadecimal: the ETags of rendered feeds, paging cursors, the
//! topics' fingerprint, polling jitter and the identifiers made for entries that have none.
//! Pure.

use sha2::{Digest, Sha256};

/// A short, stable hex digest of text or bytes (the first 16 bytes of SHA-256).
pub fn short_hash(data: impl AsRef<[u8]>) -> String {
    hex(&Sha256::digest(data.as_ref())[..16])
}

/// Bytes as lowercase hexadecimal, two digits each.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_short_hash() {
        assert_eq!(hex(&[0x00, 0xab, 0xff, 0x10]), "00abff10");
        assert_eq!(short_hash("abc"), short_hash(b"abc"));
        assert_eq!(short_hash("abc"), "ba7816bf8f01cfea414140de5dae2223");
    }
}
