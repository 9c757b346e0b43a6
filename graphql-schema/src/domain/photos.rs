//! Photos of problems: checked by content, stripped of metadata, thumbnailed, stored
//! through `object_store`, and served only to those who may see their problem.
//!
//! Metadata (EXIF, GPS, device, XMP) is stripped by decoding the image to pixels and
//! encoding those pixels again: nothing but the pixels survives. JPEG stays JPEG, PNG
//! stays PNG, and WebP is stored as lossless WebP.

use std::io::Cursor;
use std::sync::Arc;

use entity::photo;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
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

/// Where photo bytes are kept.
#[async_trait::async_trait]
pub trait PhotoStore: Send + Sync {
    /// Stores an object.
    async fn put(&self, key: &str, bytes: Vec<u8>) -> AppResult<()>;
    /// Reads an object, or None when it is missing.
    async fn get(&self, key: &str) -> AppResult<Option<Vec<u8>>>;
    /// Deletes an object; a missing one is not an error.
    async fn delete(&self, key: &str) -> AppResult<()>;
}

/// A [`PhotoStore`] over any `object_store` backend (local directory, memory, S3...).
pub struct ObjectStorePhotos(pub Arc<dyn ObjectStore>);

impl ObjectStorePhotos {
    /// Photos kept in a local directory (created if missing).
    pub fn local_dir(dir: &std::path::Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the photo directory {}: {e}", dir.display()))?;
        object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map(|s| Self(Arc::new(s)))
            .map_err(|e| format!("cannot use the photo directory {}: {e}", dir.display()))
    }

    /// Photos kept in memory (tests, and servers without a photo directory).
    pub fn in_memory() -> Self {
        Self(Arc::new(object_store::memory::InMemory::new()))
    }
}

fn storage_error(e: object_store::Error) -> AppError {
    AppError::Internal(anyhow::anyhow!("photo storage: {e}"))
}

#[async_trait::async_trait]
impl PhotoStore for ObjectStorePhotos {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> AppResult<()> {
        self.0
            .put(&ObjectPath::from(key), bytes.into())
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> AppResult<Option<Vec<u8>>> {
        match self.0.get(&ObjectPath::from(key)).await {
            Ok(result) => Ok(Some(result.bytes().await.map_err(storage_error)?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(storage_error(e)),
        }
    }

    async fn delete(&self, key: &str) -> AppResult<()> {
        match self.0.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage_error(e)),
        }
    }
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
            store.put(&key, p.bytes.clone()).await?;
            store.put(&thumb, p.thumbnail.clone()).await
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
    let (key, content_type) = if thumbnail {
        (row.thumbnail_key, "image/jpeg".to_owned())
    } else {
        (row.storage_key, row.content_type)
    };
    let bytes = store.get(&key).await?.ok_or_else(not_found)?;
    Ok((content_type, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

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
