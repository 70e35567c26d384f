//! Text shortened to the limits of what it goes into: SNS subjects (one line, under 100
//! characters) and the length-limited fields of a Security Hub finding.

/// SNS subjects must be under 100 characters.
const SUBJECT_MAX: usize = 99;

/// `text` at most `max` characters long; when cut, its last character is `…`.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// `raw` as an SNS subject: control characters (line breaks among them) become spaces, and the
/// line is shortened to the subject limit.
pub fn subject_line(raw: &str) -> String {
    let clean: String = raw.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    shorten(&clean, SUBJECT_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_and_long_text_ends_in_an_ellipsis() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcd", 3), "ab…");
        // characters, not bytes
        assert_eq!(shorten("ééééé", 4), "ééé…");
    }

    #[test]
    fn a_subject_is_one_line_under_100_characters() {
        assert_eq!(subject_line("role\nname\tx"), "role name x");
        let long = format!("eks-node-role-guard: {}", "r".repeat(200));
        let subject = subject_line(&long);
        assert_eq!(subject.chars().count(), 99);
        assert!(subject.ends_with('…'));
        assert_eq!(subject_line(&"s".repeat(99)), "s".repeat(99));
    }
}
