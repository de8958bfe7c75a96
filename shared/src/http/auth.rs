//! HTTP basic authentication against bcrypt hashes (`basic_auth_users`), with a cache of
//! verification results: one bcrypt check costs ~80–100 ms at cost 10. Failures are
//! cached too (as exporter-toolkit does), so a client retrying the same wrong password
//! costs nothing; every *different* guess still pays the full bcrypt price.
//!
//! The cache key is (user, a keyed 128-bit SipHash of the presented password); the key is
//! random per process, so the cache holds neither the password nor anything from which it
//! could be tested offline.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Mutex;

use base64::Engine as _;

/// Bound of the verification cache; it is cleared when full.
const CACHE_MAX: usize = 1024;

/// The configured users and the verification cache.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    keys: (RandomState, RandomState),
    cache: Mutex<HashMap<(String, u128), bool>>,
    /// Verified against when the user is unknown, so that unknown users cost as much
    /// as wrong passwords (no user enumeration by timing).
    dummy_hash: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Splits an `Authorization: Basic …` header value into (user, password).
/// `None` when it is absent, not Basic, or malformed.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

impl BasicAuth {
    /// Users → bcrypt hashes. Hashes are assumed valid (checked by the web config).
    pub fn new(users: BTreeMap<String, String>) -> BasicAuth {
        // Cost of the dummy hash: that of the first user, so timing matches.
        let cost = users
            .values()
            .next()
            .and_then(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|p| p.get_cost())
            .unwrap_or(bcrypt::DEFAULT_COST);
        let dummy_hash = bcrypt::hash("rtmon-dummy", cost).unwrap_or_default();
        BasicAuth {
            users,
            keys: (RandomState::new(), RandomState::new()),
            cache: Mutex::new(HashMap::new()),
            dummy_hash,
        }
    }

    /// True when no user is configured (auth disabled).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    fn key(&self, user: &str, password: &str) -> (String, u128) {
        let h = |s: &RandomState| {
            let mut h = s.build_hasher();
            h.write(password.as_bytes());
            h.finish()
        };
        let (a, b) = (h(&self.keys.0), h(&self.keys.1));
        (user.to_string(), (u128::from(a) << 64) | u128::from(b))
    }

    /// Checks an `Authorization` header value. Blocking (bcrypt): call it from
    /// `spawn_blocking` or accept the cost. Cached successes return at once.
    pub fn check(&self, authorization: Option<&str>) -> bool {
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return false;
        };
        let key = self.key(&user, &password);
        if let Ok(c) = self.cache.lock() {
            if let Some(&ok) = c.get(&key) {
                return ok;
            }
        }
        let ok = match self.users.get(&user) {
            Some(hash) => bcrypt::verify(&password, hash).unwrap_or(false),
            None => {
                let _ = bcrypt::verify(&password, &self.dummy_hash);
                false
            }
        };
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= CACHE_MAX {
                c.clear();
            }
            c.insert(key, ok);
        }
        ok
    }

    /// The cached result for this header, if any (tests, debugging).
    pub fn cached(&self, authorization: &str) -> Option<bool> {
        let (user, password) = parse_basic(authorization)?;
        let key = self.key(&user, &password);
        self.cache.lock().ok()?.get(&key).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    }

    #[test]
    fn parse_basic_handles_good_and_bad_headers() {
        assert_eq!(
            parse_basic(&header("prom", "a:b")),
            Some(("prom".into(), "a:b".into()))
        );
        assert_eq!(
            parse_basic("basic cHJvbTp4"),
            Some(("prom".into(), "x".into()))
        );
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(parse_basic("Basic bm9jb2xvbg=="), None); // "nocolon"
        assert_eq!(parse_basic(""), None);
    }

    #[test]
    fn verifies_and_caches_results() {
        let hash = bcrypt::hash("s3cret", 4).expect("hash");
        let auth = BasicAuth::new(BTreeMap::from([("prom".to_string(), hash)]));
        let good = header("prom", "s3cret");
        let bad = header("prom", "wrong");
        assert_eq!(auth.cached(&good), None);
        assert!(auth.check(Some(&good)));
        assert_eq!(auth.cached(&good), Some(true));
        assert!(auth.check(Some(&good)));
        assert!(!auth.check(Some(&bad)));
        assert_eq!(auth.cached(&bad), Some(false));
        assert!(!auth.check(Some(&bad)));
        // Same password, other user: a different cache entry.
        assert_eq!(auth.cached(&header("other", "s3cret")), None);
        assert!(!auth.check(Some(&header("nobody", "s3cret"))));
        assert!(!auth.check(None));
        assert!(!auth.check(Some("Basic")));
    }
}
