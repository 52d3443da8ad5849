//! Password hashing: argon2 in reused working memory, at most `HASH_CONCURRENCY` hashes at
//! once, on blocking threads.

use std::{
    cell::RefCell,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use argon2::{
    Algorithm as Argon2Algorithm, Argon2, Block, Params as Argon2Params, PasswordHash,
    PasswordHasher, PasswordVerifier, Version as Argon2Version,
    password_hash::{
        self, Decimal, Ident, Output, ParamsString, Salt, SaltString, rand_core::OsRng,
    },
};
use tokio::sync::{Semaphore, watch};

/// Runs password hashes on blocking threads, at most as many at once as it has permits.
#[derive(Clone)]
pub(crate) struct Hashers {
    pub(crate) permits: Arc<Semaphore>,
    /// How long a request waits for a permit.
    pub(crate) queue: Duration,
    /// How many requests are waiting for a permit.
    pub(crate) waiting: watch::Sender<usize>,
    /// The hashers not in use: never more than there are permits, since a hash takes one
    /// (or makes one) while it holds a permit and puts it back before letting the permit go.
    pub(crate) idle: Arc<Mutex<Vec<Hasher>>>,
}

/// Why a hash was not computed.
pub(crate) enum HashError {
    /// No hasher became free in time: 503 with `Retry-After`.
    Busy,
    /// The hashing task failed (it panicked): 500.
    Failed,
}

impl Hashers {
    /// Runs `work` with a hasher on a blocking thread once a permit is free, or answers `Busy`
    /// if none frees up within the queue time.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Hasher) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Counted in the queue while waiting, however the wait ends (even dropped).
                self.waiting.send_modify(|n| *n += 1);
                let _queued = Queued(&self.waiting);
                match tokio::time::timeout(self.queue, self.permits.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    Err(_elapsed) => return Err(HashError::Busy),
                    // The semaphore is never closed.
                    Ok(Err(_closed)) => return Err(HashError::Failed),
                }
            }
        };
        // The blocking task owns the permit: if the client goes away, the request is dropped
        // but the hash runs on, and its permit stays taken until the hash is done.
        let idle = self.idle.clone();
        tokio::task::spawn_blocking(move || {
            let idle = || idle.lock().unwrap_or_else(PoisonError::into_inner);
            let hasher = idle().pop().unwrap_or_default();
            let result = work(&hasher);
            idle().push(hasher);
            drop(permit);
            result
        })
        .await
        .map_err(|_| HashError::Failed)
    }
}

/// One request in the hash queue: leaves it when dropped.
pub(crate) struct Queued<'a>(&'a watch::Sender<usize>);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// Argon2 (argon2id, its default cost: 19 MiB, 2 passes, 1 lane) that hashes in working memory
/// of its own, kept from one hash to the next. `Argon2::hash_password` allocates 19 MiB per
/// hash, and the system allocator does not give all of that back: under a stream of logins a
/// server's memory kept growing to many times what the hashes in progress were using.
///
/// Its hashes are standard PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$…`); checking a
/// password is `PasswordVerifier::verify_password`, which compares in constant time. It checks
/// hashes of any argon2 cost, and keeps the memory of the largest it has met: every hash this
/// server checks is one it made.
#[derive(Debug, Default)]
pub struct Hasher {
    memory: RefCell<Vec<Block>>,
}

impl Hasher {
    /// Hashes with a random salt (CPU-bound: call it off the async threads).
    pub fn hash(&self, password: &[u8]) -> Result<String, password_hash::Error> {
        let salt = SaltString::generate(&mut OsRng);
        Ok(self.hash_password(password, &salt)?.to_string())
    }

    /// Checks a password against a PHC hash string (CPU-bound: call it off the async threads).
    pub fn verify(&self, password: &[u8], hash: &str) -> bool {
        PasswordHash::new(hash).is_ok_and(|parsed| self.verify_password(password, &parsed).is_ok())
    }
}

impl PasswordHasher for Hasher {
    type Params = Argon2Params;

    /// What `Argon2`'s own implementation does, with `hash_password_into_with_memory`.
    fn hash_password_customized<'a>(
        &self,
        password: &[u8],
        algorithm: Option<Ident<'a>>,
        version: Option<Decimal>,
        params: Argon2Params,
        salt: impl Into<Salt<'a>>,
    ) -> password_hash::Result<PasswordHash<'a>> {
        let algorithm = algorithm
            .map(Argon2Algorithm::try_from)
            .transpose()?
            .unwrap_or_default();
        let version = version
            .map(Argon2Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let salt = salt.into();
        let mut salt_bytes = [0; Salt::MAX_LENGTH];
        let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
        let output_len = params
            .output_len()
            .unwrap_or(Argon2Params::DEFAULT_OUTPUT_LEN);
        let mut memory = self.memory.borrow_mut();
        memory.resize(params.block_count(), Block::default());
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let output = Output::init_with(output_len, |out| {
            Ok(argon2.hash_password_into_with_memory(
                password,
                salt_bytes,
                out,
                memory.as_mut_slice(),
            )?)
        })?;
        Ok(PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(output),
        })
    }
}
