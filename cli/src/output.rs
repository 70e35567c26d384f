//! Where a report goes: standard output, or a file replaced whole or not at all.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Writes `text` to `path`, or to standard output without one.
pub fn write(path: Option<&Path>, text: &str) -> Result<()> {
    match path {
        Some(path) => write_whole(path, text).with_context(|| format!("writing {}", path.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            Ok(out.flush()?)
        }
    }
}

/// Writes `text` beside `path` and renames it over `path`: an earlier report is replaced whole
/// or not at all.
fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    let partial = partial_path(path);
    let written = std::fs::File::create(&partial).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&partial, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// `path.<pid>.partial`: beside the target, so the rename stays on one file system.
fn partial_path(path: &Path) -> PathBuf {
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".{}.partial", std::process::id()));
    PathBuf::from(partial)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("eks-node-role-guard-output-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir
    }

    #[test]
    fn an_earlier_report_is_replaced_and_nothing_is_left_beside_it() {
        let dir = scratch("replace");
        let path = dir.join("audit.html");
        std::fs::write(&path, "an older, longer report").expect("earlier report");

        write(Some(&path), "new").expect("written");

        assert_eq!(std::fs::read_to_string(&path).expect("read back"), "new");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("audit.html")]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failed_write_names_the_file_and_leaves_no_partial() {
        let dir = scratch("fail");
        // the target is a directory: the rename fails after the partial file was written
        let path = dir.join("taken");
        std::fs::create_dir_all(path.join("inside")).expect("a directory in the way");

        let error = write(Some(&path), "report").expect_err("cannot replace a directory");

        assert!(format!("{error:#}").contains("writing "), "{error:#}");
        assert!(format!("{error:#}").contains("taken"), "{error:#}");
        assert!(!partial_path(&path).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
