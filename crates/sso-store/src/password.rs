//! Argon2id password verifiers (PHC strings), with OWASP's minimum parameters.
//!
//! Every user, agent and administrator password is stored only as a verifier. Unknown users
//! are checked against a dummy verifier with the same parameters, so response time does not
//! tell which accounts exist.

use std::sync::{Mutex, OnceLock};

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::StoreError;

/// OWASP minimum for Argon2id: 19 MiB, 2 iterations, 1 lane.
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Iterations.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const LANES: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Makes a verifier for `password` with a fresh random salt.
pub fn hash(password: &str) -> Result<String, StoreError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| StoreError::Io(format!("OS random source: {e}")))?;
    argon2()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Invalid {
            what: "password",
            why: e.to_string(),
        })
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
