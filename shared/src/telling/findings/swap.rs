//! The finding of a credential swap: a managed node group's instances running with another
//! role than its `nodeRole`. CRITICAL, one per node group and profile, open until undone.

use super::{Draft, FIELD_MAX, Scope, field, finish, product_fields};
use crate::telling::text::shorten;
use crate::types::{ActionResult, CredentialSwap, Finding, OpenFinding, PRODUCT_NAME, Report};
use crate::verdict::severity::Severity;

/// The deterministic `Id` of a swap's finding: account, node role, node group, profile.
pub fn swap_finding_id(account: &str, role_name: &str, swap: &CredentialSwap) -> String {
    format!(
        "{PRODUCT_NAME}/{account}/{role_name}/swap/{}/{}/{}/{}",
        swap.region, swap.cluster, swap.nodegroup, swap.profile_arn
    )
}

/// One finding per swap on the role's node groups.
pub(super) fn swap_findings(
    report: &Report,
    scope: &Scope,
    open: &[OpenFinding],
    (role_name, role_arn): (&str, &str),
    clusters: &str,
) -> Vec<Finding> {
    report
        .swaps
        .iter()
        .map(|swap| {
            let id = swap_finding_id(&scope.account, role_name, swap);
            let undone = matches!(swap.result, Some(ActionResult::Done | ActionResult::AlreadyDone));
            let running = swap.running_role_arn.as_deref().unwrap_or("no role");
            let description = format!(
                "{} instance(s) of managed node group {}/{} in {} ({}) run with {running} through instance profile \
                 {}, not with the node group's role {role_arn}. Every pod on these nodes gets that role's \
                 credentials.",
                swap.instances.count,
                swap.cluster,
                swap.nodegroup,
                swap.region,
                swap.instances.describe(),
                swap.profile_arn
            );
            let remediation = match undone {
                true => format!(
                    "Undone by {PRODUCT_NAME}. To put it back as found: {}",
                    swap.reverse_commands.join(" && ")
                ),
                false => format!("Undo the swap: {}", swap.undo_commands.join(" && ")),
            };
            let mut fields = product_fields(report, clusters);
            fields.insert(field("Nodegroup"), format!("{}/{}", swap.cluster, swap.nodegroup));
            fields.insert(field("InstanceProfile"), swap.profile_arn.clone());
            fields.insert(field("RunningRole"), running.to_owned());
            fields.insert(field("Instances"), shorten(&swap.instances.describe(), FIELD_MAX));
            let title = format!(
                "EKS node group {}/{} runs with {running} instead of {role_name}",
                swap.cluster, swap.nodegroup
            );
            finish(
                Draft {
                    id,
                    role_arn: role_arn.to_owned(),
                    title,
                    description,
                    severity: Severity::Critical,
                    open: !undone,
                    remediation,
                    fields,
                },
                scope,
                open,
            )
        })
        .collect()
}
