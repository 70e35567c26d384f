//! Is the guard blind? EventBridge receives "AWS API Call via CloudTrail" events only while a
//! trail records them: without a logging trail that records IAM's management write events
//! (delivered in us-east-1), no rule matches and nothing errors. The sweep asks, and says so
//! first when it is. Deciding is pure; the adapter only reads the trails.

use crate::types::{IAM_EVENTS_REGION, Selector, TrailState};

const IAM_SOURCE: &str = "iam.amazonaws.com";

impl Selector {
    /// Whether this selector records IAM's management write events.
    fn records_iam_writes(&self) -> bool {
        match self {
            Selector::Basic {
                read_write,
                include_management,
                excluded_sources,
            } => *include_management && read_write != "ReadOnly" && !excluded_sources.iter().any(|s| s == IAM_SOURCE),
            Selector::Advanced(fields) => {
                let field = |name: &str| fields.iter().find(|f| f.field == name);
                let management = field("eventCategory").is_some_and(|f| f.equals.iter().any(|v| v == "Management"));
                let writes = field("readOnly").is_none_or(|f| !f.equals.iter().any(|v| v == "true"));
                let iam = field("eventSource").is_none_or(|f| {
                    (f.equals.is_empty() || f.equals.iter().any(|v| v == IAM_SOURCE))
                        && !f.not_equals.iter().any(|v| v == IAM_SOURCE)
                });
                management && writes && iam
            }
        }
    }
}

impl TrailState {
    fn records_iam_writes(&self) -> bool {
        self.selectors.is_empty() || self.selectors.iter().any(Selector::records_iam_writes)
    }

    fn covers_iam_region(&self) -> bool {
        self.multi_region || self.home_region == IAM_EVENTS_REGION
    }

    /// Why this trail does not feed the guard, if it does not.
    fn gap(&self) -> Option<String> {
        if !self.logging {
            Some(format!("trail {} is not logging", self.name))
        } else if !self.covers_iam_region() {
            Some(format!(
                "trail {} records only {} (IAM events are delivered in {IAM_EVENTS_REGION})",
                self.name, self.home_region
            ))
        } else if !self.records_iam_writes() {
            Some(format!(
                "trail {} does not record IAM management write events",
                self.name
            ))
        } else {
            None
        }
    }
}

/// Why the guard is blind, or `None` when some trail feeds it.
pub fn blind_reason(trails: &[TrailState]) -> Option<String> {
    if trails.is_empty() {
        return Some(
            "the account has no CloudTrail trail, so EventBridge receives no IAM or EKS API events: only the \
             scheduled sweep still catches changes"
                .to_owned(),
        );
    }
    let gaps: Vec<String> = trails.iter().map(TrailState::gap).collect::<Option<Vec<_>>>()?;
    Some(format!(
        "no trail records IAM management write events for {IAM_EVENTS_REGION}, so EventBridge receives none: {}; only \
         the scheduled sweep still catches changes",
        gaps.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::FieldSelector;

    fn trail(name: &str, home: &str, multi: bool, logging: bool, selectors: Vec<Selector>) -> TrailState {
        TrailState {
            name: name.into(),
            home_region: home.into(),
            multi_region: multi,
            logging,
            selectors,
        }
    }

    fn basic(read_write: &str, management: bool, excluded: &[&str]) -> Selector {
        Selector::Basic {
            read_write: read_write.into(),
            include_management: management,
            excluded_sources: excluded.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn field(name: &str, equals: &[&str], not_equals: &[&str]) -> FieldSelector {
        FieldSelector {
            field: name.into(),
            equals: equals.iter().map(|s| (*s).to_owned()).collect(),
            not_equals: not_equals.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn blind_unless_a_logging_trail_records_iam_writes_for_us_east_1() {
        let cases: Vec<(&str, Vec<TrailState>, bool)> = vec![
            ("no trail", vec![], true),
            (
                "multi-region, default selectors",
                vec![trail("org", "eu-west-1", true, true, vec![])],
                false,
            ),
            (
                "single-region in us-east-1",
                vec![trail("t", "us-east-1", false, true, vec![])],
                false,
            ),
            (
                "single-region elsewhere",
                vec![trail("t", "eu-west-1", false, true, vec![])],
                true,
            ),
            ("stopped", vec![trail("t", "us-east-1", true, false, vec![])], true),
            (
                "read-only",
                vec![trail("t", "us-east-1", true, true, vec![basic("ReadOnly", true, &[])])],
                true,
            ),
            (
                "no management events",
                vec![trail("t", "us-east-1", true, true, vec![basic("All", false, &[])])],
                true,
            ),
            (
                "IAM excluded",
                vec![trail(
                    "t",
                    "us-east-1",
                    true,
                    true,
                    vec![basic("WriteOnly", true, &[IAM_SOURCE])],
                )],
                true,
            ),
            (
                "write-only",
                vec![trail("t", "us-east-1", true, true, vec![basic("WriteOnly", true, &[])])],
                false,
            ),
            (
                "advanced: management writes",
                vec![trail(
                    "t",
                    "us-east-1",
                    true,
                    true,
                    vec![Selector::Advanced(vec![
                        field("eventCategory", &["Management"], &[]),
                        field("readOnly", &["false"], &[]),
                    ])],
                )],
                false,
            ),
            (
                "advanced: data events only",
                vec![trail(
                    "t",
                    "us-east-1",
                    true,
                    true,
                    vec![Selector::Advanced(vec![field("eventCategory", &["Data"], &[])])],
                )],
                true,
            ),
            (
                "advanced: IAM left out",
                vec![trail(
                    "t",
                    "us-east-1",
                    true,
                    true,
                    vec![Selector::Advanced(vec![
                        field("eventCategory", &["Management"], &[]),
                        field("eventSource", &[], &[IAM_SOURCE]),
                    ])],
                )],
                true,
            ),
            (
                "one good trail among bad ones",
                vec![
                    trail("old", "eu-west-1", false, true, vec![]),
                    trail("org", "us-east-1", true, true, vec![]),
                ],
                false,
            ),
        ];
        for (name, trails, blind) in cases {
            let reason = blind_reason(&trails);
            assert_eq!(reason.is_some(), blind, "{name}: {reason:?}");
        }
        let reason = blind_reason(&[trail("audit", "us-east-1", true, false, vec![])]).expect("blind");
        assert!(reason.contains("trail audit is not logging"), "{reason}");
    }
}
