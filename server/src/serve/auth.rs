//! Checks a request's `Authorization` header against the configured credentials, comparing
//! secrets in constant time.

use headers::authorization::{Basic, Bearer};
use headers::{Authorization, HeaderMapExt};
use subtle::ConstantTimeEq;
use warp::http::HeaderMap;

use crate::config::Auth;

/// The realm named in `WWW-Authenticate` challenges.
pub(crate) const REALM: &str = "alertrun";

/// Why a request was not authenticated. The variants never hold the credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    /// No `Authorization` header of the configured scheme.
    Missing,
    /// The credentials do not match.
    Wrong,
}

impl AuthFailure {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing credentials",
            Self::Wrong => "wrong credentials",
        }
    }
}

/// The `WWW-Authenticate` challenge for `auth`.
pub(crate) fn challenge(auth: &Auth) -> String {
    match auth {
        Auth::Bearer { .. } => format!("Bearer realm=\"{REALM}\""),
        Auth::Basic { .. } => format!("Basic realm=\"{REALM}\", charset=\"UTF-8\""),
    }
}

/// Checks `headers` against `auth`.
pub(crate) fn authorize(auth: &Auth, headers: &HeaderMap) -> Result<(), AuthFailure> {
    let ok = match auth {
        Auth::Bearer { token } => {
            let sent = headers
                .typed_get::<Authorization<Bearer>>()
                .ok_or(AuthFailure::Missing)?;
            equal(sent.token(), token.as_str())
        }
        Auth::Basic { username, password } => {
            let sent = headers
                .typed_get::<Authorization<Basic>>()
                .ok_or(AuthFailure::Missing)?;
            // `&` not `&&`: both comparisons always run.
            equal(sent.username(), username) & equal(sent.password(), password.as_str())
        }
    };
    if ok { Ok(()) } else { Err(AuthFailure::Wrong) }
}

/// Constant time in the contents (a length difference shows, which reveals only the length).
fn equal(sent: &str, expected: &str) -> bool {
    sent.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn headers(authorization: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = authorization {
            h.insert("authorization", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn bearer_and_basic_table() {
        let bearer = Auth::Bearer {
            token: Secret::new("s3cret"),
        };
        let basic = Auth::Basic {
            username: "am".into(),
            password: Secret::new("pw"),
        };
        // "am:pw", "am:no", "xx:pw" in base64.
        let rows = [
            ("bearer ok", &bearer, Some("Bearer s3cret"), Ok(())),
            (
                "scheme is case-insensitive",
                &bearer,
                Some("bearer s3cret"),
                Ok(()),
            ),
            (
                "bearer wrong",
                &bearer,
                Some("Bearer s3cre"),
                Err(AuthFailure::Wrong),
            ),
            (
                "bearer longer",
                &bearer,
                Some("Bearer s3cretX"),
                Err(AuthFailure::Wrong),
            ),
            ("bearer missing", &bearer, None, Err(AuthFailure::Missing)),
            (
                "bearer sent basic",
                &bearer,
                Some("Basic YW06cHc="),
                Err(AuthFailure::Missing),
            ),
            ("basic ok", &basic, Some("Basic YW06cHc="), Ok(())),
            (
                "basic wrong password",
                &basic,
                Some("Basic YW06bm8="),
                Err(AuthFailure::Wrong),
            ),
            (
                "basic wrong user",
                &basic,
                Some("Basic eHg6cHc="),
                Err(AuthFailure::Wrong),
            ),
            (
                "basic not base64",
                &basic,
                Some("Basic !!!"),
                Err(AuthFailure::Missing),
            ),
            (
                "basic sent bearer",
                &basic,
                Some("Bearer pw"),
                Err(AuthFailure::Missing),
            ),
        ];
        for (name, auth, header, want) in rows {
            assert_eq!(authorize(auth, &headers(header)), want, "{name}");
        }
        assert_eq!(challenge(&bearer), "Bearer realm=\"alertrun\"");
        assert!(challenge(&basic).starts_with("Basic realm=\"alertrun\""));
    }
}
