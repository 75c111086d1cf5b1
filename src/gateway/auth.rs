//! Who may log in: password hashes, lockout, and the login decision.
//!
//! Everything here is pure except the argon2 computation itself (and the salt for a new hash).
//! Time is passed in as an [`Instant`], so lockout timelines are tested at fixed times. The
//! gateway runs the argon2 step on its own threads (`super::password_pool`); [`check_login`]
//! does all of it in one call, for tests and tools.
//!
//! A login goes through these steps, and the first that fails is the audit reason:
//!
//! 1. the user exists, and the personal identifier in the certificate is the one in the
//!    user's record (`unknown-user`, `identifier-not-bound`);
//! 2. neither the username, the card nor the source address is locked out (`locked-out`, see
//!    [`super::lockout`]). A locked attempt ends here, **before any hashing**, so a lock also
//!    stops the attempts from costing the gateway argon2 work ([`plan_login`]);
//! 3. the password matches the user's argon2id hash (`wrong-password`);
//! 4. the posture policy accepts the client's report (`posture-refused`);
//! 5. the user has at least one grant (`no-grants`).
//!
//! What the client is told never says whether a username exists: an unknown user, a card
//! that is not the user's, and a wrong password get one and the same message, take the same
//! time (an unknown user or a foreign card costs a verification against a dummy hash), and
//! count towards lockout the same way (against the card and the address; only a wrong password
//! with the user's own card counts against the username).
//! While a username, card or address is locked, every attempt is told it is locked, whatever
//! the password (which is not even checked), so a guess made during a lock teaches nothing.

use std::net::IpAddr;
use std::time::Instant;

use argon2::password_hash::phc::{Output, PasswordHash, Salt};
use argon2::password_hash::PasswordHasher as _;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize as _;

use crate::cert::PersonalId;
use crate::posture::policy::{Failed, Verdict};
use crate::secret::Password;

use super::access::{targets_for, Principal, Target};
use super::config::Config;
#[cfg(test)]
use super::lockout::LONGEST_LOCK_SECS;
pub use super::lockout::{LockScope, LockState, Lockout};

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl HashParams {
    /// What `hash-password` uses: OWASP's first argon2id choice (m = 19 MiB, t = 2, p = 1).
    /// About 20–50 ms on a server core, affordable at login rates, costly for a guesser.
    pub const RECOMMENDED: HashParams = HashParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// Hashes with less than this memory are reported as a dangerous option: fine for tests,
    /// too cheap against offline guessing.
    pub const WEAK_BELOW_KIB: u32 = 15 * 1024;

    /// Fast and weak, for tests only.
    pub const TEST_ONLY: HashParams = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    /// Upper bounds accepted in the configuration, so one hash cannot make every login take
    /// seconds or gigabytes (1 GiB, 20 passes, 16 lanes).
    const MAX: HashParams = HashParams {
        memory_kib: 1024 * 1024,
        iterations: 20,
        parallelism: 16,
    };
}

/// Why a password could not be hashed. Never carries the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The parameters were refused by argon2.
    #[error("argon2 refused the parameters: {0}")]
    Params(String),
    /// The system's random source or argon2 failed.
    #[error("hashing failed: {0}")]
    Hashing(String),
}

/// Hashes a password with [`HashParams::RECOMMENDED`] and a fresh random salt, as a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash_password(password: &Password) -> Result<String, HashError> {
    hash_password_with(password, HashParams::RECOMMENDED)
}

/// Hashes with chosen parameters (tests use [`HashParams::TEST_ONLY`]).
pub fn hash_password_with(password: &Password, params: HashParams) -> Result<String, HashError> {
    let params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        None,
    )
    .map_err(|e| HashError::Params(e.to_string()))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    argon2
        .hash_password(password.expose().as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError::Hashing(e.to_string()))
}

/// Whether `password` matches the PHC string, with memory of its own for this one check (tools
/// and tests; the gateway's checks reuse a [`HashMemory`] per thread). A malformed hash
/// matches nothing.
pub fn verify_password(hash: &str, password: &Password) -> bool {
    HashMemory::new(0).verify(hash, password)
}

/// The argon2 working memory of one thread, kept from check to check: a check allocates
/// nothing, so a burst of logins cannot pile up (or leave behind) hashing memory, whatever the
/// allocator does with freed blocks.
///
/// It is allocated at the first check with room for `room_kib` (the largest configured hash).
/// A hash that needs more makes it grow to fit, within the configuration's own bound on `m`
/// ([`HashParams::MAX`], checked by [`check_hash_format`]); it never shrinks.
pub struct HashMemory {
    blocks: Vec<Block>,
    room: usize,
}

impl std::fmt::Debug for HashMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashMemory({} KiB)", self.held_kib())
    }
}

impl HashMemory {
    /// Memory for hashes of up to `room_kib` KiB, allocated at the first check.
    pub fn new(room_kib: u32) -> HashMemory {
        HashMemory {
            blocks: Vec::new(),
            room: room_kib as usize * 1024 / Block::SIZE,
        }
    }

    /// KiB held now.
    pub fn held_kib(&self) -> usize {
        self.blocks.len() * Block::SIZE / 1024
    }

    /// Whether `password` matches the PHC string, computed in this memory from the string's
    /// own parameters and salt, and compared in constant time. The memory is wiped afterwards:
    /// nothing derived from the password outlives the check. A malformed hash matches nothing.
    pub fn verify(&mut self, hash: &str, password: &Password) -> bool {
        let Some((argon2, salt, expected)) = verifier_of(hash) else {
            return false;
        };
        let need = argon2.params().block_count();
        let Some(blocks) = self.room_for(need) else {
            tracing::error!(kib = need, "no memory for a password check");
            return false;
        };
        let mut out = [0u8; Output::MAX_LENGTH];
        let out = &mut out[..expected.len()];
        let hashed = argon2
            .hash_password_into_with_memory(
                password.expose().as_bytes(),
                &salt,
                &mut *out,
                &mut *blocks,
            )
            .is_ok();
        blocks.iter_mut().for_each(|b| b.zeroize());
        // `Output`'s equality is constant-time (the `phc` crate compares with `ctutils`).
        hashed && Output::new(out).is_ok_and(|computed| computed == expected)
    }

    /// `need` blocks of the memory, allocating (or growing) it first if it is smaller.
    fn room_for(&mut self, need: usize) -> Option<&mut [Block]> {
        if self.blocks.len() < need {
            let size = need.max(self.room);
            let mut blocks = Vec::new();
            blocks.try_reserve_exact(size).ok()?;
            blocks.resize(size, Block::new());
            self.blocks = blocks;
        }
        self.blocks.get_mut(..need)
    }
}

/// The argon2 instance, salt and expected output a PHC string describes, if it passes
/// [`check_hash_format`].
fn verifier_of(hash: &str) -> Option<(Argon2<'static>, Salt, Output)> {
    check_hash_format(hash).ok()?;
    let parsed = PasswordHash::new(hash).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    // The output length comes from the stored hash.
    let params = Params::try_from(&parsed).ok()?;
    let argon2 = Argon2::new(Algorithm::Argon2id, version, params);
    Some((argon2, parsed.salt?, parsed.hash?))
}

/// The memory a PHC string's check needs, in KiB (0 for one that is not a usable hash).
pub(crate) fn hash_memory_kib(hash: &str) -> u32 {
    verifier_of(hash).map_or(0, |(argon2, _, _)| {
        u32::try_from(argon2.params().block_count() * Block::SIZE / 1024).unwrap_or(u32::MAX)
    })
}

/// The cost parameters of a PHC string, if it is a usable argon2id hash.
pub fn hash_params(hash: &str) -> Option<HashParams> {
    let parsed = PasswordHash::new(hash).ok()?;
    let params = Params::try_from(&parsed).ok()?;
    Some(HashParams {
        memory_kib: params.m_cost(),
        iterations: params.t_cost(),
        parallelism: params.p_cost(),
    })
}

/// Checks that a PHC string is argon2id with a salt, an output and parameters within bounds.
/// The reason is Norwegian and never repeats the string.
pub(crate) fn check_hash_format(hash: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(hash).map_err(|_| {
        "den kan ikke leses som en PHC-streng ($argon2id$v=19$m=…,t=…,p=…$salt$hash)".to_string()
    })?;
    if parsed.algorithm.as_str() != "argon2id" {
        return Err(format!(
            "algoritmen er {}, men må være argon2id",
            parsed.algorithm.as_str()
        ));
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("salt eller hash mangler".to_string());
    }
    let params = hash_params(hash).ok_or("parametrene m, t og p kan ikke leses")?;
    let max = HashParams::MAX;
    if params.memory_kib > max.memory_kib
        || params.iterations > max.iterations
        || params.parallelism > max.parallelism
    {
        return Err(format!(
            "parametrene er urimelig høye (høyst m={}, t={}, p={})",
            max.memory_kib, max.iterations, max.parallelism
        ));
    }
    Ok(())
}

/// A PHC string no password matches, with the same parameters and salt length as `like` (the
/// first user's hash), so verifying against it costs what a real verification costs.
pub(crate) fn dummy_hash_like(like: Option<&str>) -> String {
    let params = like
        .and_then(hash_params)
        .unwrap_or(HashParams::RECOMMENDED);
    // A fixed salt and an all-zero output: nothing hashes to it in practice, and nothing about
    // a real user is in it.
    format!(
        "$argon2id$v=19$m={},t={},p={}$ZHVtbXlzYWx0ZHVtbXlzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        params.memory_kib, params.iterations, params.parallelism
    )
}

// ---------------------------------------------------------------------------------------------
// The login decision

/// Why a login was refused, for the audit log. The names are the audit log's, kebab-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalReason {
    /// No user has this username.
    UnknownUser,
    /// The user exists, but the certificate's personal identifier is not the one bound to it.
    IdentifierNotBound,
    /// The password does not match.
    WrongPassword,
    /// The username or the source address is locked after too many failures.
    LockedOut,
    /// The posture policy refused the client's report.
    PostureRefused,
    /// The user has no grant.
    NoGrants,
}

/// A login-phase refusal is one of the audit log's refusal reasons (which also holds the
/// TLS-level ones); the names are the same by construction.
impl From<RefusalReason> for super::audit::RefusalReason {
    fn from(reason: RefusalReason) -> Self {
        use super::audit::RefusalReason as Audit;
        match reason {
            RefusalReason::UnknownUser => Audit::UnknownUser,
            RefusalReason::IdentifierNotBound => Audit::IdentifierNotBound,
            RefusalReason::WrongPassword => Audit::WrongPassword,
            RefusalReason::LockedOut => Audit::LockedOut,
            RefusalReason::PostureRefused => Audit::PostureRefused,
            RefusalReason::NoGrants => Audit::NoGrants,
        }
    }
}

impl RefusalReason {
    /// The serde name, e.g. `wrong-password`.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::UnknownUser => "unknown-user",
            RefusalReason::IdentifierNotBound => "identifier-not-bound",
            RefusalReason::WrongPassword => "wrong-password",
            RefusalReason::LockedOut => "locked-out",
            RefusalReason::PostureRefused => "posture-refused",
            RefusalReason::NoGrants => "no-grants",
        }
    }
}

/// What the client is told about a refusal: less than the audit log knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum ClientRefusal {
    /// Unknown user, foreign card or wrong password: one answer for all three.
    BadCredentials,
    /// Locked; try again after this many seconds.
    LockedOut {
        /// Seconds until the lock ends, rounded up.
        retry_after_secs: u64,
    },
    /// The posture policy's own explanation.
    PostureRefused {
        /// Every rule the computer failed (`deny` and `warn`), with what to do.
        failed: Vec<Failed>,
    },
    /// Logged in, but nothing to reach.
    NoGrants,
}

/// The one answer for an unknown user, a card not bound to the user, and a wrong password.
pub const BAD_CREDENTIALS_MESSAGE: &str =
    "Brukernavn eller passord er feil, eller kortet tilhører ikke denne brukeren.";

impl ClientRefusal {
    /// Stable code for the protocol.
    pub fn code(&self) -> &'static str {
        match self {
            ClientRefusal::BadCredentials => "bad-credentials",
            ClientRefusal::LockedOut { .. } => "locked-out",
            ClientRefusal::PostureRefused { .. } => "posture-refused",
            ClientRefusal::NoGrants => "no-grants",
        }
    }

    /// The sentence the user reads.
    pub fn message(&self) -> String {
        match self {
            ClientRefusal::BadCredentials => BAD_CREDENTIALS_MESSAGE.to_string(),
            ClientRefusal::LockedOut { .. } => {
                "Innloggingen er midlertidig sperret etter for mange mislykkede forsøk.".to_string()
            }
            ClientRefusal::PostureRefused { failed } => {
                let rules: Vec<&str> = failed.iter().map(|f| f.rule).collect();
                format!(
                    "Datamaskinen oppfyller ikke sikkerhetskravene til tjenesten ({}).",
                    rules.join(", ")
                )
            }
            ClientRefusal::NoGrants => {
                "Du er logget inn, men brukeren din har ikke tilgang til noen kontor-PC."
                    .to_string()
            }
        }
    }

    /// What the user can do.
    pub fn fix(&self) -> String {
        match self {
            ClientRefusal::BadCredentials => "Sjekk brukernavn og passord, og at det er ditt eget \
                 kort som står i leseren. Etter for mange feil blir innloggingen sperret en stund."
                .to_string(),
            ClientRefusal::LockedOut { retry_after_secs } => {
                let minutes = retry_after_secs.div_ceil(60).max(1);
                format!(
                    "Vent {minutes} minutt{} og prøv igjen. Kontakt brukerstøtte hvis du ikke \
                     husker passordet.",
                    if minutes == 1 { "" } else { "er" }
                )
            }
            ClientRefusal::PostureRefused { .. } => {
                "Rett opp det som står under, og logg inn på nytt. `hjemmekontor posture \
                 --gateway` viser det samme uten å spørre om PIN."
                    .to_string()
            }
            ClientRefusal::NoGrants => {
                "Be den som styrer tilgangene i kommunen om å gi deg tilgang til kontor-PC-en din."
                    .to_string()
            }
        }
    }
}

/// What a client offers to log in: from the certificate, the login message and the socket.
#[derive(Debug, Clone, Copy)]
pub struct LoginAttempt<'a> {
    /// The peer's address.
    pub source: IpAddr,
    /// The personal identifier in the client certificate's subject serialNumber, as read.
    pub personal_id: &'a str,
    /// The username as typed.
    pub username: &'a str,
    /// The password.
    pub password: &'a Password,
}

impl<'a> LoginAttempt<'a> {
    /// The attempt without its password.
    pub fn claim(&self) -> Claim<'a> {
        Claim {
            source: self.source,
            personal_id: self.personal_id,
            username: self.username,
        }
    }
}

/// Who a login says it is: a [`LoginAttempt`] without the password, which is all the decision
/// needs while the password is away being checked.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// The peer's address.
    pub source: IpAddr,
    /// The personal identifier in the client certificate's subject serialNumber, as read.
    pub personal_id: &'a str,
    /// The username as typed.
    pub username: &'a str,
}

impl Claim<'_> {
    /// The card's key for lockout: its personal identifier, normalised when it can be read.
    pub fn card(&self) -> String {
        PersonalId::parse(self.personal_id)
            .map(|p| p.normalized)
            .unwrap_or_else(|| self.personal_id.to_string())
    }

    /// Whether the username, the address or the card is locked at `now` (the more personal
    /// key wins).
    fn lock_state(&self, lockout: &Lockout, now: Instant) -> LockState {
        match lockout.state(self.username, self.source, now) {
            LockState::Open => lockout.card_state(&self.card(), now),
            locked => locked,
        }
    }
}

/// A login that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The username as configured.
    pub user: String,
    /// The user's display name, if configured.
    pub display_name: Option<String>,
    /// What the user may reach, never empty.
    pub targets: Vec<Target>,
    /// The user's directory groups (normalised DNs), for the grants of the session's streams.
    pub groups: Vec<String>,
    /// Posture rules failed with `warn`: shown to the person, who is let in.
    pub posture_warnings: Vec<Failed>,
}

/// A refused login: the exact reason for the audit log, and what the client may be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The first check that failed.
    pub reason: RefusalReason,
    /// The configured username when the user exists; `None` for an unknown one (what was typed
    /// may be a password typed into the wrong field, so it is not logged).
    pub audit_user: Option<String>,
    /// What is locked, when a lock decided the client's answer.
    pub lock: Option<LockScope>,
    /// What the client is told.
    pub client: ClientRefusal,
}

/// Decides a login: the steps in the order the module documentation gives, stopping at the
/// first failure. `posture` is the posture policy's verdict on the client's report; it is asked
/// only once the credentials are right and nothing is locked.
///
/// Failed credentials are counted in `lockout`; a fully successful login clears the user's
/// count. This is [`plan_login`], the argon2 check, then [`decide_login`]; a server that
/// shares one `Lockout` between threads calls the three itself, so the slow password check
/// runs without holding the lock.
pub fn check_login(
    config: &Config,
    lockout: &mut Lockout,
    now: Instant,
    attempt: &LoginAttempt<'_>,
    posture: impl FnOnce() -> Verdict,
) -> Result<Accepted, Refusal> {
    let claim = attempt.claim();
    let check = plan_login(config, lockout, now, &claim)?;
    let matched = verify_password(check.hash(), attempt.password);
    decide_login(
        config,
        lockout,
        now,
        &claim,
        check.outcome(matched),
        posture,
    )
}

/// The hash a login's password must be checked against, once no lock refused it (from
/// [`plan_login`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordCheck<'c> {
    user: Option<&'c super::config::User>,
    identity: Result<(), RefusalReason>,
    hash: &'c str,
}

impl<'c> PasswordCheck<'c> {
    /// The PHC string to verify the password against: the user's, or the dummy hash when the
    /// user is unknown or the card is not theirs, so that every answer costs the same work.
    pub fn hash(&self) -> &'c str {
        self.hash
    }

    /// Whether the user exists and the card is theirs, so that the password is worth asking
    /// about. A directory is asked only then: a bind with a stranger's card would count against
    /// the user in the directory's own lockout.
    pub fn identity_ok(&self) -> bool {
        self.identity.is_ok()
    }

    /// The credential checks' outcome, given whether the password matched [`Self::hash`].
    pub fn outcome(self, password_matched: bool) -> CredentialCheck<'c> {
        let outcome = match self.identity {
            Err(reason) => Err(reason),
            Ok(()) if password_matched => Ok(()),
            Ok(()) => Err(RefusalReason::WrongPassword),
        };
        CredentialCheck {
            user: self.user,
            outcome,
        }
    }
}

/// The outcome of the credential checks (steps 1 and 3) of one login attempt, for
/// [`decide_login`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialCheck<'c> {
    user: Option<&'c super::config::User>,
    outcome: Result<(), RefusalReason>,
}

/// The quick steps before any hashing: the user and the certificate binding, then the locks.
/// A locked attempt is refused here (told it is locked; the audit reason is the identity
/// check's failure if there was one, else `locked-out`), and nothing is counted: failures
/// during a lock neither count nor extend it. Otherwise the answer says which hash to check
/// the password against.
pub fn plan_login<'c>(
    config: &'c Config,
    lockout: &Lockout,
    now: Instant,
    claim: &Claim<'_>,
) -> Result<PasswordCheck<'c>, Refusal> {
    plan_login_as(config, config.user(claim.username), lockout, now, claim)
}

/// [`plan_login`] for a user found elsewhere than in the configuration (the directory):
/// `user` is who the claim's username names, if anybody.
pub fn plan_login_as<'c>(
    config: &'c Config,
    user: Option<&'c super::config::User>,
    lockout: &Lockout,
    now: Instant,
    claim: &Claim<'_>,
) -> Result<PasswordCheck<'c>, Refusal> {
    let cert_id = PersonalId::parse(claim.personal_id).map(|p| p.normalized);
    let identity = match user {
        None => Err(RefusalReason::UnknownUser),
        Some(u) if cert_id.as_deref() != Some(u.personal_id.as_str()) => {
            Err(RefusalReason::IdentifierNotBound)
        }
        Some(_) => Ok(()),
    };
    if let LockState::Locked { until, scope } = claim.lock_state(lockout, now) {
        return Err(Refusal {
            reason: identity.err().unwrap_or(RefusalReason::LockedOut),
            audit_user: user.map(|u| u.username.clone()),
            lock: Some(scope),
            client: locked(until, now),
        });
    }
    let hash = match (identity, user) {
        (Ok(()), Some(u)) => u.password_hash.as_str(),
        _ => config.dummy_hash.as_str(),
    };
    Ok(PasswordCheck {
        user,
        identity,
        hash,
    })
}

/// The rest of the decision, quick: counts failed credentials, then lockout (read again: other
/// attempts may have taken a lock while the password was checked), posture, grants.
/// `credentials` must come from [`plan_login`] with the same configuration and claim.
pub fn decide_login(
    config: &Config,
    lockout: &mut Lockout,
    now: Instant,
    claim: &Claim<'_>,
    credentials: CredentialCheck<'_>,
    posture: impl FnOnce() -> Verdict,
) -> Result<Accepted, Refusal> {
    let card = claim.card();
    let before = claim.lock_state(lockout, now);
    let audit_user = credentials.user.map(|u| u.username.clone());
    let credentials = match (credentials.outcome, credentials.user) {
        (Ok(()), Some(u)) => Ok(u),
        (Ok(()), None) => Err(RefusalReason::UnknownUser),
        (Err(reason), _) => Err(reason),
    };

    let user = match credentials {
        Ok(u) => u,
        Err(reason) => {
            // Only a card bound to the user (a wrong password) counts against the username.
            let after = if before.is_locked() {
                before
            } else if reason == RefusalReason::WrongPassword {
                // The user's own card (or someone holding it): the username, the card and the
                // address count.
                let card_lock = lockout.count_card(&card, now);
                match (
                    lockout.record_failure(claim.username, claim.source, now),
                    card_lock,
                ) {
                    (LockState::Open, Some(until)) => LockState::Locked {
                        until,
                        scope: LockScope::Card,
                    },
                    (state, _) => state,
                }
            } else {
                lockout.record_foreign_failure(&card, claim.source, now)
            };
            let (client, lock) = match after {
                LockState::Locked { until, scope } => (locked(until, now), Some(scope)),
                LockState::Open => (ClientRefusal::BadCredentials, None),
            };
            return Err(Refusal {
                reason,
                audit_user,
                lock,
                client,
            });
        }
    };

    if let LockState::Locked { until, scope } = before {
        return Err(Refusal {
            reason: RefusalReason::LockedOut,
            audit_user,
            lock: Some(scope),
            client: locked(until, now),
        });
    }

    let verdict = posture();
    if !verdict.admitted() {
        let mut failed = verdict.denied;
        failed.extend(verdict.warned);
        return Err(Refusal {
            reason: RefusalReason::PostureRefused,
            audit_user,
            lock: None,
            client: ClientRefusal::PostureRefused { failed },
        });
    }

    let targets = targets_for(
        config,
        &Principal {
            username: &user.username,
            groups: &user.groups,
        },
    );
    if targets.is_empty() {
        return Err(Refusal {
            reason: RefusalReason::NoGrants,
            audit_user,
            lock: None,
            client: ClientRefusal::NoGrants,
        });
    }

    lockout.record_success(claim.username, &card);
    Ok(Accepted {
        user: user.username.clone(),
        display_name: user.display_name.clone(),
        targets,
        groups: user.groups.clone(),
        posture_warnings: verdict.warned,
    })
}

fn locked(until: Instant, now: Instant) -> ClientRefusal {
    let left = until.saturating_duration_since(now);
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    ClientRefusal::LockedOut {
        retry_after_secs: secs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::config::LockoutPolicy;
    use crate::gateway::testutil::{self, pw, KARI_ID, KARI_PASSWORD, OLA_ID};
    use std::net::Ipv4Addr;
    use std::time::Duration;

    const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99));

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn policy() -> LockoutPolicy {
        crate::gateway::lockout::test_policy()
    }

    #[test]
    fn hash_and_verify() {
        let p = pw("riktig hest batteri stift");
        let h = hash_password_with(&p, HashParams::TEST_ONLY).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(verify_password(&h, &p));
        assert!(!verify_password(&h, &pw("riktig hest batteri stift ")));
        assert!(!verify_password("not a hash", &p));
        assert!(!verify_password("", &p));
        // A fresh salt every time.
        assert_ne!(h, hash_password_with(&p, HashParams::TEST_ONLY).unwrap());
        assert_eq!(
            hash_params(&h),
            Some(HashParams::TEST_ONLY),
            "parameters are read back"
        );
    }

    #[test]
    fn one_memory_checks_many_hashes_and_is_wiped_after_each() {
        let small = hash_password_with(&pw("a"), HashParams::TEST_ONLY).unwrap();
        let two_lanes = HashParams {
            memory_kib: 256,
            iterations: 1,
            parallelism: 2,
        };
        let bigger = hash_password_with(&pw("b"), two_lanes).unwrap();
        assert_eq!(hash_memory_kib(&small), 64);
        assert_eq!(hash_memory_kib(&bigger), 256);
        let mut m = HashMemory::new(64);
        assert_eq!(m.held_kib(), 0, "allocated at the first check");
        assert!(m.verify(&small, &pw("a")));
        assert_eq!(m.held_kib(), 64);
        assert!(!m.verify(&small, &pw("b")));
        assert!(m.verify(&bigger, &pw("b")));
        assert_eq!(m.held_kib(), 256, "grown to fit");
        assert!(m.verify(&small, &pw("a")));
        assert!(!m.verify(&bigger, &pw("a")));
        assert_eq!(m.held_kib(), 256, "never shrinks");
        assert!(
            m.blocks.iter().all(|b| b.as_ref().iter().all(|w| *w == 0)),
            "wiped after the check"
        );
        // Beyond the configuration's bound: no match, and no memory taken for it.
        let huge = "$argon2id$v=19$m=2097152,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(!m.verify(huge, &pw("a")));
        assert_eq!(m.held_kib(), 256);
    }

    #[test]
    fn the_recommended_parameters_are_owasps() {
        let h = hash_password(&pw("x")).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
    }

    #[test]
    fn only_argon2id_phc_strings_are_accepted() {
        assert!(check_hash_format(
            "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        )
        .unwrap_err()
        .contains("argon2i,"));
        assert!(check_hash_format("$2b$12$abcdefghijklmnopqrstuu").is_err());
        assert!(check_hash_format("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ").is_err());
        assert!(check_hash_format("plaintext").is_err());
    }

    #[test]
    fn the_dummy_hash_costs_a_real_verification() {
        let like = hash_password_with(&pw("x"), HashParams::TEST_ONLY).unwrap();
        let dummy = dummy_hash_like(Some(&like));
        assert_eq!(check_hash_format(&dummy), Ok(()));
        assert_eq!(hash_params(&dummy), Some(HashParams::TEST_ONLY));
        assert!(!verify_password(&dummy, &pw("x")));
        let default = dummy_hash_like(None);
        assert_eq!(hash_params(&default), Some(HashParams::RECOMMENDED));
    }

    #[test]
    fn lockout_timeline_per_user_with_backoff() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + secs(s);
        let mut l = Lockout::new(policy());
        assert_eq!(l.record_failure("kari", HOME, at(0)), LockState::Open);
        assert_eq!(l.record_failure("kari", HOME, at(1)), LockState::Open);
        // Third failure within the window: locked for lock_secs.
        assert_eq!(
            l.record_failure("KARI", OTHER, at(2)),
            LockState::Locked {
                until: at(62),
                scope: LockScope::User
            }
        );
        assert!(l.state("kari", HOME, at(61)).is_locked());
        assert_eq!(l.state("kari", HOME, at(62)), LockState::Open);
        // Failures during a lock neither count nor extend it.
        let mut during = l.clone();
        during.record_failure("kari", HOME, at(30));
        assert_eq!(during.state("kari", HOME, at(62)), LockState::Open);
        // The second lock lasts twice as long, the third four times, then it is capped.
        for s in [63, 64] {
            assert_eq!(l.record_failure("kari", HOME, at(s)), LockState::Open);
        }
        assert_eq!(
            l.record_failure("kari", HOME, at(65)),
            LockState::Locked {
                until: at(65 + 120),
                scope: LockScope::User
            }
        );
        for s in [185, 186] {
            l.record_failure("kari", OTHER, at(s));
        }
        assert_eq!(
            l.record_failure("kari", OTHER, at(187)),
            LockState::Locked {
                until: at(187 + 240),
                scope: LockScope::User
            }
        );
        for s in [427, 428] {
            l.record_failure("kari", OTHER, at(s));
        }
        assert_eq!(
            l.record_failure("kari", OTHER, at(429)),
            LockState::Locked {
                until: at(429 + 240),
                scope: LockScope::User
            }
        );
        // A success forgets the user's history: the next lock is a first one again.
        l.record_success("kari", KARI_ID);
        for s in [700, 701] {
            l.record_failure("kari", HOME, at(s));
        }
        assert_eq!(
            l.record_failure("kari", HOME, at(702)),
            LockState::Locked {
                until: at(762),
                scope: LockScope::User
            }
        );
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let t0 = Instant::now();
        let mut l = Lockout::new(policy());
        l.record_failure("kari", HOME, t0);
        l.record_failure("kari", HOME, t0 + secs(30));
        // The first failure is 60 s old: out of the window.
        assert_eq!(
            l.record_failure("kari", HOME, t0 + secs(60)),
            LockState::Open
        );
        assert!(l.record_failure("kari", HOME, t0 + secs(61)).is_locked());
    }

    #[test]
    fn backoff_is_forgotten_after_a_quiet_period() {
        let t0 = Instant::now();
        let mut l = Lockout::new(policy());
        for s in 0..3 {
            l.record_failure("kari", HOME, t0 + secs(s));
        }
        // Lock ended at 62; quiet until 62 + 240: the next lock is a first one again.
        for s in [302, 303] {
            l.record_failure("kari", HOME, t0 + secs(s));
        }
        assert_eq!(
            l.record_failure("kari", HOME, t0 + secs(304)),
            LockState::Locked {
                until: t0 + secs(364),
                scope: LockScope::User
            }
        );
    }

    #[test]
    fn one_address_trying_many_usernames_is_locked() {
        let t0 = Instant::now();
        let mut l = Lockout::new(policy());
        for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
            assert_eq!(
                l.record_failure(name, HOME, t0 + secs(i as u64)),
                LockState::Open
            );
        }
        assert_eq!(
            l.record_failure("e", HOME, t0 + secs(4)),
            LockState::Locked {
                until: t0 + secs(64),
                scope: LockScope::Address
            }
        );
        // Any username from that address is locked; the same username elsewhere is not.
        assert!(l.state("kari", HOME, t0 + secs(5)).is_locked());
        assert_eq!(l.state("kari", OTHER, t0 + secs(5)), LockState::Open);
        // A success does not clear the address.
        l.record_success("kari", KARI_ID);
        assert!(l.state("kari", HOME, t0 + secs(5)).is_locked());
    }

    #[test]
    fn an_absurd_policy_does_not_overflow_the_clock() {
        let t0 = Instant::now();
        let mut l = Lockout::new(LockoutPolicy {
            max_failures: 1,
            max_failures_per_address: 1,
            window_secs: u64::MAX,
            lock_secs: u64::MAX,
            max_lock_secs: u64::MAX,
        });
        for s in 0..40 {
            l.record_failure("kari", HOME, t0 + secs(s * LONGEST_LOCK_SECS));
        }
        assert!(l
            .state("kari", HOME, t0 + secs(39 * LONGEST_LOCK_SECS))
            .is_locked());
    }

    fn attempt<'a>(
        personal_id: &'a str,
        username: &'a str,
        password: &'a Password,
    ) -> LoginAttempt<'a> {
        LoginAttempt {
            source: HOME,
            personal_id,
            username,
            password,
        }
    }

    #[test]
    fn a_good_login_gets_its_targets() {
        let c = testutil::config();
        let mut l = Lockout::new(c.lockout);
        let p = pw(KARI_PASSWORD);
        let ok = check_login(
            &c,
            &mut l,
            Instant::now(),
            &attempt(KARI_ID, "Kari", &p),
            Verdict::default,
        )
        .unwrap();
        assert_eq!(ok.user, "kari");
        assert_eq!(ok.display_name.as_deref(), Some("Kari Nordmann"));
        assert_eq!(ok.targets[0].id, "kontor-1");
        // The certificate may write the identifier without the prefix.
        assert!(check_login(
            &c,
            &mut l,
            Instant::now(),
            &attempt("9578-4050-100000001", "kari", &p),
            Verdict::default
        )
        .is_ok());
    }

    #[test]
    fn split_in_three_the_decision_reads_the_lock_after_the_slow_check() {
        let c = testutil::config();
        let mut l = Lockout::new(c.lockout);
        let now = Instant::now();
        let right = pw(KARI_PASSWORD);
        let wrong = pw("feil");
        let kari = attempt(KARI_ID, "kari", &right).claim();
        // Nothing is locked: the password is to be checked against Kari's own hash…
        let good = plan_login(&c, &l, now, &kari).unwrap();
        assert_eq!(good.hash(), c.user("kari").unwrap().password_hash.as_str());
        assert!(verify_password(good.hash(), &right));
        // …and meanwhile other attempts lock the user (max_failures = 3).
        for _ in 0..3 {
            let bad = plan_login(&c, &l, now, &kari).unwrap();
            let matched = verify_password(bad.hash(), &wrong);
            let r = decide_login(
                &c,
                &mut l,
                now,
                &kari,
                bad.outcome(matched),
                Verdict::default,
            )
            .unwrap_err();
            assert_eq!(r.reason, RefusalReason::WrongPassword);
        }
        // The decision sees the lock taken in between.
        let r =
            decide_login(&c, &mut l, now, &kari, good.outcome(true), Verdict::default).unwrap_err();
        assert_eq!(r.reason, RefusalReason::LockedOut);
        assert_eq!(r.audit_user.as_deref(), Some("kari"));
        // And the next attempt is refused before any hashing.
        let r = plan_login(&c, &l, now, &kari).unwrap_err();
        assert_eq!(r.reason, RefusalReason::LockedOut);
        assert_eq!(r.lock, Some(LockScope::User));
    }

    #[test]
    fn unknown_users_and_foreign_cards_are_checked_against_the_dummy_hash() {
        let c = testutil::config();
        let l = Lockout::new(c.lockout);
        let now = Instant::now();
        let p = pw(KARI_PASSWORD);
        for a in [
            attempt(KARI_ID, "karin", &p),
            attempt(OLA_ID, "kari", &p),
            attempt("", "kari", &p),
        ] {
            let check = plan_login(&c, &l, now, &a.claim()).unwrap();
            assert_eq!(check.hash(), c.dummy_hash.as_str(), "{a:?}");
            assert_eq!(
                hash_params(check.hash()),
                hash_params(c.user("kari").unwrap().password_hash.as_str()),
                "the same work as a real check"
            );
        }
    }

    #[test]
    fn a_locked_address_or_card_is_refused_before_hashing_whoever_it_claims_to_be() {
        let c = testutil::config();
        let mut l = Lockout::new(c.lockout);
        let t0 = Instant::now();
        // Five unknown names from one address with Ola's card lock the card and the address.
        for s in 0..5u8 {
            let p = pw("x");
            let name = format!("ukjent-{s}");
            let r = check_login(
                &c,
                &mut l,
                t0,
                &attempt(OLA_ID, &name, &p),
                Verdict::default,
            );
            assert!(r.is_err());
        }
        let p = pw(KARI_PASSWORD);
        // From that address, Kari's own card and password: refused as locked, unhashed.
        let r =
            plan_login(&c, &l, t0 + secs(1), &attempt(KARI_ID, "kari", &p).claim()).unwrap_err();
        assert_eq!(
            (r.reason, r.lock),
            (RefusalReason::LockedOut, Some(LockScope::Address))
        );
        // Ola's card from elsewhere: its lock, and the audit keeps the identity reason.
        let elsewhere = LoginAttempt {
            source: OTHER,
            ..attempt(OLA_ID, "kari", &p)
        };
        let r = plan_login(&c, &l, t0 + secs(1), &elsewhere.claim()).unwrap_err();
        assert_eq!(
            (r.reason, r.lock),
            (RefusalReason::IdentifierNotBound, Some(LockScope::Card))
        );
        assert!(matches!(r.client, ClientRefusal::LockedOut { .. }));
    }

    #[test]
    fn unknown_user_foreign_card_and_wrong_password_look_the_same() {
        let c = testutil::config();
        let mut l = Lockout::new(c.lockout);
        let now = Instant::now();
        let right = pw(KARI_PASSWORD);
        let wrong = pw("feil");
        let unknown = check_login(
            &c,
            &mut l,
            now,
            &attempt(KARI_ID, "karin", &right),
            Verdict::default,
        )
        .unwrap_err();
        let foreign = check_login(
            &c,
            &mut l,
            now,
            &attempt(OLA_ID, "kari", &right),
            Verdict::default,
        )
        .unwrap_err();
        let bad_pw = check_login(
            &c,
            &mut l,
            now,
            &attempt(KARI_ID, "kari", &wrong),
            Verdict::default,
        )
        .unwrap_err();
        assert_eq!(unknown.reason, RefusalReason::UnknownUser);
        assert_eq!(unknown.audit_user, None);
        assert_eq!(foreign.reason, RefusalReason::IdentifierNotBound);
        assert_eq!(foreign.audit_user.as_deref(), Some("kari"));
        assert_eq!(bad_pw.reason, RefusalReason::WrongPassword);
        for r in [&unknown, &foreign, &bad_pw] {
            assert_eq!(r.client, ClientRefusal::BadCredentials);
            assert_eq!(r.client.message(), BAD_CREDENTIALS_MESSAGE);
        }
    }

    #[test]
    fn the_binding_is_checked_before_the_password() {
        // Ola's card with Kari's name and a wrong password: refused for the card.
        let c = testutil::config();
        let mut l = Lockout::new(c.lockout);
        let r = check_login(
            &c,
            &mut l,
            Instant::now(),
            &attempt(OLA_ID, "kari", &pw("feil")),
            Verdict::default,
        )
        .unwrap_err();
        assert_eq!(r.reason, RefusalReason::IdentifierNotBound);
        // A certificate without a readable identifier is bound to nobody.
        let r = check_login(
            &c,
            &mut l,
            Instant::now(),
            &attempt("", "kari", &pw(KARI_PASSWORD)),
            Verdict::default,
        )
        .unwrap_err();
        assert_eq!(r.reason, RefusalReason::IdentifierNotBound);
    }

    #[test]
    fn locked_out_even_with_the_right_password_and_guesses_learn_nothing() {
        let c = testutil::config();
        let mut l = Lockout::new(c.lockout);
        let t0 = Instant::now();
        let wrong = pw("feil");
        let right = pw(KARI_PASSWORD);
        let mut last = None;
        for s in 0..3 {
            last = Some(
                check_login(
                    &c,
                    &mut l,
                    t0 + secs(s),
                    &attempt(KARI_ID, "kari", &wrong),
                    Verdict::default,
                )
                .unwrap_err(),
            );
        }
        // The failure that locks says so.
        let last = last.unwrap();
        assert_eq!(last.reason, RefusalReason::WrongPassword);
        assert_eq!(
            last.client,
            ClientRefusal::LockedOut {
                retry_after_secs: 60
            }
        );
        let posture_asked = std::cell::Cell::new(false);
        let r = check_login(
            &c,
            &mut l,
            t0 + secs(10),
            &attempt(KARI_ID, "kari", &right),
            || {
                posture_asked.set(true);
                Verdict::default()
            },
        )
        .unwrap_err();
        assert_eq!(r.reason, RefusalReason::LockedOut);
        assert_eq!(r.lock, Some(LockScope::User));
        assert_eq!(
            r.client,
            ClientRefusal::LockedOut {
                retry_after_secs: 52
            }
        );
        assert!(!posture_asked.get(), "posture comes after lockout");
        // A wrong guess during the lock gets the same answer as the right password: neither
        // is checked.
        let r = check_login(
            &c,
            &mut l,
            t0 + secs(10),
            &attempt(KARI_ID, "kari", &wrong),
            Verdict::default,
        )
        .unwrap_err();
        assert_eq!(r.reason, RefusalReason::LockedOut);
        assert_eq!(
            r.client,
            ClientRefusal::LockedOut {
                retry_after_secs: 52
            }
        );
        // After the lock, the right password gets in and clears the count.
        assert!(check_login(
            &c,
            &mut l,
            t0 + secs(62),
            &attempt(KARI_ID, "kari", &right),
            Verdict::default
        )
        .is_ok());
        assert_eq!(l.state("kari", OTHER, t0 + secs(62)), LockState::Open);
    }

    #[test]
    fn a_strangers_card_never_locks_a_user_out() {
        let c = testutil::config();
        let mut l = Lockout::new(c.lockout);
        let t0 = Instant::now();
        let guess = pw("gjetning");
        // Ola's own card, Kari's username, from many addresses: refused every time, and it is
        // Ola's card that ends up locked.
        let mut last = None;
        for s in 0..10u8 {
            let a = LoginAttempt {
                source: IpAddr::V4(Ipv4Addr::new(198, 51, 100, s)),
                ..attempt(OLA_ID, "kari", &guess)
            };
            last = Some(
                check_login(&c, &mut l, t0 + secs(u64::from(s)), &a, Verdict::default).unwrap_err(),
            );
        }
        let last = last.unwrap();
        assert_eq!(last.reason, RefusalReason::IdentifierNotBound);
        assert_eq!(last.lock, Some(LockScope::Card));
        assert!(l.card_state(OLA_ID, t0 + secs(10)).is_locked());
        // Kari, with her card and her password, is not locked.
        assert_eq!(l.state("kari", HOME, t0 + secs(10)), LockState::Open);
        let right = pw(KARI_PASSWORD);
        let kari = check_login(
            &c,
            &mut l,
            t0 + secs(10),
            &attempt(KARI_ID, "kari", &right),
            Verdict::default,
        );
        assert!(kari.is_ok(), "{kari:?}");
    }

    #[test]
    fn a_card_trying_many_usernames_is_locked_and_its_success_clears_it() {
        let c = testutil::config();
        let mut l = Lockout::new(c.lockout);
        let t0 = Instant::now();
        let p = pw("x");
        let names = ["a", "b", "c", "d", "e", "f"];
        let states: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let a = LoginAttempt {
                    source: IpAddr::V4(Ipv4Addr::new(198, 51, 100, i as u8)),
                    ..attempt(KARI_ID, name, &p)
                };
                check_login(&c, &mut l, t0 + secs(i as u64), &a, Verdict::default)
                    .unwrap_err()
                    .lock
            })
            .collect();
        assert_eq!(states[3], None);
        assert_eq!(states[4], Some(LockScope::Card), "{states:?}");
        assert_eq!(states[5], Some(LockScope::Card));
        // After the lock, the owner logs in and the card's count is forgotten.
        let right = pw(KARI_PASSWORD);
        let later = t0 + secs(6 + c.lockout.lock_secs);
        assert!(check_login(
            &c,
            &mut l,
            later,
            &attempt(KARI_ID, "kari", &right),
            Verdict::default
        )
        .is_ok());
        assert_eq!(l.card_state(KARI_ID, later), LockState::Open);
        assert_eq!(l.tracked_cards(), 0);
    }

    #[test]
    fn unknown_usernames_lock_like_known_ones() {
        // With a card that is not theirs, a known username and an unknown one get the same
        // answers, lock included: nothing tells whether the name exists.
        let c = testutil::config();
        let p = pw("x");
        let answers = |username: &str| {
            let mut l = Lockout::new(c.lockout);
            let t0 = Instant::now();
            (0..7u8)
                .map(|s| {
                    let a = LoginAttempt {
                        source: IpAddr::V4(Ipv4Addr::new(192, 0, 2, s)),
                        ..attempt(KARI_ID, username, &p)
                    };
                    match check_login(&c, &mut l, t0 + secs(u64::from(s)), &a, Verdict::default)
                        .unwrap_err()
                        .client
                    {
                        ClientRefusal::LockedOut { .. } => "locked",
                        _ => "refused",
                    }
                })
                .collect::<Vec<_>>()
        };
        let unknown = answers("finnes-ikke");
        assert_eq!(unknown, answers("ola"));
        assert_eq!(unknown[3], "refused");
        assert_eq!(unknown[4], "locked", "{unknown:?}");
    }

    fn refused(rule: &'static str) -> Verdict {
        Verdict {
            denied: vec![Failed {
                rule,
                action: crate::posture::policy::Action::Deny,
                seen: "seen".into(),
                nb: "Brannmuren er av.".into(),
                en: "The firewall is off.".into(),
            }],
            warned: vec![],
        }
    }

    #[test]
    fn posture_then_grants() {
        let c = testutil::config();
        let mut l = Lockout::new(c.lockout);
        let now = Instant::now();
        let p = pw(KARI_PASSWORD);
        let r = check_login(&c, &mut l, now, &attempt(KARI_ID, "kari", &p), || {
            refused("firewall")
        })
        .unwrap_err();
        assert_eq!(r.reason, RefusalReason::PostureRefused);
        assert!(
            r.client.message().contains("(firewall)"),
            "{}",
            r.client.message()
        );
        let ClientRefusal::PostureRefused { failed } = &r.client else {
            panic!("{:?}", r.client);
        };
        assert_eq!(failed[0].nb, "Brannmuren er av.");
        // A warning lets the login in, and the warning goes with it.
        let accepted = check_login(&c, &mut l, now, &attempt(KARI_ID, "kari", &p), || {
            let mut v = refused("disk-encryption");
            v.warned = std::mem::take(&mut v.denied);
            v
        })
        .unwrap();
        assert_eq!(accepted.posture_warnings[0].rule, "disk-encryption");
        // Posture failures are not password failures.
        assert_eq!(l.tracked(), (0, 0));

        let nils = pw("nils-sitt-passord");
        let r = check_login(
            &c,
            &mut l,
            now,
            &attempt("UN:NO-9578-4050-100000003", "nils", &nils),
            Verdict::default,
        )
        .unwrap_err();
        assert_eq!(r.reason, RefusalReason::NoGrants);
        assert_eq!(r.client.code(), "no-grants");
        // And a posture refusal comes before a missing grant.
        let r = check_login(
            &c,
            &mut l,
            now,
            &attempt("UN:NO-9578-4050-100000003", "nils", &nils),
            || refused("antivirus"),
        )
        .unwrap_err();
        assert_eq!(r.reason, RefusalReason::PostureRefused);
    }

    #[test]
    fn reasons_have_the_audit_names() {
        let all = [
            RefusalReason::UnknownUser,
            RefusalReason::IdentifierNotBound,
            RefusalReason::WrongPassword,
            RefusalReason::LockedOut,
            RefusalReason::PostureRefused,
            RefusalReason::NoGrants,
        ];
        let names: Vec<String> = all
            .iter()
            .map(|r| {
                serde_json::to_value(r)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            names,
            [
                "unknown-user",
                "identifier-not-bound",
                "wrong-password",
                "locked-out",
                "posture-refused",
                "no-grants"
            ]
        );
        for r in all {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            let back: RefusalReason = serde_json::from_value(r.as_str().into()).unwrap();
            assert_eq!(back, r);
        }
    }

    #[test]
    fn lock_messages_round_minutes_up() {
        let m = |s| {
            ClientRefusal::LockedOut {
                retry_after_secs: s,
            }
            .fix()
        };
        assert!(m(1).starts_with("Vent 1 minutt og"));
        assert!(m(61).starts_with("Vent 2 minutter"));
    }

    #[test]
    fn login_refusals_keep_their_names_in_the_audit_log() {
        for reason in [
            RefusalReason::UnknownUser,
            RefusalReason::IdentifierNotBound,
            RefusalReason::WrongPassword,
            RefusalReason::LockedOut,
            RefusalReason::PostureRefused,
            RefusalReason::NoGrants,
        ] {
            let audit: crate::gateway::audit::RefusalReason = reason.into();
            assert_eq!(
                serde_json::to_string(&reason).unwrap(),
                serde_json::to_string(&audit).unwrap()
            );
            assert_eq!(
                serde_json::to_string(&reason).unwrap(),
                format!("\"{}\"", reason.as_str())
            );
        }
    }
}
