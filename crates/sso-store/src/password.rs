//! Argon2id password verifiers (PHC strings), with OWASP's minimum parameters.
//!
//! Every user, agent and administrator password is stored only as a verifier. Unknown users
//! are checked against a dummy verifier with the same parameters, so response time does not
//! tell which accounts exist.

use std::sync::{Mutex, OnceLock};

use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::StoreError;

/// OWASP minimum for Argon2id: 19 MiB, 2 iterations, 1 lane.
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Iterations.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const LANES: u32 = 1;

/// Makes a verifier for `password` with a fresh random salt, in pooled Argon2 memory: an
/// import hashes thousands of passwords one after the other, and a fresh 19 MiB per hash
/// left the allocator holding most of each (a 1 000-record import peaked at 19 GB RSS).
pub fn hash(password: &str) -> Result<String, StoreError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| StoreError::Io(format!("OS random source: {e}")))?;
    let invalid = |why: String| StoreError::Invalid {
        what: "password",
        why,
    };
    let params =
        Params::new(MEMORY_KIB, ITERATIONS, LANES, None).map_err(|e| invalid(e.to_string()))?;
    let n = params.block_count();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut out = [0u8; 32];
    with_blocks(n, |blocks| {
        argon2.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
    })
    .map_err(|e| invalid(e.to_string()))?;
    Ok(format!(
        "$argon2id$v=19$m={MEMORY_KIB},t={ITERATIONS},p={LANES}${}${}",
        b64(&salt),
        b64(&out)
    ))
}

/// The PHC string format's base64: standard alphabet, no padding.
fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            let index = (n >> (18 - 6 * i)) & 63;
            s.push(char::from(ALPHABET[index as usize]));
        }
    }
    s
}

/// Whether `verifier` is an Argon2id PHC string we can check.
pub fn is_verifier(verifier: &str) -> bool {
    PasswordHash::new(verifier).is_ok_and(|h| h.algorithm.as_str() == "argon2id")
}

/// Checks `password` against `verifier`; `None` runs the same work against a dummy verifier
/// and fails, so unknown accounts cost as much as known ones.
pub fn verify(verifier: Option<&str>, password: &str) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy =
        DUMMY.get_or_init(|| hash("dummy password for unknown accounts").unwrap_or_default());
    let (phc, real) = match verifier {
        Some(v) => (v, true),
        None => (dummy.as_str(), false),
    };
    let ok = PasswordHash::new(phc).is_ok_and(|h| verify_pooled(&h, password.as_bytes()));
    ok && real
}

/// Argon2 working memory kept between checks (at most this many buffers of 19 MiB; more
/// checks at once than this allocate and free their own). Allocating and freeing 19 MiB per
/// check left the allocator's per-thread arenas holding ever more of it: a soak's RSS grew
/// 22 % in four minutes. Reused buffers keep it flat at the number of concurrent checks.
const POOLED_BUFFERS: usize = 8;

static POOL: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Runs `f` on `n` blocks of pooled Argon2 memory.
fn with_blocks<T>(n: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let mut blocks = POOL
        .lock()
        .ok()
        .and_then(|mut pool| pool.pop())
        .unwrap_or_default();
    if blocks.len() < n {
        blocks.resize(n, Block::new());
    }
    let answer = f(&mut blocks[..n]);
    if let Ok(mut pool) = POOL.lock()
        && pool.len() < POOLED_BUFFERS
    {
        pool.push(blocks);
    }
    answer
}

/// Recomputes the verifier's hash for `password` with its own parameters and salt, in pooled
/// memory, and compares in constant time (`Output`'s equality).
fn verify_pooled(h: &PasswordHash, password: &[u8]) -> bool {
    let (Ok(params), Some(salt), Some(expected)) =
        (Params::try_from(h), h.salt.as_ref(), h.hash.as_ref())
    else {
        return false;
    };
    if h.algorithm.as_str() != "argon2id" || h.version.is_some_and(|v| v != 0x13) {
        return false;
    }
    let n = params.block_count();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut out = vec![0u8; expected.len()];
    let computed = with_blocks(n, |blocks| {
        argon2.hash_password_into_with_memory(password, salt.as_ref(), &mut out, blocks)
    });
    computed.is_ok() && Output::new(&out).is_ok_and(|o| o == *expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHasher;

    #[test]
    fn a_verifier_accepts_its_password_only() {
        let v = hash("agentpass").unwrap();
        assert!(v.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(is_verifier(&v));
        assert!(verify(Some(&v), "agentpass"));
        assert!(!verify(Some(&v), "agentpasS"));
        assert!(!verify(None, "agentpass"));
        assert!(!is_verifier("agentpass"));
    }

    /// Resident memory of this process, in KiB (Linux).
    #[cfg(target_os = "linux")]
    fn rss_kib() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: u64 = statm.split(' ').nth(1).unwrap().parse().unwrap();
        pages * 4
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn making_many_verifiers_keeps_memory_flat() {
        // An import hashes every password of its file one after the other: each hash's
        // 19 MiB must be reused, not kept (a 1 000-record import peaked at 19 GB).
        let _ = hash("warm-up").unwrap();
        let before = rss_kib();
        for i in 0..20 {
            let _ = hash(&format!("password {i}")).unwrap();
        }
        let grown = rss_kib().saturating_sub(before);
        assert!(grown < 3 * 19 * 1024, "grew {grown} KiB over 20 hashes");
    }

    #[test]
    fn verifiers_with_other_parameters_still_verify_and_checks_reuse_their_memory() {
        let light = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password_with_salt(b"pw", b"saltsaltsalt")
        .unwrap()
        .to_string();
        assert!(verify(Some(&light), "pw"));
        assert!(!verify(Some(&light), "px"));
        let v = hash("agentpass").unwrap();
        for _ in 0..3 {
            assert!(verify(Some(&v), "agentpass"));
        }
        let pool = POOL.lock().unwrap();
        assert!(!pool.is_empty() && pool.len() <= POOLED_BUFFERS);
        assert!(pool.iter().all(|b| b.len() >= 19 * 1024 || b.len() >= 1024));
    }
}
