//! A real S3-protocol server on loopback: `s3s-fs`, the file-system store of the s3s
//! project, served over hyper. It speaks the S3 REST API, checks SigV4 signatures
//! (headers and presigned URLs, with their expiry), and keeps each bucket as a
//! directory of a temporary root. Like S3, and unlike bare s3s-fs (which creates a
//! missing bucket on the first write), it answers `NoSuchBucket` for a bucket that was
//! not created.

use std::path::PathBuf;
use std::sync::Arc;

use beatline_server::config::PhotoConfig;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::SimpleAuth;
use s3s::path::S3Path;
use s3s::service::S3ServiceBuilder;
use s3s::{S3Result, s3_error};
use tokio::task::JoinHandle;

/// The access key id of the server's only account.
pub const ACCESS_KEY_ID: &str = "BEATLINETESTKEY";
/// Its secret access key.
pub const SECRET_ACCESS_KEY: &str = "beatline-test-secret-access-key-0123456789";

/// A running S3 server; stopped and its files removed when dropped.
pub struct S3Server {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub endpoint: String,
    /// The directory holding the buckets.
    pub root: PathBuf,
    task: JoinHandle<()>,
}

impl S3Server {
    /// Starts a server on a free loopback port, with one account
    /// ([`ACCESS_KEY_ID`], [`SECRET_ACCESS_KEY`]) and no bucket.
    pub async fn start() -> Self {
        let root = std::env::temp_dir().join(format!(
            "beatline-test-s3-{}",
            uuid::Uuid::now_v7().simple()
        ));
        std::fs::create_dir_all(&root).expect("create the S3 root");
        let fs = s3s_fs::FileSystem::new(&root).expect("s3s-fs over the root");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
        builder.set_access(SignedAndExistingBuckets(root.clone()));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the S3 server");
        let addr = listener.local_addr().expect("S3 server address");
        let task = tokio::spawn(async move {
            let http = Arc::new(ConnBuilder::new(TokioExecutor::new()));
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let (http, service) = (http.clone(), service.clone());
                tokio::spawn(async move {
                    let _ = http.serve_connection(TokioIo::new(socket), service).await;
                });
            }
        });
        Self {
            endpoint: format!("http://{addr}"),
            root,
            task,
        }
    }

    /// Creates a bucket (s3s-fs keeps a bucket as a directory of its root).
    pub fn create_bucket(&self, name: &str) {
        std::fs::create_dir(self.root.join(name)).expect("create the bucket");
    }

    /// Settings that store the server's photos in `bucket` under `prefix`.
    pub fn photo_config(&self, bucket: &str, prefix: Option<&str>) -> PhotoConfig {
        PhotoConfig {
            photo_s3_bucket: Some(bucket.to_owned()),
            photo_s3_endpoint: Some(self.endpoint.clone()),
            photo_s3_prefix: prefix.map(str::to_owned),
            photo_s3_access_key_id: Some(ACCESS_KEY_ID.to_owned()),
            photo_s3_secret_access_key: Some(
                beatline_server::config::Secret::credential(SECRET_ACCESS_KEY).expect("secret"),
            ),
            ..PhotoConfig::default()
        }
    }

    /// A client of `bucket`, to look at what the server stored.
    pub fn client(&self, bucket: &str) -> AmazonS3 {
        AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name(bucket)
            .with_access_key_id(ACCESS_KEY_ID)
            .with_secret_access_key(SECRET_ACCESS_KEY)
            .build()
            .expect("S3 client")
    }
}

/// S3's checks before an operation: the request is signed (s3s checked the signature),
/// and its bucket exists.
struct SignedAndExistingBuckets(PathBuf);

#[async_trait::async_trait]
impl S3Access for SignedAndExistingBuckets {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_none() {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        }
        if let S3Path::Object { bucket, .. } = cx.s3_path()
            && !self.0.join(bucket.as_ref()).is_dir()
        {
            return Err(s3_error!(NoSuchBucket));
        }
        Ok(())
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
