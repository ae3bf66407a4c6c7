//! Bearer tokens read from a file, trimmed as kubectl trims them.
//!
//! kube sends a token file's content as it is, so a file that ends in a newline (what
//! `echo "$TOKEN" > file` writes) fails every call with `InvalidBearerToken`, where
//! kubectl (client-go) trims the content. This layer takes the token file over from kube,
//! for a kubeconfig's `tokenFile` and the in-cluster service account token alike: it
//! sends the trimmed content as `Authorization: Bearer …` and, like kube and client-go,
//! reads the file again at most once a minute (so rotated service account tokens are
//! picked up), keeping the last token when a re-read fails.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::Request;
use hyper::header::{AUTHORIZATION, HeaderValue};

/// How long a token read from the file is used before the file is read again.
const RELOAD_AFTER: Duration = Duration::from_secs(60);

/// Takes the token file out of `auth_info` when kube would use it (no auth provider, no
/// basic auth, no inline token set before it) and reads it once.
///
/// # Errors
/// The file cannot be read, or its trimmed content is not a valid header value.
pub(super) fn take(
    auth_info: &mut kube::config::AuthInfo,
) -> Result<Option<TokenFileLayer>, kube::Error> {
    let kube_would_use_it = auth_info.auth_provider.is_none()
        && !(auth_info.username.is_some() && auth_info.password.is_some())
        && auth_info.token.is_none();
    let Some(path) = auth_info.token_file.take_if(|_| kube_would_use_it) else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    let header = read(&path)?;
    Ok(Some(TokenFileLayer {
        token: Arc::new(TokenFile {
            path,
            cached: Mutex::new((header, Instant::now())),
        }),
    }))
}

/// The file's trimmed content as an `Authorization` header value (marked sensitive).
fn read(path: &PathBuf) -> Result<HeaderValue, kube::Error> {
    let content = std::fs::read_to_string(path)
        .map_err(|e| kube::Error::Auth(kube::client::AuthError::ReadTokenFile(e, path.clone())))?;
    let mut header = HeaderValue::from_str(&format!("Bearer {}", content.trim()))
        .map_err(|e| kube::Error::Auth(kube::client::AuthError::InvalidBearerToken(e)))?;
    header.set_sensitive(true);
    Ok(header)
}

/// A token file and the header last read from it.
#[derive(Debug)]
struct TokenFile {
    path: PathBuf,
    cached: Mutex<(HeaderValue, Instant)>,
}

impl TokenFile {
    /// The header to send: the cached one, re-read from the file once it is a minute old
    /// (the last good one kept when the file cannot be read or holds no valid token).
    fn header(&self) -> HeaderValue {
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if cached.1.elapsed() >= RELOAD_AFTER {
            if let Ok(header) = read(&self.path) {
                cached.0 = header;
            }
            cached.1 = Instant::now();
        }
        cached.0.clone()
    }
}

/// Sets `Authorization` from a token file on every request.
#[derive(Clone, Debug)]
pub(super) struct TokenFileLayer {
    token: Arc<TokenFile>,
}

impl<S> tower_layer::Layer<S> for TokenFileLayer {
    type Service = WithTokenFile<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithTokenFile {
            inner,
            token: Arc::clone(&self.token),
        }
    }
}

/// A service that sends its requests with the token file's bearer token.
#[derive(Clone, Debug)]
pub(super) struct WithTokenFile<S> {
    inner: S,
    token: Arc<TokenFile>,
}

impl<S, B> tower_service::Service<Request<B>> for WithTokenFile<S>
where
    S: tower_service::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        req.headers_mut().insert(AUTHORIZATION, self.token.header());
        self.inner.call(req)
    }
}
