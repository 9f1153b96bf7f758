//! keepalived's `reload_file`: a file that exists while a reload reads the configuration
//! (`create_reload_file` / `remove_reload_file` in keepalived/core/main.c), so that tools
//! which edit the configuration can tell that it is being read.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The file, made by [`Marker::make`] and removed when the marker is dropped.
#[derive(Debug)]
pub(crate) struct Marker {
    path: Option<PathBuf>,
}

impl Marker {
    /// Makes `path` (mode 0644, as keepalived, whatever the umask). One that cannot be
    /// made is logged, as keepalived does, and the reload goes on.
    pub(crate) fn make(path: &Path) -> Marker {
        let made = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(path)
            .and_then(|file| {
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(std::fs::Permissions::from_mode(0o644))
            });
        match made {
            Ok(()) => Marker {
                path: Some(path.to_owned()),
            },
            Err(error) => {
                tracing::warn!(path = %path.display(), "reload_file not made: {error}");
                Marker { path: None }
            }
        }
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_file_exists_while_the_marker_lives() {
        let path = std::env::temp_dir().join(format!("baton-reload-{}", std::process::id()));
        let marker = Marker::make(&path);
        let mode = std::fs::metadata(&path).expect("made").permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        drop(marker);
        assert!(!path.exists());
        // A directory that does not exist: logged, nothing to remove later.
        let marker = Marker::make(Path::new("/baton-no-such-dir/reload"));
        assert!(marker.path.is_none());
    }
}
