//! Putting swapped credentials back: a managed node group's instances that run with another
//! role than its `nodeRole` get it again, per mode. The swapped-in role itself is never
//! touched (it may serve others): the swap is what is undone, either inside the node group's
//! profile or by associating the instances with the one profile that holds the node role.
//! Every swap carries the commands that undo it and the ones that put it back as it was found.

use crate::ports::{Ec2, Iam};
use crate::types::{ActionResult, AwsError, Change, CredentialSwap, Mode, Outcome, Report, SwapFix, arn, shell_quote};

/// Fills in each swap's commands, and in `enforce` undoes those whose fix is unambiguous.
pub async fn undo<I: Iam, C: Ec2>(iam: &I, ec2: &C, mode: Mode, swaps: &mut [CredentialSwap]) {
    for swap in swaps.iter_mut() {
        plan(swap);
        swap.result = Some(match (&swap.fix, mode) {
            (SwapFix::Manual { reason }, _) => ActionResult::Skipped { reason: reason.clone() },
            (_, Mode::DryRun) => ActionResult::Planned,
            (SwapFix::ProfileRole { .. } | SwapFix::Association { .. }, Mode::Enforce) => apply(iam, ec2, swap).await,
        });
    }
}

/// The outcome of a report with swaps: `credential_swap` while one is not undone (dry-run, a
/// manual fix, a failure); a role otherwise compliant whose swaps were all undone is
/// `remediated`.
pub fn settle(report: &mut Report) {
    if report.swaps.is_empty() {
        return;
    }
    let undone = report
        .swaps
        .iter()
        .all(|s| matches!(s.result, Some(ActionResult::Done | ActionResult::AlreadyDone)));
    if !undone {
        report.outcome = Outcome::CredentialSwap;
    } else if report.outcome == Outcome::Compliant {
        report.outcome = Outcome::Remediated;
    }
}

/// Fills in the commands of `swap` and marks it planned: what the audit shows.
pub fn plan(swap: &mut CredentialSwap) {
    let (undo, reverse) = commands(swap);
    swap.undo_commands = undo;
    swap.reverse_commands = reverse;
    if swap.result.is_none() {
        swap.result = Some(match &swap.fix {
            SwapFix::Manual { reason } => ActionResult::Skipped { reason: reason.clone() },
            _ => ActionResult::Planned,
        });
    }
}

async fn apply<I: Iam, C: Ec2>(iam: &I, ec2: &C, swap: &CredentialSwap) -> ActionResult {
    let done = match &swap.fix {
        SwapFix::ProfileRole {
            profile_name,
            remove_role,
            add_role,
        } => {
            async {
                // a profile holds one role: the swapped-in one goes out before the node role goes in
                if let Some(role) = remove_role {
                    iam.remove_role_from_profile(profile_name, role).await?;
                }
                iam.add_role_to_profile(profile_name, add_role).await
            }
            .await
        }
        SwapFix::Association {
            profile_arn,
            associations,
        } => {
            async {
                let mut change = Change::AlreadyDone;
                for (_, association) in associations {
                    if ec2.replace_profile(&swap.region, association, profile_arn).await? == Change::Done {
                        change = Change::Done;
                    }
                }
                Ok::<_, AwsError>(change)
            }
            .await
        }
        SwapFix::Manual { reason } => return ActionResult::Skipped { reason: reason.clone() },
    };
    match done {
        Ok(Change::Done) => {
            tracing::info!(nodegroup = %swap.nodegroup, cluster = %swap.cluster, "credential swap undone");
            ActionResult::Done
        }
        Ok(Change::AlreadyDone) => ActionResult::AlreadyDone,
        Err(e) => {
            tracing::error!(error = %e, nodegroup = %swap.nodegroup, "credential swap not undone");
            ActionResult::failed(&e)
        }
    }
}

/// The commands that undo `swap`, and those that put it back as found. A manual fix gets the
/// commands of the profile fix when no profile holds the node role, else of the association
/// fix towards the first profile that does: a person reads the reason before running them.
fn commands(swap: &CredentialSwap) -> (Vec<String>, Vec<String>) {
    let declared = role_name(&swap.declared_role_arn);
    let running = swap.running_role_arn.as_deref().map(role_name);
    let by_profile = |profile: &str| {
        let (mut undo, mut reverse) = (Vec::new(), Vec::new());
        if let Some(running) = running {
            undo.push(profile_command("remove-role-from", profile, running));
        }
        undo.push(profile_command("add-role-to", profile, declared));
        reverse.push(profile_command("remove-role-from", profile, declared));
        if let Some(running) = running {
            reverse.push(profile_command("add-role-to", profile, running));
        }
        (undo, reverse)
    };
    let by_association = |target: &str| {
        let ids = instance_ids(swap);
        let undo = ids
            .iter()
            .map(|id| association_command(&swap.region, id, target))
            .collect();
        let reverse = ids
            .iter()
            .map(|id| association_command(&swap.region, id, &swap.profile_arn))
            .collect();
        (undo, reverse)
    };
    match &swap.fix {
        SwapFix::ProfileRole { profile_name, .. } => by_profile(profile_name),
        SwapFix::Association { profile_arn, .. } => by_association(profile_arn),
        SwapFix::Manual { .. } => match manual_target(swap) {
            Some(target) => by_association(target),
            None => by_profile(arn::profile_name_from_arn(&swap.profile_arn)),
        },
    }
}

/// The first profile a manual fix's reason names as holding the node role, if any.
fn manual_target(swap: &CredentialSwap) -> Option<&str> {
    let SwapFix::Manual { reason } = &swap.fix else {
        return None;
    };
    let (_, rest) = reason.split_once("hold the node role (")?;
    rest.split([',', ')']).next().map(str::trim)
}

/// Every instance of the swap that a command can name: the associations when known, else the
/// ids the swap names.
fn instance_ids(swap: &CredentialSwap) -> Vec<String> {
    match &swap.fix {
        SwapFix::Association { associations, .. } => associations.iter().map(|(id, _)| id.clone()).collect(),
        _ => swap.instances.ids.clone(),
    }
}

fn role_name(role_arn: &str) -> &str {
    arn::role_name_from_arn(role_arn).unwrap_or(role_arn)
}

fn profile_command(verb: &str, profile: &str, role: &str) -> String {
    format!(
        "aws iam {verb}-instance-profile --instance-profile-name {} --role-name {}",
        shell_quote(profile),
        shell_quote(role)
    )
}

/// Replaces whatever association `instance` has now (its id changes with every replacement,
/// so the command asks for it) with `profile_arn`.
fn association_command(region: &str, instance: &str, profile_arn: &str) -> String {
    let current = format!(
        "aws ec2 describe-iam-instance-profile-associations --region {region} --filters Name=instance-id,Values={instance} \
         Name=state,Values=associated --query 'IamInstanceProfileAssociations[0].AssociationId' --output text"
    );
    format!(
        "aws ec2 replace-iam-instance-profile-association --region {region} --association-id \"$({current})\" \
         --iam-instance-profile {}",
        shell_quote(&format!("Arn={profile_arn}"))
    )
}

#[cfg(test)]
#[path = "swap_tests.rs"]
mod tests;
