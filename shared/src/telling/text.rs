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

/// The subject `before` NAME `after` under the limit: when it is too long, `name` is shortened,
/// so what stands around it (the account, the count) stays whole.
pub fn subject_around(before: &str, name: &str, after: &str) -> String {
    let room = SUBJECT_MAX
        .saturating_sub(before.chars().count() + after.chars().count())
        .max(1);
    subject_line(&format!("{before}{}{after}", shorten(name, room)))
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

    #[test]
    fn a_long_name_is_shortened_and_what_stands_around_it_is_kept() {
        let before = "eks-node-role-guard: partially remediated: 444455556666/";
        let after = " (10 violation(s))";
        let name = "n".repeat(64);
        let subject = subject_around(before, &name, after);
        assert_eq!(subject.chars().count(), 99);
        assert!(
            subject.starts_with(before) && subject.ends_with(&format!("…{after}")),
            "{subject}"
        );
        // short enough: nothing is cut
        assert_eq!(subject_around("a: ", "role", " (1)"), "a: role (1)");
    }
}
