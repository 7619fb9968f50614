//! Argon2id password verifiers (PHC strings), with OWASP's minimum parameters.
//!
//! Every user, agent and administrator password is stored only as a verifier. Unknown users
//! are checked against a dummy verifier with the same parameters, so response time does not
//! tell which accounts exist.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

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
    let ok = PasswordHash::new(phc)
        .is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok());
    ok && real
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
}
