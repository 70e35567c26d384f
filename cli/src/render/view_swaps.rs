//! Swapped credentials and shared roles in the one view: a swap is an item enforce acts on,
//! CRITICAL, whose command undoes it and whose undo puts it back as found.

use noderole::types::{CredentialSwap, SharedRole, SwapFix};
use noderole::verdict::severity::Severity;

use super::{Item, Verdict};

pub(super) fn item(swap: &CredentialSwap) -> Item {
    let running = swap
        .running_role_arn
        .as_deref()
        .map(|arn| arn.rsplit('/').next().unwrap_or(arn))
        .unwrap_or("no role");
    let fix = match &swap.fix {
        SwapFix::ProfileRole { profile_name, .. } => format!("enforce puts the node role back into {profile_name}"),
        SwapFix::Association { .. } => "enforce associates them with the node role's profile again".to_owned(),
        SwapFix::Manual { reason } => format!("left to a person: {reason}"),
    };
    Item {
        policy: format!(
            "credential swap: {}/{} runs with {running}",
            swap.cluster, swap.nodegroup
        ),
        verdict: Verdict::Remove,
        severity: Some(Severity::Critical),
        why: format!(
            "{} instance(s) ({}) run through profile {} with another role than the node group's; {fix}",
            swap.instances.count,
            swap.instances.describe(),
            swap.profile_arn.rsplit('/').next().unwrap_or(&swap.profile_arn)
        ),
        command: Some(swap.undo_commands.join(" && ")).filter(|c| !c.is_empty()),
        undo: Some(swap.reverse_commands.join(" && ")).filter(|c| !c.is_empty()),
        swap: true,
        sort_name: format!("{}/{}", swap.cluster, swap.nodegroup),
    }
}

/// `shared with 2 instance(s) that are not nodes: i-1, i-2`.
pub(super) fn shared(shared: &SharedRole) -> String {
    format!(
        "shared with {} instance(s) that are not nodes: {}",
        shared.instances.count,
        shared.instances.describe()
    )
}
