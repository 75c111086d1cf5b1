//! A login whose user lives in the directory: the same decision as for `[[user]]` entries
//! (`super::super::auth`), with the user found in the directory and the password checked by
//! a bind as the user instead of against a hash.
//!
//! The directory is asked for the password only when the user exists and the card is theirs:
//! a bind with a stranger's card would count against the user in the directory's own lockout
//! policy, so that the stranger could lock the user out there. An unknown user or a foreign
//! card is therefore answered without a bind, a little sooner than a wrong password; the
//! answer itself is the same.
//!
//! A directory that cannot be reached decides nothing: the login is refused as "cannot log
//! in now" (`LoginOutcome::Unavailable`) and audited as such.

use std::net::IpAddr;
use std::time::Instant;

use super::{Directory, DirectoryUser};
use crate::gateway::auth::{self, Claim};
use crate::gateway::config::{Config, User};
use crate::gateway::lockout::LockKey;
use crate::gateway::lockout_postgres::LockoutBook;
use crate::gateway::password_pool::LoginOutcome;
use crate::tunnel::protocol::Login;

/// The directory's user as the login decision sees a user: no hash, since the directory
/// checks the password.
fn as_user(found: &DirectoryUser, config: &Config) -> User {
    User {
        username: found.username.clone(),
        personal_id: found.personal_id.clone().unwrap_or_default(),
        password_hash: config.dummy_hash.clone(),
        display_name: found.display_name.clone(),
        groups: found.groups.clone(),
    }
}

/// Decides a login against the directory. `now` as for
/// [`crate::gateway::password_pool::PasswordPool::check_login`].
#[allow(clippy::too_many_arguments)]
pub async fn check_login(
    directory: &Directory,
    config: &Config,
    lockout: &LockoutBook,
    now: impl Fn() -> (Instant, i64),
    source: IpAddr,
    personal_id: &str,
    login: Login,
    posture: impl FnOnce() -> crate::posture::policy::Verdict,
) -> LoginOutcome {
    let Login {
        username, password, ..
    } = login;
    let claim = Claim {
        source,
        personal_id,
        username: &username,
    };
    let keys = LockKey::of_login(&username, &claim.card(), source);
    let before = now();
    if let Err(e) = lockout.refresh(&keys, before).await {
        return LoginOutcome::Unavailable(e.to_string());
    }
    let found = match directory.find(&username).await {
        Ok(found) => found,
        Err(e) => return LoginOutcome::Unavailable(e.to_string()),
    };
    let user = found.as_ref().map(|f| as_user(f, config));
    let planned = auth::plan_login_as(config, user.as_ref(), &lockout.lock(), before.0, &claim);
    let check = match planned {
        Ok(check) => check,
        Err(refusal) => return LoginOutcome::Decided(Err(refusal)),
    };
    let matched = match (&found, check.identity_ok()) {
        (Some(found), true) => match directory.check_password(found, &password).await {
            Ok(matched) => matched,
            Err(e) => return LoginOutcome::Unavailable(e.to_string()),
        },
        _ => false,
    };
    drop(password);
    let credentials = check.outcome(matched);
    let after = now();
    let decided = lockout
        .count(&keys, after, |lockout| {
            auth::decide_login(config, lockout, after.0, &claim, credentials, posture)
        })
        .await;
    match decided {
        Ok(decision) => LoginOutcome::Decided(decision),
        Err(e) => LoginOutcome::Unavailable(e.to_string()),
    }
}
