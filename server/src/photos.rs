//! The photo store the configuration asks for: an S3 bucket (AWS or S3-compatible)
//! when `BEATLINE_PHOTO_S3_BUCKET` is set, else the local directory, checked at start
//! so that a store the server cannot use stops it with one clear line.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use graphql_schema::domain::photos::{ObjectStorePhotos, PhotoStore};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, PutPayload, RetryConfig};

use crate::config::{PhotoConfig, S3Addressing};

/// The store photos go to, or None to keep them in memory (no directory, no bucket).
pub async fn store(config: &PhotoConfig) -> anyhow::Result<Option<Arc<dyn PhotoStore>>> {
    if let Some(bucket) = &config.photo_s3_bucket {
        return Ok(Some(s3(config, bucket).await?));
    }
    match &config.photo_dir {
        Some(dir) => Ok(Some(Arc::new(
            ObjectStorePhotos::local_dir(dir).map_err(|e| anyhow::anyhow!(e))?,
        ))),
        None => Ok(None),
    }
}

/// Photos in an S3 bucket, after a write, a read and a delete of a small object under
/// the prefix showed that the bucket exists and the credentials may use it.
async fn s3(config: &PhotoConfig, bucket: &str) -> anyhow::Result<Arc<dyn PhotoStore>> {
    let builder = builder(config, bucket)?;
    let prefix = prefix(config)?;
    let place = match &config.photo_s3_endpoint {
        Some(endpoint) => format!("bucket {bucket:?} at {endpoint}"),
        None => format!("bucket {bucket:?} in {}", config.photo_s3_region),
    };
    // Fail fast at start: the serving store retries for a while, which would only
    // delay the message.
    let probe = builder
        .clone()
        .with_retry(RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 1,
            retry_timeout: Duration::from_secs(10),
        })
        .build()
        .map_err(|e| anyhow::anyhow!("cannot use the photo {place}: {}", one_line(&e)))?;
    check(&probe, &prefix)
        .await
        .with_context(|| format!("cannot use the photo {place}"))?;
    let store = builder
        .with_retry(RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
        })
        .build()
        .map_err(|e| anyhow::anyhow!("cannot use the photo {place}: {}", one_line(&e)))?;
    tracing::info!(
        bucket,
        prefix = %prefix,
        endpoint = config.photo_s3_endpoint.as_deref().unwrap_or("AWS S3"),
        "photos are stored in S3"
    );
    Ok(Arc::new(ObjectStorePhotos::presigning(
        Arc::new(store),
        prefix,
    )))
}

fn builder(config: &PhotoConfig, bucket: &str) -> anyhow::Result<AmazonS3Builder> {
    let mut client = ClientOptions::new();
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(&config.photo_s3_region)
        .with_virtual_hosted_style_request(
            config.photo_s3_addressing == S3Addressing::VirtualHosted,
        );
    if let Some(endpoint) = &config.photo_s3_endpoint {
        if plain_http_to_loopback(endpoint)? {
            client = client.with_allow_http(true);
        }
        builder = builder.with_endpoint(endpoint.trim_end_matches('/'));
    }
    match (
        &config.photo_s3_access_key_id,
        &config.photo_s3_secret_access_key,
    ) {
        (Some(id), Some(secret)) => {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret.expose());
            if let Some(token) = &config.photo_s3_session_token {
                builder = builder.with_token(token.expose());
            }
        }
        (None, None) => {
            // The machine's role. object_store reads the EKS web identity variables
            // itself; the ECS task role's URI is passed on here.
            if let Ok(uri) = std::env::var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
                builder =
                    builder.with_config(AmazonS3ConfigKey::ContainerCredentialsRelativeUri, uri);
            }
        }
        _ => anyhow::bail!(
            "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the photo bucket, or neither to use the machine's role"
        ),
    }
    Ok(builder.with_client_options(client))
}

/// Whether the endpoint is plain `http` (allowed to a loopback address only); an error
/// for anything but `http`/`https` URLs and for plain `http` elsewhere.
fn plain_http_to_loopback(endpoint: &str) -> anyhow::Result<bool> {
    let url = reqwest::Url::parse(endpoint).map_err(|e| {
        anyhow::anyhow!("BEATLINE_PHOTO_S3_ENDPOINT {endpoint:?} is not a URL ({e}): use e.g. https://s3.example.org")
    })?;
    match url.scheme() {
        "https" => Ok(false),
        "http" => {
            let host = url.host_str().unwrap_or_default();
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(true)
            } else {
                anyhow::bail!(
                    "BEATLINE_PHOTO_S3_ENDPOINT {endpoint:?} uses plain http, which is allowed only for a loopback address: use https (credentials and signed photo URLs must not travel in clear)"
                )
            }
        }
        other => anyhow::bail!(
            "BEATLINE_PHOTO_S3_ENDPOINT {endpoint:?} has the scheme {other:?}: use an https URL"
        ),
    }
}

fn prefix(config: &PhotoConfig) -> anyhow::Result<ObjectPath> {
    match &config.photo_s3_prefix {
        None => Ok(ObjectPath::default()),
        Some(prefix) => ObjectPath::parse(prefix.trim_matches('/')).map_err(|e| {
            anyhow::anyhow!(
                "BEATLINE_PHOTO_S3_PREFIX {prefix:?} is not a usable folder name ({}): use e.g. beatline/prod",
                one_line(&e)
            )
        }),
    }
}

/// Writes, reads back and deletes a small object under the prefix. Failing to delete
/// is only warned about: photos are rarely deleted (a report that failed after its
/// upload), and a bucket may forbid deletes on purpose.
async fn check(store: &dyn ObjectStore, prefix: &ObjectPath) -> anyhow::Result<()> {
    let path: ObjectPath = prefix
        .parts()
        .chain(ObjectPath::from(".beatline-start-check").parts())
        .collect();
    let probe = b"beatline can write here";
    store
        .put(&path, PutPayload::from_static(probe))
        .await
        .map_err(|e| anyhow::anyhow!(explain(&e)))?;
    let read = store
        .get(&path)
        .await
        .map_err(|e| anyhow::anyhow!(explain(&e)))?
        .bytes()
        .await
        .map_err(|e| anyhow::anyhow!(explain(&e)))?;
    anyhow::ensure!(
        read.as_ref() == probe,
        "an object written to it read back different"
    );
    if let Err(error) = store.delete(&path).await {
        tracing::warn!(error = %one_line(&error), "the photo bucket refused to delete the start-up check object; photos of failed reports will stay behind");
    }
    Ok(())
}

/// What an error of the start-up check means for an operator.
fn explain(error: &object_store::Error) -> String {
    let text = one_line(error);
    let hint = if text.contains("NoSuchBucket") {
        "the bucket does not exist"
    } else if [
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "403 Forbidden",
    ]
    .iter()
    .any(|code| text.contains(code))
    {
        "the credentials were refused or may not read and write the bucket (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket's policy)"
    } else if text.contains("error sending request") || text.contains("connect") {
        "the store cannot be reached (check BEATLINE_PHOTO_S3_ENDPOINT and the network)"
    } else {
        "the store refused a test write"
    };
    format!("{hint}: {text}")
}

/// An error on one line: S3 error bodies are XML over several lines.
fn one_line(error: &dyn std::fmt::Display) -> String {
    error
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(matches!(
            plain_http_to_loopback("http://127.0.0.1:9000"),
            Ok(true)
        ));
        assert!(matches!(
            plain_http_to_loopback("http://[::1]:9000"),
            Ok(true)
        ));
        assert!(matches!(
            plain_http_to_loopback("http://localhost:9000"),
            Ok(true)
        ));
        assert!(matches!(
            plain_http_to_loopback("https://s3.example.org"),
            Ok(false)
        ));
        assert!(plain_http_to_loopback("http://minio.internal:9000").is_err());
        assert!(plain_http_to_loopback("http://10.0.0.5:9000").is_err());
        assert!(plain_http_to_loopback("ftp://127.0.0.1").is_err());
        assert!(plain_http_to_loopback("s3.example.org").is_err());
    }
}
