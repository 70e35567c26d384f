//! The readable text of a notification (its `default` and `email` keys): what happened, where
//! and by whom, each violation worst first with its severity, what an exception keeps and until
//! when, what was done and how to undo it; for a sweep, its totals and every role it checked.

use std::cmp::Reverse;
use std::fmt::Write as _;

use crate::types::{
    ActionKind, ActionResult, CredentialSwap, Door, EventSummary, Migration, NodeBinding, Report, SwapFix, Usage,
    Violation,
};
use crate::verdict::severity::{Severity, severity, worst};

/// The readable message for people.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    if let Some(blind) = &report.blind {
        let _ = writeln!(out, "THE GUARD IS BLIND: {blind}.\n");
    }
    let _ = writeln!(
        out,
        "eks-node-role-guard {} in account {} (mode {}).",
        report.outcome.as_str().replace('_', " "),
        report.account.as_deref().unwrap_or("unknown"),
        report.mode
    );
    if let Some(reason) = &report.reason {
        let _ = writeln!(out, "{reason}");
    }
    out.push('\n');
    write_accounts(&mut out, report);
    if let Some(role) = &report.role {
        let _ = writeln!(out, "Role:    {}", role.arn.as_deref().unwrap_or(&role.name));
    }
    let _ = writeln!(
        out,
        "Event:   {} (id {}) by {}",
        report.event.name,
        report.event.id.as_deref().unwrap_or("-"),
        by(&report.event)
    );
    write_bindings(&mut out, &report.nodegroups);
    if let Some(door) = &report.door {
        write_door(&mut out, door);
    }
    if let Some(shared) = &report.shared {
        let _ = writeln!(
            out,
            "Shared:  {} instance(s) that are not nodes run with this role: {} (through {})",
            shared.instances.count,
            shared.instances.describe(),
            shared.profiles.join(", ")
        );
    }
    write_swaps(&mut out, &report.swaps);
    write_violations(&mut out, report);
    write_actions(&mut out, report);
    if !report.kept.is_empty() {
        out.push_str("\nKept:\n");
        for k in &report.kept {
            let _ = writeln!(out, "  - {}: {}", k.policy_name, k.reason);
            write_usage(&mut out, k.used_by.as_ref());
        }
    }
    write_migrations(&mut out, report);
    if !report.deleted_inline_policies.is_empty() {
        out.push_str("\nDeleted inline policies (backup; the command restores each exactly):\n");
        for b in &report.deleted_inline_policies {
            let _ = writeln!(
                out,
                "  {}:\n    {}\n    restore: {}",
                b.policy_name, b.document, b.restore_command
            );
        }
    }
    write_roles(&mut out, report);
    if let Some(hub) = &report.security_hub {
        if let Some(warning) = &hub.warning {
            let _ = writeln!(out, "Warning: {warning}");
        } else {
            let _ = writeln!(
                out,
                "\nSecurity Hub: {} finding(s) open, {} archived.",
                hub.open, hub.archived
            );
        }
        for failed in &hub.failed {
            let _ = writeln!(out, "Warning: Security Hub refused finding {failed}");
        }
    }
    for w in &report.warnings {
        let _ = writeln!(out, "Warning: {w}");
    }
    out
}

/// Who made the event: its caller, the schedule for a sweep (which has no caller), or `unknown`
/// for an event that names none.
fn by(event: &EventSummary) -> &str {
    match event.actor.as_deref() {
        Some(actor) => actor,
        None if event.is_sweep() => "the scheduled sweep",
        None => "unknown",
    }
}

/// `managed policy ARN` or `inline policy NAME`.
fn policy(violation: &Violation) -> String {
    match violation {
        Violation::ManagedPolicy { policy_arn, .. } => format!("managed policy {policy_arn}"),
        Violation::InlinePolicy { policy_name, .. } => format!("inline policy {policy_name}"),
    }
}

/// Worst first, then by policy name.
fn by_severity<T>(items: &[T], violation: impl Fn(&T) -> &Violation) -> Vec<&T> {
    let mut sorted: Vec<&T> = items.iter().collect();
    sorted.sort_by_key(|item| {
        let v = violation(item);
        (Reverse(severity(v)), v.policy_name().to_owned())
    });
    sorted
}

fn write_usage(out: &mut String, usage: Option<&Usage>) {
    if let Some(usage) = usage {
        let _ = writeln!(out, "      probably for {}: {}", usage.component, usage.evidence);
    }
}

fn write_accounts(out: &mut String, report: &Report) {
    if report.accounts.is_empty() {
        return;
    }
    out.push_str("Accounts:\n");
    for line in &report.accounts {
        let _ = match &line.reason {
            None => writeln!(
                out,
                "  - {}: {} node role(s), {} needed action",
                line.account, line.roles, line.needed_action
            ),
            Some(reason) => writeln!(out, "  - {}: NOT SWEPT: {reason}", line.account),
        };
    }
    out.push('\n');
}

fn write_bindings(out: &mut String, bindings: &[NodeBinding]) {
    for binding in bindings {
        let _ = match binding {
            NodeBinding::ManagedNodegroup {
                region,
                cluster,
                nodegroup,
            } => writeln!(out, "Backs:   managed node group {cluster}/{nodegroup} in {region}"),
            NodeBinding::AccessEntry {
                region,
                cluster,
                entry_type,
            } => writeln!(
                out,
                "Backs:   {entry_type} access entry of cluster {cluster} in {region}"
            ),
            NodeBinding::RunningInstances {
                region,
                cluster,
                node_kind,
                profile_arn,
                instances,
            } => writeln!(
                out,
                "Backs:   {} {} node(s) of cluster {cluster} in {region} ({}), through {profile_arn}",
                instances.count,
                node_kind.as_str(),
                instances.describe()
            ),
        };
    }
}

/// The door an event opened: what, the evidence, what was done, the commands.
fn write_door(out: &mut String, door: &Door) {
    let _ = writeln!(
        out,
        "\n[{}] DOOR: {} ({} on {})\n  {}",
        door.severity.label(),
        door.kind.title(),
        door.event,
        door.subject,
        door.finding
    );
    for detail in &door.details {
        let _ = writeln!(out, "  - {detail}");
    }
    let result = match &door.result {
        None => None,
        Some(ActionResult::Planned) => Some("not done (dry-run)".to_owned()),
        Some(ActionResult::Done) => Some("closed".to_owned()),
        Some(ActionResult::AlreadyDone) => Some("already closed".to_owned()),
        Some(ActionResult::Failed { error, .. }) => Some(format!("FAILED: {error}")),
        Some(ActionResult::Skipped { reason }) => Some(format!("not done: {reason}")),
    };
    if let Some(result) = result {
        let _ = writeln!(out, "  Closing it: {result}");
    }
    if !door.close_commands.is_empty() {
        out.push_str("  Close it:\n");
        for command in &door.close_commands {
            let _ = writeln!(out, "    {command}");
        }
    }
    if !door.reopen_commands.is_empty() {
        out.push_str("  Put it back as found:\n");
        for command in &door.reopen_commands {
            let _ = writeln!(out, "    {command}");
        }
    }
}

/// Each credential swap: where, who runs with what instead of what, what was done, the commands.
fn write_swaps(out: &mut String, swaps: &[CredentialSwap]) {
    for swap in swaps {
        let running = swap.running_role_arn.as_deref().unwrap_or("no role at all");
        let _ = writeln!(
            out,
            "
[CRITICAL] CREDENTIAL SWAP: {} instance(s) of managed node group {}/{} in {} ({}) run with {running}              through {}, not with the node group's role {}.",
            swap.instances.count,
            swap.cluster,
            swap.nodegroup,
            swap.region,
            swap.instances.describe(),
            swap.profile_arn,
            swap.declared_role_arn
        );
        let fix = match &swap.fix {
            SwapFix::ProfileRole { profile_name, .. } => format!("the node role put back into profile {profile_name}"),
            SwapFix::Association { profile_arn, .. } => format!("the instances associated with {profile_arn} again"),
            SwapFix::Manual { reason } => format!("left to a person: {reason}"),
        };
        let result = match &swap.result {
            Some(ActionResult::Planned) | None => "not done (dry-run)".to_owned(),
            Some(ActionResult::Done) => "done".to_owned(),
            Some(ActionResult::AlreadyDone) => "already done".to_owned(),
            Some(ActionResult::Failed { error, .. }) => format!("FAILED: {error}"),
            Some(ActionResult::Skipped { .. }) => "not done".to_owned(),
        };
        let _ = writeln!(out, "  Fix: {fix}: {result}");
        out.push_str(
            "  Undo the swap:
",
        );
        for command in &swap.undo_commands {
            let _ = writeln!(out, "    {command}");
        }
        out.push_str(
            "  Put it back as found:
",
        );
        for command in &swap.reverse_commands {
            let _ = writeln!(out, "    {command}");
        }
    }
}

/// The violations worst first, the exceptions that expired today, and what exceptions keep.
fn write_violations(out: &mut String, report: &Report) {
    if !report.violations.is_empty() {
        out.push_str("\nViolations:\n");
        for v in by_severity(&report.violations, |v| v) {
            let why = match v {
                Violation::ManagedPolicy { reason, .. } => reason.as_str(),
                Violation::InlinePolicy { .. } => "inline policies are not allowed on node roles",
            };
            let _ = writeln!(out, "  - [{}] {}: {why}", severity(v).label(), policy(v));
            write_usage(out, v.used_by());
        }
    }
    if !report.expired_exceptions.is_empty() {
        out.push('\n');
        for e in &report.expired_exceptions {
            let _ = writeln!(
                out,
                "Exception expired: {} on this role was excepted until {} ({}); it is a violation again.",
                e.policy, e.until, e.reason
            );
        }
    }
    if !report.excepted.is_empty() {
        out.push_str("\nExcepted (kept until their date):\n");
        for e in by_severity(&report.excepted, |e| &e.violation) {
            let v = &e.violation;
            let _ = writeln!(out, "  - [{}] {}: {}", severity(v).label(), policy(v), e.note());
            write_usage(out, v.used_by());
        }
    }
}

fn write_actions(out: &mut String, report: &Report) {
    if report.actions.is_empty() {
        return;
    }
    out.push_str("\nActions:\n");
    for a in &report.actions {
        let verb = match a.action {
            ActionKind::DetachManagedPolicy => "detach",
            ActionKind::DeleteInlinePolicy => "delete inline",
        };
        let result = match &a.result {
            ActionResult::Planned => "not done (dry-run)".to_owned(),
            ActionResult::Done => "done".to_owned(),
            ActionResult::AlreadyDone => "already done".to_owned(),
            ActionResult::Failed { error, .. } => format!("FAILED: {error}"),
            ActionResult::Skipped { reason } => format!("SKIPPED: {reason}"),
        };
        let _ = writeln!(
            out,
            "  - {verb} {}: {result}",
            a.policy_arn.as_deref().unwrap_or(&a.policy_name)
        );
        if let Some(undo) = &a.undo_command {
            let _ = writeln!(out, "      undo: {undo}");
        }
    }
}

fn write_migrations(out: &mut String, report: &Report) {
    if !report.migrations.is_empty() {
        out.push('\n');
        out.push_str(&Migration::text(&report.migrations, ""));
    }
}

/// A sweep's roles, worst violation first, then by name; in organization mode (the summary
/// has a line per account) each is named with its account.
fn write_roles(out: &mut String, report: &Report) {
    if report.roles.is_empty() {
        return;
    }
    let organization = !report.accounts.is_empty();
    let mut lines: Vec<(Option<Severity>, String, &Report)> = report
        .roles
        .iter()
        .map(|r| {
            let worst = worst(r);
            let name = r.role.as_ref().map(|r| r.name.as_str()).unwrap_or("?");
            let shown = match (&r.account, organization) {
                (Some(account), true) => format!("{account}/{name}"),
                _ => name.to_owned(),
            };
            (worst, shown, r)
        })
        .collect();
    lines.sort_by(|a, b| (Reverse(a.0), &a.1).cmp(&(Reverse(b.0), &b.1)));
    out.push_str("\nNode roles checked:\n");
    for (worst, name, r) in lines {
        let label = worst.map(|s| format!("[{}] ", s.label())).unwrap_or_default();
        let excepted = match r.excepted.len() {
            0 => String::new(),
            n => format!(", {n} excepted"),
        };
        let excepted = match r.swaps.len() {
            0 => excepted,
            n => format!("{excepted}, {n} credential swap(s)"),
        };
        let _ = writeln!(
            out,
            "  - {label}{name}: {} ({} violation(s){excepted})",
            r.outcome.as_str(),
            r.violations.len()
        );
    }
}
