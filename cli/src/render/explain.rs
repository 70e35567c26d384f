//! `explain` for people: the trust policy as read, what references the role, the verdict per
//! policy with its severity and commands, expired exceptions and the migration commands.

use std::fmt::Write as _;

use noderole::running::audit::Explanation;
use noderole::types::Outcome;

use super::view::view;
use noderole::types::Migration;

/// `explain`: the trust policy as read, what references the role, the verdict per policy.
pub fn explanation(e: &Explanation) -> String {
    let report = &e.report;
    let v = view(report);
    let mut out = String::new();
    let _ = writeln!(out, "Role:     {} (account {})", v.arn, v.account);
    let trust = match e.trust.node_trust {
        "ec2" => "EC2 instances may assume it (ec2.amazonaws.com): a node role candidate",
        "hybrid" => "hybrid nodes may assume it (SSM / IAM Roles Anywhere): a node role candidate",
        _ => "neither EC2 nor a hybrid-node service may assume it: not a node role",
    };
    let _ = writeln!(out, "Trust:    {trust}");
    let _ = writeln!(out, "          principals: {}", e.trust.principals.join(", "));
    if v.backs.is_empty() {
        let _ = writeln!(out, "Backs:    nothing found in the regions searched");
    }
    for b in &v.backs {
        let _ = writeln!(out, "Backs:    {b}");
    }
    let node_role = if report.node_role { "yes" } else { "no" };
    let _ = writeln!(out, "Node role: {node_role}; verdict: {}", v.verdict);
    if !v.reason.is_empty() {
        let _ = writeln!(out, "          {}", v.reason);
    }
    // severity, verdict, policy; the commands under the policy's name
    for i in &v.items {
        let severity = match i.severity_label() {
            "" => "-",
            label => label,
        };
        let _ = writeln!(
            out,
            "  {severity:<8} {:<6} {}: {}",
            i.verdict_label(),
            i.policy,
            i.why.replace('\n', " ")
        );
        if let Some(command) = &i.command {
            let _ = writeln!(out, "                  enforce runs: {command}");
        }
        if let Some(undo) = &i.undo {
            let _ = writeln!(out, "                  undo: {undo}");
        }
    }
    for line in &v.expired {
        let _ = writeln!(out, "{line}");
    }
    out.push_str(&Migration::text(&v.migrations, ""));
    if report.outcome == Outcome::Failed {
        let _ = writeln!(out, "The check could not finish: {}", v.reason);
    }
    out
}

#[cfg(test)]
mod tests {
    use noderole::running::audit::Trust;

    use super::super::fixture;
    use super::*;

    fn explained(report: noderole::Report, node_trust: &'static str) -> String {
        explanation(&Explanation {
            trust: Trust {
                node_trust,
                principals: vec!["ec2.amazonaws.com".into()],
            },
            report,
        })
    }

    #[test]
    fn the_trust_what_it_backs_and_each_policy_with_its_command() {
        let text = explained(fixture::prod(), "ec2");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Role:     arn:aws:iam::111122223333:role/eks-node-prod (account 111122223333)"
        );
        assert_eq!(
            lines[1],
            "Trust:    EC2 instances may assume it (ec2.amazonaws.com): a node role candidate"
        );
        assert_eq!(lines[2], "          principals: ec2.amazonaws.com");
        assert_eq!(lines[3], "Backs:    us-east-1/prod node group general");
        assert_eq!(lines[6], "Node role: yes; verdict: violations found");
        assert_eq!(
            lines[7],
            "  CRITICAL REMOVE AdministratorAccess: AWS-managed policy not in the allowlist"
        );
        assert_eq!(
            lines[8],
            "                  enforce runs: aws iam detach-role-policy --role-name 'eks-node-prod' --policy-arn \
             'arn:aws:iam::aws:policy/AdministratorAccess'"
        );
        assert_eq!(
            lines[9],
            "                  undo: aws iam attach-role-policy --role-name 'eks-node-prod' --policy-arn \
             'arn:aws:iam::aws:policy/AdministratorAccess'"
        );
        assert!(lines.contains(&"  -        keep   AmazonEKSWorkerNodePolicy: allowlisted"));
        assert!(lines.contains(
            &"exception expired: AdministratorAccess was excepted until 2026-12-01 (load test of the batch importer); \
              it is a violation again"
        ));
        assert!(lines.contains(&"Moving these workloads off the node role (EKS Pod Identity; run in order):"));
        assert!(!text.contains("could not finish"));
    }

    #[test]
    fn an_excepted_policy_is_shown_with_its_date_and_severity() {
        let text = explained(fixture::logs(), "ec2");
        assert!(
            text.contains(
                "\n  HIGH     excepted AmazonS3FullAccess: excepted until 2027-03-31: moving the log shipper to Pod \
                 Identity\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_role_that_backs_nothing_says_so() {
        let mut report = fixture::role(fixture::HOME, "ci-runner", noderole::Outcome::NotNodeRole, None);
        report.node_role = false;
        let text = explained(report, "none");
        assert!(text.contains("Trust:    neither EC2 nor a hybrid-node service may assume it: not a node role\n"));
        assert!(text.contains("Backs:    nothing found in the regions searched\n"));
        assert!(text.contains("Node role: no; verdict: not node role\n"));
    }

    #[test]
    fn a_check_that_failed_says_why_at_the_end() {
        let report = fixture::role(
            fixture::HOME,
            "eks-node-batch",
            Outcome::Failed,
            Some("iam:GetRole: AccessDenied"),
        );
        let text = explained(report, "hybrid");
        assert!(text.contains("hybrid nodes may assume it"));
        assert_eq!(
            text.lines().last(),
            Some("The check could not finish: iam:GetRole: AccessDenied")
        );
    }
}
