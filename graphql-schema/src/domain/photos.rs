//! Photos of problems: checked by content, stripped of metadata, thumbnailed, stored
//! through `object_store` (a local directory, or S3 and S3-compatible stores), and
//! served only to those who may see their problem.
//!
//! Metadata (EXIF, GPS, device, XMP) is stripped by decoding the image to pixels and
//! encoding those pixels again: nothing but the pixels survives. JPEG stays JPEG, PNG
//! stays PNG, and WebP is stored as lossless WebP.
//!
//! Image loaders on phones cannot easily send an `Authorization` header, so a photo
//! also has *signed URLs* that work without one until they expire: presigned by the
//! object store when it can (S3), otherwise links to this server signed with
//! HMAC-SHA256 ([`PhotoUrlKey`]). Whoever holds a signed URL can fetch the photo until
//! it expires; authorization happens when the URL is handed out.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound as _, Utc};
use entity::photo;
use hmac::{Hmac, Mac as _};
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{Attribute, Attributes, ObjectStore, PutOptions};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel as _, QueryFilter, QueryOrder,
};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::auth::Viewer;
use crate::domain::now;
use crate::domain::problem_work;
use crate::error::{AppError, AppResult};

/// Most photos per report.
pub const MAX_PHOTOS: usize = 4;
/// Largest photo file.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// Longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 320;
/// Most pixels a photo may have (a 48-megapixel phone camera fits).
const MAX_PIXELS: u64 = 60_000_000;
/// How long signed photo URLs work, unless the server configures otherwise.
pub const SIGNED_URL_TTL: Duration = Duration::from_secs(600);

/// Where photo bytes are kept.
#[async_trait::async_trait]
pub trait PhotoStore: Send + Sync {
    /// Stores an object of the given MIME type.
    async fn put(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> AppResult<()>;
    /// Reads an object, or None when it is missing.
    async fn get(&self, key: &str) -> AppResult<Option<Vec<u8>>>;
    /// Deletes an object; a missing one is not an error.
    async fn delete(&self, key: &str) -> AppResult<()>;
    /// A URL that reads the object straight from the store, without credentials, for
    /// `expires_in`; None when the store cannot make one (a local directory), in which
    /// case links to this server are signed instead ([`PhotoUrlKey`]).
    async fn presigned_url(&self, key: &str, expires_in: Duration) -> AppResult<Option<String>>;
}

/// A [`PhotoStore`] over any `object_store` backend (local directory, memory, S3...).
pub struct ObjectStorePhotos {
    store: Arc<dyn ObjectStore>,
    /// Prepended to every key (S3: a folder of a shared bucket).
    prefix: ObjectPath,
    /// Presigns GET URLs; only object stores that can (S3) have one. Such stores also
    /// keep each object's content type, which they serve with it.
    signer: Option<Arc<dyn Signer>>,
}

impl ObjectStorePhotos {
    /// Photos kept in a local directory (created if missing).
    pub fn local_dir(dir: &std::path::Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the photo directory {}: {e}", dir.display()))?;
        object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map(|s| Self::unsigned(Arc::new(s)))
            .map_err(|e| format!("cannot use the photo directory {}: {e}", dir.display()))
    }

    /// Photos kept in memory (tests, and servers without a photo directory).
    pub fn in_memory() -> Self {
        Self::unsigned(Arc::new(object_store::memory::InMemory::new()))
    }

    /// Photos in an object store that presigns URLs (S3 and S3-compatible stores), under
    /// `prefix` (the empty path for the bucket's root).
    pub fn presigning<S: ObjectStore + Signer>(store: Arc<S>, prefix: ObjectPath) -> Self {
        Self {
            store: store.clone(),
            prefix,
            signer: Some(store),
        }
    }

    fn unsigned(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            prefix: ObjectPath::default(),
            signer: None,
        }
    }

    /// Where a key is in the store.
    fn path(&self, key: &str) -> ObjectPath {
        self.prefix
            .parts()
            .chain(ObjectPath::from(key).parts())
            .collect()
    }
}

fn storage_error(e: object_store::Error) -> AppError {
    AppError::Internal(anyhow::anyhow!("photo storage: {e}"))
}

#[async_trait::async_trait]
impl PhotoStore for ObjectStorePhotos {
    async fn put(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> AppResult<()> {
        let mut options = PutOptions::default();
        if self.signer.is_some() {
            // Served as is from presigned URLs: say what it is, and that it never changes.
            options.attributes = Attributes::from_iter([
                (Attribute::ContentType, content_type.to_owned()),
                (Attribute::CacheControl, "private, max-age=3600".to_owned()),
            ]);
        }
        self.store
            .put_opts(&self.path(key), bytes.into(), options)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> AppResult<Option<Vec<u8>>> {
        match self.store.get(&self.path(key)).await {
            Ok(result) => Ok(Some(result.bytes().await.map_err(storage_error)?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(storage_error(e)),
        }
    }

    async fn delete(&self, key: &str) -> AppResult<()> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage_error(e)),
        }
    }

    async fn presigned_url(&self, key: &str, expires_in: Duration) -> AppResult<Option<String>> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let url = signer
            .signed_url(http::Method::GET, &self.path(key), expires_in)
            .await
            .map_err(storage_error)?;
        Ok(Some(url.into()))
    }
}

/// The key that signs links to photos on this server. Derived from the secret that
/// signs access tokens, so every replica of a deployment agrees on it; a link signed
/// by one replica is accepted by all.
#[derive(Clone)]
pub struct PhotoUrlKey([u8; 32]);

impl std::fmt::Debug for PhotoUrlKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PhotoUrlKey(***)")
    }
}

impl PhotoUrlKey {
    /// The key derived from a server secret (`BEATLINE_JWT_SECRET`). The label keeps it
    /// apart from every other use of the secret.
    pub fn derive(secret: &[u8]) -> Self {
        Self(
            Sha256::new()
                .chain_update(b"beatline photo URL signing key v1\0")
                .chain_update(secret)
                .finalize()
                .into(),
        )
    }

    fn mac(&self, photo_id: Uuid, thumbnail: bool, expires: i64) -> AppResult<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(&self.0)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("photo URL key: {e}")))?;
        let variant = if thumbnail { "thumbnail" } else { "full" };
        mac.update(format!("{photo_id}\n{variant}\n{expires}").as_bytes());
        Ok(mac)
    }

    /// The path of a photo (or its thumbnail) on this server, signed to work without an
    /// `Authorization` header until `expires` (seconds since the epoch):
    /// `/photos/<id>?expires=<unix>&signature=<hex HMAC-SHA256>`.
    pub fn signed_path(&self, photo_id: Uuid, thumbnail: bool, expires: i64) -> AppResult<String> {
        let signature = hex::encode(
            self.mac(photo_id, thumbnail, expires)?
                .finalize()
                .into_bytes(),
        );
        let suffix = if thumbnail { "/thumbnail" } else { "" };
        Ok(format!(
            "/photos/{photo_id}{suffix}?expires={expires}&signature={signature}"
        ))
    }

    /// Whether `signature` (hex) is this key's for the photo, variant and expiry
    /// (compared in constant time).
    fn verify(&self, photo_id: Uuid, thumbnail: bool, expires: i64, signature: &str) -> bool {
        let (Ok(signature), Ok(mac)) = (
            hex::decode(signature),
            self.mac(photo_id, thumbnail, expires),
        ) else {
            return false;
        };
        mac.verify_slice(&signature).is_ok()
    }
}

/// When signed URLs handed out now with a time-to-live of `ttl` expire (whole seconds).
pub fn signed_url_expiry(ttl: Duration) -> DateTime<Utc> {
    let now = Utc::now().trunc_subsecs(0);
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|ttl| now.checked_add_signed(ttl))
        .unwrap_or(now)
}

/// A URL of a photo (or its thumbnail) that works without an `Authorization` header
/// until `expires_at`: presigned by the store when it can, otherwise a signed path on
/// this server. The caller must already have checked that the viewer may see the photo.
pub async fn signed_url(
    store: &dyn PhotoStore,
    key: &PhotoUrlKey,
    row: &photo::Model,
    thumbnail: bool,
    expires_at: DateTime<Utc>,
) -> AppResult<String> {
    let object = if thumbnail {
        &row.thumbnail_key
    } else {
        &row.storage_key
    };
    let remaining = (expires_at.timestamp() - Utc::now().timestamp()).max(1);
    let expires_in = Duration::from_secs(u64::try_from(remaining).unwrap_or(1));
    if let Some(url) = store.presigned_url(object, expires_in).await? {
        return Ok(url);
    }
    key.signed_path(row.id, thumbnail, expires_at.timestamp())
}

/// A photo checked and re-encoded, ready to store.
#[derive(Debug, Clone)]
pub struct PreparedPhoto {
    /// Its id.
    pub id: Uuid,
    /// SHA-256 (hex) of the uploaded file, for idempotency fingerprints.
    pub sha256: String,
    /// MIME type of the stored image.
    pub content_type: &'static str,
    /// The re-encoded image, without metadata.
    pub bytes: Vec<u8>,
    /// A JPEG thumbnail.
    pub thumbnail: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Checks an uploaded file by its content (JPEG, PNG or WebP), decodes it, and encodes
/// it again without metadata, with a thumbnail. CPU-bound: run it on a blocking thread.
/// `name` is only used in messages.
pub fn prepare(name: &str, raw: &[u8]) -> AppResult<PreparedPhoto> {
    if raw.len() > MAX_PHOTO_BYTES {
        return Err(AppError::bad_input(format!(
            "the photo {name:?} is {} bytes; photos may be at most 10 MB",
            raw.len()
        )));
    }
    let format = match image::guess_format(raw) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => f,
        _ => {
            return Err(AppError::bad_input(format!(
                "the file {name:?} is not a JPEG, PNG or WebP image (judged by its content, \
                 not its name): send a photo in one of those formats"
            )));
        }
    };
    let unreadable = || {
        AppError::bad_input(format!(
            "the photo {name:?} could not be read: it is damaged or truncated; take or export it again"
        ))
    };
    let mut reader = ImageReader::with_format(Cursor::new(raw), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4);
    reader.limits(limits);
    let img = reader.decode().map_err(|_| unreadable())?;
    let (width, height) = (img.width(), img.height());
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(AppError::bad_input(format!(
            "the photo {name:?} is {width}×{height} pixels; the limit is 60 megapixels"
        )));
    }
    let (bytes, content_type) = match format {
        ImageFormat::Jpeg => (encode_jpeg(&img, 88)?, "image/jpeg"),
        ImageFormat::Png => (encode(&img, ImageFormat::Png)?, "image/png"),
        _ => (encode(&img, ImageFormat::WebP)?, "image/webp"),
    };
    let thumbnail = encode_jpeg(&img.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE), 80)?;
    Ok(PreparedPhoto {
        id: Uuid::now_v7(),
        sha256: hex::encode(Sha256::digest(raw)),
        content_type,
        bytes,
        thumbnail,
        width,
        height,
    })
}

fn encode(img: &DynamicImage, format: ImageFormat) -> AppResult<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    let img = if format == ImageFormat::WebP {
        // The WebP encoder takes 8-bit RGB(A) only.
        DynamicImage::ImageRgba8(img.to_rgba8())
    } else {
        img.clone()
    };
    img.write_to(&mut out, format)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("cannot encode photo: {e}")))?;
    Ok(out.into_inner())
}

fn encode_jpeg(img: &DynamicImage, quality: u8) -> AppResult<Vec<u8>> {
    let mut out = Vec::new();
    let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&rgb)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("cannot encode photo: {e}")))?;
    Ok(out)
}

fn keys(id: Uuid, content_type: &str) -> (String, String) {
    let ext = match content_type {
        "image/png" => "png",
        "image/webp" => "webp",
        _ => "jpg",
    };
    (
        format!("photos/{id}.{ext}"),
        format!("photos/{id}-thumb.jpg"),
    )
}

/// Stores prepared photos and records them for a problem, in the caller's transaction.
/// (Objects stored before a transaction that then fails are left behind, unreferenced.)
pub async fn attach(
    store: &dyn PhotoStore,
    db: &impl ConnectionTrait,
    problem_id: Uuid,
    uploader: Uuid,
    photos: &[PreparedPhoto],
) -> AppResult<()> {
    if photos.is_empty() {
        return Ok(());
    }
    let at = now();
    let mut rows = Vec::with_capacity(photos.len());
    for p in photos {
        let (key, thumb) = keys(p.id, p.content_type);
        let stored = async {
            store.put(&key, p.content_type, p.bytes.clone()).await?;
            store.put(&thumb, "image/jpeg", p.thumbnail.clone()).await
        }
        .await;
        if let Err(e) = stored {
            discard(store, photos).await;
            return Err(e);
        }
        rows.push(
            photo::Model {
                id: p.id,
                problem_id: Some(problem_id),
                uploader_id: Some(uploader),
                storage_key: key,
                thumbnail_key: thumb,
                content_type: p.content_type.to_owned(),
                byte_size: i32::try_from(p.bytes.len()).unwrap_or(i32::MAX),
                width: i32::try_from(p.width).unwrap_or(i32::MAX),
                height: i32::try_from(p.height).unwrap_or(i32::MAX),
                created_at: at,
            }
            .into_active_model(),
        );
    }
    if let Err(e) = photo::Entity::insert_many(rows).exec(db).await {
        discard(store, photos).await;
        return Err(e.into());
    }
    Ok(())
}

/// Deletes the stored objects of photos whose rows were not committed (the report's
/// transaction failed after [`attach`]), so no unreferenced file stays behind. A
/// failure to delete is logged, not reported: the caller's own error matters more.
pub async fn discard(store: &dyn PhotoStore, photos: &[PreparedPhoto]) {
    for p in photos {
        let (key, thumb) = keys(p.id, p.content_type);
        for k in [key, thumb] {
            if let Err(e) = store.delete(&k).await {
                tracing::warn!(key = %k, error = ?e, "could not delete an unreferenced photo");
            }
        }
    }
}

/// The photos of some problems, oldest first.
pub async fn of_problems(
    db: &impl ConnectionTrait,
    problem_ids: impl IntoIterator<Item = Uuid>,
) -> AppResult<Vec<photo::Model>> {
    Ok(photo::Entity::find()
        .filter(photo::Column::ProblemId.is_in(problem_ids))
        .order_by_asc(photo::Column::CreatedAt)
        .order_by_asc(photo::Column::Id)
        .all(db)
        .await?)
}

/// The bytes and MIME type of a photo (or its thumbnail) for a viewer who may see its
/// problem; NOT_FOUND otherwise, so that photo ids reveal nothing.
pub async fn open(
    db: &impl ConnectionTrait,
    store: &dyn PhotoStore,
    viewer: &Viewer,
    photo_id: Uuid,
    thumbnail: bool,
) -> AppResult<(String, Vec<u8>)> {
    let not_found = || AppError::not_found("photo", photo_id);
    let row = photo::Entity::find_by_id(photo_id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let problem_id = row.problem_id.ok_or_else(not_found)?;
    problem_work::subject(db, viewer, problem_id)
        .await
        .map_err(|e| match e {
            AppError::NotFound(_) => not_found(),
            other => other,
        })?;
    read(store, row, thumbnail).await
}

async fn read(
    store: &dyn PhotoStore,
    row: photo::Model,
    thumbnail: bool,
) -> AppResult<(String, Vec<u8>)> {
    let not_found = || AppError::not_found("photo", row.id);
    let (key, content_type) = if thumbnail {
        (&row.thumbnail_key, "image/jpeg".to_owned())
    } else {
        (&row.storage_key, row.content_type.clone())
    };
    let bytes = store.get(key).await?.ok_or_else(not_found)?;
    Ok((content_type, bytes))
}

/// The `expires` and `signature` query parameters of a signed photo link, as sent.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct LinkSignature {
    /// Seconds since the epoch after which the link stops working.
    pub expires: Option<String>,
    /// Hex HMAC-SHA256 of the photo id, variant and expiry.
    pub signature: Option<String>,
}

/// The bytes and MIME type of a photo (or its thumbnail) through a signed link made by
/// [`PhotoUrlKey::signed_path`], whoever asks. FORBIDDEN, the same for every cause, when
/// the link is malformed, tampered with, made for the other variant, or expired; then
/// NOT_FOUND when the photo is gone or no longer attached to a problem.
pub async fn open_signed(
    db: &impl ConnectionTrait,
    store: &dyn PhotoStore,
    key: &PhotoUrlKey,
    photo_id: Uuid,
    thumbnail: bool,
    link: &LinkSignature,
) -> AppResult<(String, Vec<u8>)> {
    let refused = || {
        AppError::Forbidden(
            "this photo link is invalid or has expired: ask the API for the photo again \
             to get a fresh link"
                .to_owned(),
        )
    };
    let expires = link
        .expires
        .as_deref()
        .and_then(|e| e.parse::<i64>().ok())
        .ok_or_else(refused)?;
    let signature = link.signature.as_deref().ok_or_else(refused)?;
    if !key.verify(photo_id, thumbnail, expires, signature) || expires < Utc::now().timestamp() {
        return Err(refused());
    }
    let not_found = || AppError::not_found("photo", photo_id);
    let row = photo::Entity::find_by_id(photo_id)
        .one(db)
        .await?
        .filter(|row| row.problem_id.is_some())
        .ok_or_else(not_found)?;
    read(store, row, thumbnail).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_links_verify_only_as_signed() -> Result<(), String> {
        let key = PhotoUrlKey::derive(b"a server secret of at least 32 bytes!!");
        let id = Uuid::now_v7();
        let path = key
            .signed_path(id, false, 1_900_000_000)
            .map_err(|e| e.message())?;
        let signature = path
            .rsplit_once("signature=")
            .map(|(_, s)| s)
            .unwrap_or_default();
        assert_eq!(signature.len(), 64);
        assert!(key.verify(id, false, 1_900_000_000, signature));
        assert!(
            !key.verify(id, true, 1_900_000_000, signature),
            "other variant"
        );
        assert!(
            !key.verify(id, false, 1_900_000_001, signature),
            "other expiry"
        );
        assert!(
            !key.verify(Uuid::now_v7(), false, 1_900_000_000, signature),
            "other photo"
        );
        assert!(
            !key.verify(id, false, 1_900_000_000, &signature[..62]),
            "truncated"
        );
        let other = PhotoUrlKey::derive(b"another server secret, 32 bytes or more");
        assert!(
            !other.verify(id, false, 1_900_000_000, signature),
            "other key"
        );
        Ok(())
    }

    #[test]
    fn refuses_non_images_by_content() {
        let err = prepare("cat.jpg", b"this is plain text, not a JPEG").err();
        assert!(matches!(err, Some(AppError::BadInput(m)) if m.contains("not a JPEG")));
    }

    #[test]
    fn reencodes_and_thumbnails() -> Result<(), String> {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            800,
            600,
            image::Rgb([200, 10, 10]),
        ));
        let png = encode(&img, ImageFormat::Png).map_err(|e| e.message())?;
        let p = prepare("x.bin", &png).map_err(|e| e.message())?;
        assert_eq!((p.width, p.height, p.content_type), (800, 600, "image/png"));
        let thumb = image::load_from_memory(&p.thumbnail).map_err(|e| e.to_string())?;
        assert_eq!(thumb.width(), THUMBNAIL_SIDE);
        Ok(())
    }
}
