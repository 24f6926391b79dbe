//! Argon2id password hashing, always off the async executor.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::sync::{LazyLock, Mutex};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// OWASP's first recommended argon2id configuration: 19 MiB, 2 passes, 1 lane.
pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

/// Bounds on a new password. The upper bound keeps hashing cost predictable.
pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A hash of a random string nobody knows, with the production parameters.
/// Verified against when the username does not exist, so that an unknown user
/// costs the same time as a wrong password and timing does not reveal who exists.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$7DXjs9xx+0/Rb8FrUVZApg$oxb4IAS94td1ft75uzCVelf8m1f/f7iqPO/fvMrXRTA";

/// At most one hash per core at a time: each takes 19 MiB and a core for
/// tens of milliseconds, and a burst of sign-ins must queue, not exhaust
/// memory or the blocking thread pool.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(*HASHING_SLOTS));

static HASHING_SLOTS: LazyLock<usize> =
    LazyLock::new(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

/// Runs an argon2 job on a blocking thread once a hashing slot is free.
async fn run_hashing<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let _slot = HASHING
        .acquire()
        .await
        .map_err(|e| ApiError::internal("waiting for a hashing slot", e))?;
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| ApiError::internal("running a hashing task", e))?
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .expect("the OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password against the policy; the message is for the user.
pub fn check_policy(password: &SecretString) -> Result<(), String> {
    let chars = password.expose_secret().chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "This password is too short. It must contain at least {MIN_PASSWORD_CHARS} characters."
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!(
            "This password is too long. It must contain at most {MAX_PASSWORD_CHARS} characters."
        ));
    }
    if password.expose_secret().contains('\0') {
        return Err("Null characters are not allowed.".to_owned());
    }
    Ok(())
}

/// Hashes a password into a PHC string.
pub async fn hash(password: SecretString) -> Result<String, ApiError> {
    run_hashing(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal("hashing a password", e))
    })
    .await
}

/// Verifies a password against a stored PHC string, or against the dummy hash
/// when there is none, so both paths take the same time. `false` for `None`.
pub async fn verify(password: SecretString, stored: Option<String>) -> Result<bool, ApiError> {
    run_hashing(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let parsed =
            PasswordHash::new(&phc).map_err(|e| ApiError::internal("reading a stored hash", e))?;
        let matches = verify_with_reused_memory(password.expose_secret().as_bytes(), &parsed)
            .map_err(|e| ApiError::internal("verifying a password", e))?;
        Ok(known && matches)
    })
    .await
}

/// Argon2's working memory (19 MiB per hash), kept for the next sign-in.
/// Allocating it afresh on every blocking-pool thread left each thread's
/// malloc arena holding its own copy: a server's memory grew by hundreds of
/// MiB under a sign-in burst. There are never more buffers than hashing
/// slots, and only buffers of today's parameters are kept: an old hash with
/// a larger memory cost does not pin its memory.
static WORKING_MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// `argon2`'s `verify_password`, with the working memory from the pool.
/// The comparison of the outputs is constant-time (`Output`'s `PartialEq`).
fn verify_with_reused_memory(
    password: &[u8],
    stored: &PasswordHash<'_>,
) -> Result<bool, argon2::password_hash::Error> {
    use argon2::password_hash::Error;
    let Some(expected) = stored.hash else {
        return Err(Error::Crypto);
    };
    let algorithm = Algorithm::try_from(stored.algorithm)?;
    let version = Version::try_from(stored.version.unwrap_or(Version::V0x13.into()))?;
    let params = Params::try_from(stored)?;
    let salt = stored.salt.ok_or(Error::SaltInvalid(
        argon2::password_hash::errors::InvalidValue::Malformed,
    ))?;
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf)?;

    let blocks_needed = params.block_count();
    let mut memory = take_memory(blocks_needed);
    let mut out = vec![0u8; expected.len()];
    let result = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password,
        salt,
        &mut out,
        memory.as_mut_slice(),
    );
    give_back_memory(memory);
    result.map_err(Error::from)?;
    Ok(Output::new(&out)? == expected)
}

fn take_memory(blocks: usize) -> Vec<Block> {
    let pooled = WORKING_MEMORY.lock().ok().and_then(|mut pool| {
        pool.iter()
            .position(|m| m.len() == blocks)
            .map(|i| pool.swap_remove(i))
    });
    pooled.unwrap_or_else(|| vec![Block::default(); blocks])
}

fn give_back_memory(memory: Vec<Block>) {
    if memory.len() != hasher().params().block_count() {
        return;
    }
    if let Ok(mut pool) = WORKING_MEMORY.lock()
        && pool.len() < *HASHING_SLOTS
    {
        pool.push(memory);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let phc = hash(SecretString::from("correct horse battery"))
            .await
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify(
                SecretString::from("correct horse battery"),
                Some(phc.clone())
            )
            .await
            .unwrap()
        );
        assert!(
            !verify(SecretString::from("wrong horse battery"), Some(phc))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies_but_costs_a_real_verification() {
        let phc = hash(SecretString::from("correct horse battery"))
            .await
            .unwrap();
        // Best of three of each, so a busy machine does not decide the result.
        let mut known = std::time::Duration::MAX;
        let mut unknown = std::time::Duration::MAX;
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let ok = verify(SecretString::from("wrong guess"), Some(phc.clone())).await;
            assert!(!ok.unwrap());
            known = known.min(started.elapsed());
            let started = std::time::Instant::now();
            assert!(
                !verify(SecretString::from("wrong guess"), None)
                    .await
                    .unwrap()
            );
            unknown = unknown.min(started.elapsed());
        }
        // Skipping the dummy hash would make the unknown case ~1000x faster.
        assert!(
            unknown * 3 > known,
            "unknown user: {unknown:?}, known user: {known:?}"
        );
    }

    #[test]
    fn the_dummy_hash_uses_the_production_parameters() {
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        let params = Params::try_from(&parsed).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (MEMORY_KIB, ITERATIONS, PARALLELISM)
        );
    }

    #[test]
    fn the_policy_bounds_length() {
        assert!(check_policy(&SecretString::from("short")).is_err());
        assert!(check_policy(&SecretString::from("long enough pw")).is_ok());
        assert!(check_policy(&SecretString::from("x".repeat(1025))).is_err());
        assert!(check_policy(&SecretString::from("has a nul \0 char")).is_err());
    }
}
