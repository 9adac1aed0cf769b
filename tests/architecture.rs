//! The hexagon's walls, checked on the source: the core (`src/core`) names
//! no web framework, driver or adapter, and adapters never reach into the
//! shell. A new `use` that breaks a wall fails here, with the line.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// Every line under `dir` that names one of `forbidden` as a path.
fn offences(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let files = rust_files(&root);
    assert!(!files.is_empty(), "no Rust files under {dir}");
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for name in forbidden {
                let as_path = format!("{name}::");
                let hit = code.match_indices(&as_path).any(|(at, _)| {
                    // A whole path segment: not `foo_redis::` or `x.redis::`.
                    at == 0
                        || !code[..at]
                            .chars()
                            .last()
                            .is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if hit {
                    found.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn the_core_imports_no_framework_driver_adapter_or_shell() {
    let found = offences(
        "src/core",
        &[
            "poem",
            "poem_openapi",
            "sqlx",
            "redis",
            "deadpool_redis",
            "qdrant_client",
            "reqwest",
            "crate::adapters",
            "crate::http",
            "crate::composition",
            "crate::cli",
            "crate::config",
            "crate::telemetry",
            "virlife",
        ],
    );
    assert!(
        found.is_empty(),
        "the core must stay pure:\n{}",
        found.join("\n")
    );
}

#[test]
fn adapters_never_reach_into_the_shell() {
    let found = offences(
        "adapters",
        &[
            "poem",
            "poem_openapi",
            "crate::http",
            "crate::composition",
            "crate::cli",
        ],
    );
    assert!(
        found.is_empty(),
        "adapters implement ports only:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_itself_catches_an_offending_line() {
    let dir = std::env::temp_dir().join(format!("virlife-arch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("bad.rs"),
        "use sqlx::PgPool;\nlet x = my_sqlx::y; // sqlx::ok\n",
    )
    .unwrap();
    let relative = dir.to_string_lossy().into_owned();
    // `join` with an absolute path replaces the manifest dir.
    let found = offences(&relative, &["sqlx"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].ends_with("use sqlx::PgPool;"));
}
