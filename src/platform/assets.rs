//! The site's built assets under `/pkg/` (the WASM, its JS glue, the CSS), served as files.
//!
//! - Compressed once, at build time: `cargo leptos build --release --precompress` writes a
//!   brotli (`.br`) and a gzip (`.gz`) copy beside each file, and the browser gets the copy its
//!   `Accept-Encoding` takes. Without the copies the response compression layer still applies.
//! - Cached for a year: with `hash-files` (Cargo.toml) every name carries its content's hash,
//!   so a name never changes its content and `Cache-Control: public, max-age=31536000,
//!   immutable` holds; a deploy changes the names of exactly the files that changed. A build
//!   without the hashes is revalidated on every use instead (`no-cache`).
//!
//! Pages and PDFs are never cached (`no-store`, see [`super::security`]).

use axum::http::{header, HeaderValue, Response, StatusCode};
use leptos::config::LeptosOptions;
use std::path::PathBuf;
use tower::{util::MapResponseLayer, ServiceBuilder};
use tower_http::services::ServeDir;

/// How long a hashed asset may be kept: a year, without asking again.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// An asset whose name does not change with its content: ask again before each use.
pub const REVALIDATE: &str = "no-cache";

/// The hash file cargo-leptos writes beside the server binary when it hashes the asset names.
pub fn hash_file(options: &LeptosOptions) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join(options.hash_file.as_ref()))
}

/// The Leptos options, with file hashing on when the build made a hash file (so the pages
/// name `/pkg/axis-crm.<hash>.wasm`, and a server built by plain `cargo build` still works).
pub fn with_hashes(mut options: LeptosOptions) -> LeptosOptions {
    if !options.hash_files {
        options.hash_files = hash_file(&options).is_some_and(|p| p.is_file());
    }
    options
}

/// `/pkg/…`: files from the site's pkg directory, precompressed copies preferred, with the
/// caching their names allow. A missing file is a plain 404, never cached.
pub fn service(options: &LeptosOptions) -> axum::Router {
    let dir = PathBuf::from(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let policy = HeaderValue::from_static(if options.hash_files {
        IMMUTABLE
    } else {
        REVALIDATE
    });
    let files = ServiceBuilder::new()
        .layer(MapResponseLayer::new(move |mut res: Response<_>| {
            if res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED {
                res.headers_mut()
                    .insert(header::CACHE_CONTROL, policy.clone());
            }
            res
        }))
        .service(ServeDir::new(dir).precompressed_br().precompressed_gzip());
    axum::Router::new().fallback_service(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    async fn get(
        app: &axum::Router,
        path: &str,
        accept: Option<&str>,
    ) -> (StatusCode, Option<String>, Option<String>, Vec<u8>) {
        let mut req = axum::http::Request::get(path);
        if let Some(a) = accept {
            req = req.header(header::ACCEPT_ENCODING, a);
        }
        let res = app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let h = |n| {
            res.headers()
                .get(n)
                .map(|v: &HeaderValue| v.to_str().unwrap().to_string())
        };
        let (status, encoding, cache) = (
            res.status(),
            h(header::CONTENT_ENCODING),
            h(header::CACHE_CONTROL),
        );
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        (status, encoding, cache, body)
    }

    fn site(hashed: bool) -> (tempfile::TempDir, axum::Router) {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("pkg");
        std::fs::create_dir(&pkg).unwrap();
        std::fs::write(pkg.join("axis-crm.1a2b3c.wasm"), b"raw wasm").unwrap();
        std::fs::write(pkg.join("axis-crm.1a2b3c.wasm.br"), b"brotli copy").unwrap();
        std::fs::write(pkg.join("axis-crm.1a2b3c.wasm.gz"), b"gzip copy").unwrap();
        let options = LeptosOptions::builder()
            .output_name("axis-crm")
            .site_root(dir.path().display().to_string())
            .hash_files(hashed)
            .build();
        let app = axum::Router::new().nest_service("/pkg", service(&options));
        (dir, app)
    }

    #[tokio::test]
    async fn serves_the_precompressed_copy_the_browser_takes_and_caches_hashed_names() {
        let (_dir, app) = site(true);
        let path = "/pkg/axis-crm.1a2b3c.wasm";
        let (status, enc, cache, body) = get(&app, path, Some("gzip, deflate, br")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(enc.as_deref(), Some("br"));
        assert_eq!(cache.as_deref(), Some(IMMUTABLE));
        assert_eq!(body, b"brotli copy");
        let (_, enc, _, body) = get(&app, path, Some("gzip")).await;
        assert_eq!(
            (enc.as_deref(), body.as_slice()),
            (Some("gzip"), &b"gzip copy"[..])
        );
        let (_, enc, cache, body) = get(&app, path, None).await;
        assert_eq!((enc, body.as_slice()), (None, &b"raw wasm"[..]));
        assert_eq!(cache.as_deref(), Some(IMMUTABLE));
        // A name that is not there is a 404 nobody keeps.
        let (status, _, cache, _) = get(&app, "/pkg/axis-crm.000000.wasm", Some("br")).await;
        assert_eq!((status, cache), (StatusCode::NOT_FOUND, None));
    }

    #[tokio::test]
    async fn names_without_their_hash_are_revalidated() {
        let (_dir, app) = site(false);
        let (status, _, cache, _) = get(&app, "/pkg/axis-crm.1a2b3c.wasm", None).await;
        assert_eq!(
            (status, cache.as_deref()),
            (StatusCode::OK, Some(REVALIDATE))
        );
    }
}
