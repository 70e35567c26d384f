//! The finding of a door an event opened (docs/doors.md): one per account, role, door and
//! subject, open until the guard closes the door or a later event on the same role finds it
//! shut. Judged doors (a profile's role, an access entry, a policy version) need none of their
//! own: the role's violation and swap findings say what they opened. The sweep does not re-read
//! doors, so it neither closes nor refreshes these.

use super::{Draft, Scope, closed, field, finish, product_fields};
use crate::types::{ActionResult, Door, DoorKind, Finding, OpenFinding, PRODUCT_NAME, Report, arn};

/// The fourth segment of a door finding's `Id` (the others name a policy kind or `swap` there).
const DOOR: &str = "door";

/// The deterministic `Id` of a door's finding: account, role, door, subject.
pub fn door_finding_id(account: &str, role_name: &str, kind: DoorKind, subject: &str) -> String {
    format!(
        "{PRODUCT_NAME}/{account}/{role_name}/{DOOR}/{}/{subject}",
        kind.as_str()
    )
}

/// The door of a finding `Id`, when it is a door's (a policy under a `/door/` path is not).
fn door_of(id: &str) -> Option<&str> {
    let mut segments = id.splitn(6, '/');
    let (_, _, _, marker, kind) = (
        segments.next()?,
        segments.next()?,
        segments.next()?,
        segments.next()?,
        segments.next()?,
    );
    (marker == DOOR).then_some(kind)
}

/// Whether `id` is a door's finding.
pub fn is_door_finding(id: &str) -> bool {
    door_of(id).is_some()
}

/// The finding of the report's door, when it is one of its own (`door_opened`).
pub(super) fn door_finding(report: &Report, scope: &Scope, open: &[OpenFinding]) -> Option<Finding> {
    let door = report.door.as_ref()?;
    if report.outcome != crate::types::Outcome::DoorOpened {
        return None;
    }
    let role_arn = door.role_arn.clone().or_else(|| report.role.as_ref()?.arn.clone())?;
    let role_name = arn::role_name_from_arn(&role_arn).unwrap_or(&role_arn).to_owned();
    let id = door_finding_id(&scope.account, &role_name, door.kind, &door.subject);
    let shut = matches!(door.result, Some(ActionResult::Done | ActionResult::AlreadyDone));
    let remediation = match (shut, door.close_commands.is_empty()) {
        (true, _) => format!(
            "Closed by {PRODUCT_NAME}. To put it back as found: {}",
            door.reopen_commands.join(" && ")
        ),
        (false, false) => format!("Close it: {}", door.close_commands.join(" && ")),
        (false, true) => "Review the change in CloudTrail and revert it.".to_owned(),
    };
    let mut fields = product_fields(report, "");
    fields.insert(field("Door"), door.kind.as_str().to_owned());
    fields.insert(field("Subject"), door.subject.clone());
    let title = format!("EKS node credentials: {} ({})", door.kind.title(), door.subject);
    Some(finish(
        Draft {
            id,
            role_arn,
            title,
            description: description(door),
            severity: door.severity,
            open: !shut,
            remediation,
            fields,
        },
        scope,
        open,
    ))
}

fn description(door: &Door) -> String {
    let mut text = format!("{} ({}).", door.finding, door.event);
    for detail in &door.details {
        text.push(' ');
        text.push_str(detail);
        text.push('.');
    }
    text
}

/// The open findings of `kinds` on a role, closed: a later event found those doors shut.
pub(super) fn shut(open: &[OpenFinding], kinds: &[DoorKind], scope: &Scope, why: &str) -> Vec<Finding> {
    open.iter()
        .filter(|f| door_of(&f.id).is_some_and(|door| kinds.iter().any(|k| k.as_str() == door)))
        .map(|f| closed(f, scope, why))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_door_finding_is_told_from_a_policy_under_a_door_path() {
        let id = door_finding_id("1", "deploy-admin", DoorKind::TrustNamesNodeRole, "deploy-admin");
        assert_eq!(
            id,
            "eks-node-role-guard/1/deploy-admin/door/trust_names_node_role/deploy-admin"
        );
        assert_eq!(door_of(&id), Some("trust_names_node_role"));
        let policy = "eks-node-role-guard/1/node/managed/arn:aws:iam::1:policy/door/extra";
        assert!(!is_door_finding(policy));
        let swap = "eks-node-role-guard/1/node/swap/us-east-1/c/ng/arn:aws:iam::1:instance-profile/door/p";
        assert!(!is_door_finding(swap));
    }
}
