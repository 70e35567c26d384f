//! Commands printed for people to run: every value quoted for a POSIX shell.

/// `text` in single quotes, safe in any POSIX shell whatever it contains.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
