//! The `beatline` binary as an operator meets it: start-up errors, `create-admin`,
//! `import-boundaries`.

use std::process::Command;

fn beatline() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_beatline"));
    // A clean environment: no BEATLINE_* settings or AWS credentials from the caller.
    for (key, _) in std::env::vars() {
        if key.starts_with("BEATLINE_") || key.starts_with("AWS_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("BEATLINE_LOG", "error");
    cmd
}

fn temp_db() -> (std::path::PathBuf, String) {
    let path =
        std::env::temp_dir().join(format!("beatline-cli-{}.db", uuid::Uuid::now_v7().simple()));
    let url = format!("sqlite://{}", path.display());
    (path, url)
}

#[test]
fn a_bad_database_url_gives_one_clear_line_and_a_failure_status() {
    let out = beatline()
        .args(["--database-url", "mysql://nope", "migrate"])
        .output()
        .expect("run beatline");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not supported"), "{stderr}");

    let out = beatline()
        .args([
            "--database-url",
            "postgres://nobody:secret@127.0.0.1:1/none",
            "migrate",
        ])
        .output()
        .expect("run beatline");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot connect to the database"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "the password leaked: {stderr}");
}

#[test]
fn an_unreachable_photo_bucket_gives_one_clear_line_without_the_secret() {
    let (path, url) = temp_db();
    let secret = "the-secret-access-key-of-this-test-0123456789";
    let out = beatline()
        .env("BEATLINE_PHOTO_S3_BUCKET", "beatline-photos")
        .env("BEATLINE_PHOTO_S3_ENDPOINT", "http://127.0.0.1:1")
        .env("AWS_ACCESS_KEY_ID", "BEATLINETESTKEY")
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .args(["--database-url", &url, "serve", "--listen", "127.0.0.1:0"])
        .output()
        .expect("run beatline");
    let _ = std::fs::remove_file(&path);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot use the photo bucket \"beatline-photos\"")
            && stderr.contains("cannot be reached"),
        "{stderr}"
    );
    assert!(!stderr.contains(secret), "the secret leaked: {stderr}");
}

#[test]
fn unknown_settings_are_refused() {
    let out = beatline()
        .env("BEATLINE_DATABSE_URL", "sqlite://x.db")
        .arg("print-schema")
        .output()
        .expect("run beatline");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("BEATLINE_DATABSE_URL"), "{stderr}");
}

#[test]
fn production_requires_a_jwt_secret() {
    let (path, url) = temp_db();
    let out = beatline()
        .args([
            "--database-url",
            &url,
            "serve",
            "--profile",
            "production",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .expect("run beatline");
    let _ = std::fs::remove_file(&path);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("BEATLINE_JWT_SECRET"));
}

#[test]
fn create_admin_refuses_weak_passwords_and_duplicates() {
    let (path, url) = temp_db();
    let weak = beatline()
        .args([
            "--database-url",
            &url,
            "create-admin",
            "--email",
            "root@example.org",
            "--password",
            "password",
        ])
        .output()
        .expect("run");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"));
    let ok = beatline()
        .args([
            "--database-url",
            &url,
            "create-admin",
            "--email",
            "Root@Example.org",
            "--password",
            "lantern orbit pickle harbor",
        ])
        .output()
        .expect("run");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("root@example.org"));
    let again = beatline()
        .args([
            "--database-url",
            &url,
            "create-admin",
            "--email",
            "root@example.org",
            "--password",
            "lantern orbit pickle harbor",
        ])
        .output()
        .expect("run");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
}

#[test]
fn importing_boundaries_twice_changes_nothing_and_bad_features_are_named() {
    let (path, url) = temp_db();
    let city = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/city.geojson");
    let first = beatline()
        .args(["--database-url", &url, "import-boundaries", city])
        .output()
        .expect("run");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(stdout.contains("precincts: 2 created"), "{stdout}");
    assert!(stdout.contains("beats: 8 created"), "{stdout}");
    assert!(stdout.contains("neighborhoods: 3 created"), "{stdout}");

    let second = beatline()
        .args(["--database-url", &url, "import-boundaries", city])
        .output()
        .expect("run");
    assert!(second.status.success());
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(
        stdout.contains("beats: 0 created, 0 updated, 8 unchanged"),
        "{stdout}"
    );
    assert!(stdout.contains("nothing changed"), "{stdout}");

    let bad = std::env::temp_dir().join(format!("bad-{}.geojson", uuid::Uuid::now_v7().simple()));
    std::fs::write(
        &bad,
        r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"kind":"precinct","code":"P9","name":"Nine"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}},
            {"type":"Feature","properties":{"kind":"beat","code":"9091","name":"Line","precinct":"P9"},"geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]}}]}"#,
    )
    .expect("write");
    let failed = beatline()
        .args([
            "--database-url",
            &url,
            "import-boundaries",
            bad.to_str().unwrap_or_default(),
        ])
        .output()
        .expect("run");
    let _ = std::fs::remove_file(&bad);
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("feature #2 (beat 9091)"), "{stderr}");
    assert!(stderr.contains("Polygon or MultiPolygon"), "{stderr}");
    // Nothing of the bad file was written: P9 does not exist after the failure.
    let third = beatline()
        .args(["--database-url", &url, "import-boundaries", city])
        .output()
        .expect("run");
    assert!(
        String::from_utf8_lossy(&third.stdout)
            .contains("precincts: 0 created, 0 updated, 2 unchanged")
    );
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
}
