//! Doors on roles: a node access entry, a trust policy edited (on another role, naming a node
//! role; or on a node role, admitting more than the node services), a new default version of a
//! policy attached to roles, a permissions boundary changed.

use super::trust::{self, Reading};
use super::{Close, Decision, Judge, Scope};
use crate::ports::{Ec2Read, Eks, IamRead};
use crate::types::{AwsResult, Door, DoorKind, NodeBinding, Severity, Violation, arn};

/// The doors a trust edit opens: a finding of either is closed by an edit that leaves neither.
const TRUST_DOORS: &[DoorKind] = &[DoorKind::TrustNamesNodeRole, DoorKind::NodeRoleTrust];
use crate::verdict::check::role_state;
use crate::verdict::policy::shell_quote;
use crate::verdict::severity;

/// Why a trust edit needs no call: it names no role, and does not let anyone beside the node
/// services assume what may be a node role.
pub(super) fn needless_trust(role: &str, document: &str) -> Option<String> {
    let Some(reading) = trust::read(document) else {
        return Some(format!("UpdateAssumeRolePolicy on {role}: the document is not JSON"));
    };
    let shares_node_role = reading.node_services && !reading.others.is_empty();
    (reading.roles.is_empty() && !shares_node_role)
        .then(|| format!("the new trust of {role} names no role and admits no one beside the node services"))
}

/// `CreateAccessEntry` of a node type: confirmed with `DescribeAccessEntry`, then the role is
/// judged with the entry as one of its bindings.
pub(super) async fn access_entry<I: IamRead, E: Eks, C: Ec2Read>(
    scope: &Scope<'_, '_, I, E, C>,
    region: &str,
    cluster: &str,
    principal: &str,
) -> AwsResult<Decision> {
    let Some(entry) = scope.acct.eks.access_entry(region, cluster, principal).await? else {
        return Ok(Decision::Unrelated(format!(
            "the access entry of {principal} on cluster {cluster} no longer exists"
        )));
    };
    if !entry.is_node_entry() {
        return Ok(Decision::Unrelated(format!(
            "the access entry of {principal} on cluster {cluster} is of type {}",
            entry.kind
        )));
    }
    let role = arn::role_name_from_arn(principal).unwrap_or(principal).to_owned();
    let door = Door::new(DoorKind::NodeAccessEntry, scope.event, Severity::Medium, principal).finding(format!(
        "role {role} was registered as a node of cluster {cluster} ({}): judged as a node role",
        entry.kind
    ));
    Ok(Decision::Judge(Judge {
        roles: vec![role],
        confirmed: Some(NodeBinding::AccessEntry {
            region: region.to_owned(),
            cluster: cluster.to_owned(),
            entry_type: entry.kind,
        }),
        stale_index: false,
        swapped_through: None,
        door,
    }))
}

/// `UpdateAssumeRolePolicy`: a trust naming a node role hands that role's nodes the edited
/// role (CRITICAL when it can administer the account); a node role admitting others hands them
/// the nodes' credentials. Judged on the role's trust as `GetRole` returns it now.
pub(super) async fn trust<I: IamRead, E: Eks, C: Ec2Read>(
    scope: &Scope<'_, '_, I, E, C>,
    role: &str,
    sent: &str,
) -> AwsResult<Decision> {
    let acct = scope.acct;
    // the trust as it is now: a later edit (or this guard, on a duplicate delivery) may have
    // changed what the event sent
    let Some(edited) = acct.iam.role(role).await? else {
        return Ok(Decision::Unrelated(format!("role {role} no longer exists")));
    };
    let document = edited.trust_policy.as_str();
    if let Some(reason) = needless_trust(role, document) {
        let changed = if document == sent { "" } else { " (as it is now)" };
        return Ok(Decision::Closed {
            role_arn: edited.arn,
            kinds: TRUST_DOORS.to_vec(),
            reason: format!("{reason}{changed}"),
        });
    }
    let reading = trust::read(document).unwrap_or_default();
    let sources = acct.sources();
    let (scan, _) = acct.index.get(&sources, scope.regions, scope.concurrency).await?;
    let node_roles: Vec<&str> = scan.index.role_arns().collect();
    let mut named = Vec::new();
    for principal in &reading.roles {
        if principal.starts_with("arn:") {
            if let Some(found) = node_roles.iter().find(|r| arn::same_role_arn(r, principal)) {
                named.push((principal.clone(), (*found).to_owned()));
            }
            continue;
        }
        // a unique id: the node role whose id it is
        for node_role in &node_roles {
            let name = arn::role_name_from_arn(node_role).unwrap_or(node_role);
            if let Some(found) = acct.iam.role(name).await?
                && found.id.as_deref() == Some(principal.as_str())
            {
                named.push((principal.clone(), (*node_role).to_owned()));
            }
        }
    }
    if !named.is_empty() {
        return names_node_role(scope, (role, &edited.arn), document, &named).await;
    }
    if !reading.node_services || reading.others.is_empty() || scan.index.bindings(&edited.arn).is_empty() {
        return Ok(Decision::Closed {
            role_arn: edited.arn,
            kinds: TRUST_DOORS.to_vec(),
            reason: format!("the trust of {role} names no node role, and {role} is no node role"),
        });
    }
    Ok(node_role_trust(scope, (role, &edited.arn), document, &reading))
}

/// Another role's trust names node roles: the statement, and the command that drops them.
async fn names_node_role<I: IamRead, E: Eks, C: Ec2Read>(
    scope: &Scope<'_, '_, I, E, C>,
    (role, role_arn): (&str, &str),
    document: &str,
    named: &[(String, String)],
) -> AwsResult<Decision> {
    let admin = match role_state(scope.acct.iam, role, "").await? {
        Some(state) => administers(&state),
        None => return Ok(Decision::Unrelated(format!("role {role} no longer exists"))),
    };
    let severity = if admin { Severity::Critical } else { Severity::High };
    let node_roles: Vec<&str> = named.iter().map(|(_, node_role)| node_role.as_str()).collect();
    let principals: Vec<&str> = named.iter().map(|(principal, _)| principal.as_str()).collect();
    let narrowed = trust::without(document, |kind, value| kind == "AWS" && principals.contains(&value))
        .filter(|narrowed| !trust::is_empty(narrowed))
        // IAM refuses a trust policy without statements: deny the node roles instead
        .unwrap_or_else(|| trust::denying(&principals));
    let mut door = Door::new(DoorKind::TrustNamesNodeRole, scope.event, severity, role)
        .on_role(role_arn)
        .finding(format!(
            "the trust policy of {role}{} now names node role(s) {}: every pod on their nodes can assume {role}",
            if admin {
                ", which can administer the account,"
            } else {
                ""
            },
            node_roles.join(", ")
        ));
    door.details = named
        .iter()
        .map(|(principal, node_role)| format!("Principal AWS {principal} is node role {node_role}"))
        .collect();
    door.details.push(format!("trust policy now: {document}"));
    door.close_commands = vec![trust_command(role, &narrowed)];
    door.reopen_commands = vec![trust_command(role, document)];
    Ok(Decision::Open {
        role: Some(role.to_owned()),
        door,
        close: Some(Close::Trust {
            role: role.to_owned(),
            document: narrowed,
        }),
    })
}

/// A node role's trust admits more than the node services: who, and a node-only trust.
fn node_role_trust<I, E, C>(
    scope: &Scope<'_, '_, I, E, C>,
    (role, role_arn): (&str, &str),
    document: &str,
    reading: &Reading,
) -> Decision {
    let node_only = trust::without(document, |kind, value| !trust::is_node_service(kind, value))
        .unwrap_or_else(|| document.to_owned());
    let mut door = Door::new(DoorKind::NodeRoleTrust, scope.event, Severity::High, role)
        .on_role(role_arn)
        .finding(format!(
            "node role {role} can now be assumed by {}: they can use the nodes' credentials",
            reading.others.join(", ")
        ));
    door.details = vec![
        format!("principals beyond the node services: {}", reading.others.join(", ")),
        "previous principals: CloudTrail records only the new document; a node role's trust admits only the node services"
            .to_owned(),
        format!("trust policy now: {document}"),
    ];
    door.close_commands = vec![trust_command(role, &node_only)];
    Decision::Open {
        role: Some(role.to_owned()),
        door,
        close: None,
    }
}

/// Whether a role's policies can administer the account: a CRITICAL policy (administrator
/// access, `"*"` actions) or full IAM access.
fn administers(state: &crate::types::RoleState) -> bool {
    let managed = state.attached.iter().map(|p| Violation::ManagedPolicy {
        policy_name: p.name.clone(),
        policy_arn: p.arn.clone(),
        reason: String::new(),
        used_by: None,
    });
    let inline = state.inline.iter().map(|p| Violation::InlinePolicy {
        policy_name: p.name.clone(),
        document: p.document.clone(),
        used_by: None,
    });
    managed.chain(inline).any(|v| {
        severity::severity(&v) == Severity::Critical
            || matches!(&v, Violation::ManagedPolicy { policy_name, .. } if policy_name == "IAMFullAccess")
    })
}

/// `aws iam update-assume-role-policy` putting `document` on `role`.
fn trust_command(role: &str, document: &str) -> String {
    let compact = serde_json::from_str::<serde_json::Value>(document)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| document.to_owned());
    format!(
        "aws iam update-assume-role-policy --role-name {} --policy-document {}",
        shell_quote(role),
        shell_quote(&compact)
    )
}

/// `CreatePolicyVersion` (as default) / `SetDefaultPolicyVersion`: the roles the policy is
/// attached to (`ListEntitiesForPolicy`), judged now.
pub(super) async fn policy_version<I: IamRead, E: Eks, C: Ec2Read>(
    scope: &Scope<'_, '_, I, E, C>,
    policy_arn: &str,
    version: Option<&str>,
) -> AwsResult<Decision> {
    let roles = scope.acct.iam.policy_roles(policy_arn).await?;
    if roles.is_empty() {
        return Ok(Decision::Unrelated(format!(
            "policy {policy_arn} is attached to no role"
        )));
    }
    let which = version.map_or_else(
        || "a new default version".to_owned(),
        |v| format!("default version {v}"),
    );
    let door = Door::new(DoorKind::PolicyVersion, scope.event, Severity::Medium, policy_arn).finding(format!(
        "policy {policy_arn} has {which}: the {} role(s) it is attached to are judged again",
        roles.len()
    ));
    Ok(Decision::Judge(Judge {
        roles,
        confirmed: None,
        stale_index: false,
        swapped_through: None,
        door,
    }))
}

/// `PutRolePermissionsBoundary` / `DeleteRolePermissionsBoundary`: the role judged again, the
/// change notified when it is a node role.
pub(super) fn boundary<I, E, C>(scope: &Scope<'_, '_, I, E, C>, role: &str, boundary: Option<&str>) -> Decision {
    let finding = match boundary {
        Some(b) => format!("the permissions boundary of {role} is now {b}"),
        None => format!("the permissions boundary of {role} was removed: nothing limits its policies any more"),
    };
    let mut door = Door::new(DoorKind::PermissionsBoundary, scope.event, Severity::Medium, role).finding(finding);
    door.details = vec!["the previous boundary is not in the event: see the role's CloudTrail history".to_owned()];
    Decision::Judge(Judge {
        roles: vec![role.to_owned()],
        confirmed: None,
        stale_index: false,
        swapped_through: None,
        door,
    })
}
