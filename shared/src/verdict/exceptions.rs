//! `EXCEPTIONS`: which entry keeps which violation, by exact match. A managed policy is named
//! by its ARN and an inline policy by its name, so an inline policy can never borrow an excepted
//! managed policy's name. AWS-managed ARNs match in every partition, as allowlist ARNs do; paths
//! must agree. Roles match as `EXEMPT_ROLES` entries do: a name (any path, any account) or an ARN.

use chrono::NaiveDate;

use crate::types::{Evaluation, Excepted, Exception, Violation, arn};

/// Whether `exception` names this role and this policy.
pub fn covers(exception: &Exception, role_name: &str, role_arn: &str, violation: &Violation) -> bool {
    let role = if exception.role.starts_with("arn:") {
        arn::same_role_arn(&exception.role, role_arn)
    } else {
        arn::same_role_name(&exception.role, role_name)
    };
    role && names_policy(&exception.policy, violation)
}

fn names_policy(entry: &str, violation: &Violation) -> bool {
    match violation {
        Violation::InlinePolicy { policy_name, .. } => !entry.starts_with("arn:") && entry == policy_name,
        Violation::ManagedPolicy { policy_arn, .. } => {
            match (without_partition(entry), without_partition(policy_arn)) {
                (Some(entry), Some(policy)) => entry == policy,
                _ => false,
            }
        }
    }
}

/// `iam::aws:policy/service-role/X` of `arn:aws-cn:iam::aws:policy/service-role/X`.
fn without_partition(policy_arn: &str) -> Option<&str> {
    let rest = policy_arn.strip_prefix("arn:")?;
    let (_partition, rest) = rest.split_once(':')?;
    rest.starts_with("iam::").then_some(rest)
}

/// Moves the violations an exception covers on `today` into `excepted`, and notes the
/// exceptions that stopped applying today (their violations stay violations).
pub fn apply(evaluation: &mut Evaluation, exceptions: &[Exception], role_name: &str, role_arn: &str, today: NaiveDate) {
    let violations = std::mem::take(&mut evaluation.violations);
    for violation in violations {
        let matching = || exceptions.iter().filter(|e| covers(e, role_name, role_arn, &violation));
        // the entry that lasts longest, when two name the same role and policy
        match matching().filter(|e| e.applies_on(today)).max_by_key(|e| e.until) {
            Some(exception) => evaluation.excepted.push(Excepted {
                until: exception.until,
                reason: exception.reason.clone(),
                violation,
            }),
            None => {
                evaluation
                    .expired
                    .extend(matching().filter(|e| e.expired_on(today)).cloned());
                evaluation.violations.push(violation);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/nodes/eks-node-app";

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    fn exception(role: &str, policy: &str, until: &str) -> Exception {
        Exception {
            role: role.into(),
            policy: policy.into(),
            until: day(until),
            reason: "moving the autoscaler to Pod Identity".into(),
        }
    }

    fn managed(arn: &str) -> Violation {
        Violation::ManagedPolicy {
            policy_name: arn.rsplit('/').next().unwrap_or(arn).into(),
            policy_arn: arn.into(),
            reason: "r".into(),
            used_by: None,
        }
    }

    fn inline(name: &str) -> Violation {
        Violation::InlinePolicy {
            policy_name: name.into(),
            document: None,
            used_by: None,
        }
    }

    #[test]
    fn an_exception_names_one_role_and_one_policy_exactly() {
        let ssm = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore";
        let by_name = exception("eks-node-app", ssm, "2027-01-31");
        assert!(covers(&by_name, "eks-node-app", ROLE_ARN, &managed(ssm)));
        assert!(
            covers(&by_name, "EKS-NODE-APP", ROLE_ARN, &managed(ssm)),
            "role names ignore case, as IAM does"
        );
        // the same policy in another partition is the same AWS-managed policy
        let cn = "arn:aws-cn:iam::aws:policy/AmazonSSMManagedInstanceCore";
        assert!(covers(
            &by_name,
            "eks-node-app",
            "arn:aws-cn:iam::111122223333:role/eks-node-app",
            &managed(cn)
        ));

        let look_alikes = [
            // another role
            ("eks-node-app2", ROLE_ARN, managed(ssm)),
            // a customer policy that borrows the AWS name
            (
                "eks-node-app",
                ROLE_ARN,
                managed("arn:aws:iam::111122223333:policy/AmazonSSMManagedInstanceCore"),
            ),
            // the AWS name under another path
            (
                "eks-node-app",
                ROLE_ARN,
                managed("arn:aws:iam::aws:policy/service-role/AmazonSSMManagedInstanceCore"),
            ),
            // an inline policy that borrows the name
            ("eks-node-app", ROLE_ARN, inline("AmazonSSMManagedInstanceCore")),
            ("eks-node-app", ROLE_ARN, inline(ssm)),
        ];
        for (role, role_arn, violation) in look_alikes {
            assert!(!covers(&by_name, role, role_arn, &violation), "{role} {violation:?}");
        }

        let by_arn = exception(ROLE_ARN, "autoscaler", "2027-01-31");
        assert!(covers(&by_arn, "eks-node-app", ROLE_ARN, &inline("autoscaler")));
        assert!(
            !covers(
                &by_arn,
                "eks-node-app",
                "arn:aws:iam::444455556666:role/nodes/eks-node-app",
                &inline("autoscaler")
            ),
            "another account"
        );
        assert!(
            !covers(
                &by_arn,
                "eks-node-app",
                "arn:aws:iam::111122223333:role/eks-node-app",
                &inline("autoscaler")
            ),
            "another path"
        );
        assert!(!covers(&by_arn, "eks-node-app", ROLE_ARN, &inline("autoscaler-v2")));

        let customer = exception("eks-node-app", "arn:aws:iam::111122223333:policy/ops/dns", "2027-01-31");
        assert!(covers(
            &customer,
            "eks-node-app",
            ROLE_ARN,
            &managed("arn:aws:iam::111122223333:policy/ops/dns")
        ));
        assert!(!covers(
            &customer,
            "eks-node-app",
            ROLE_ARN,
            &managed("arn:aws:iam::444455556666:policy/ops/dns")
        ));
        assert!(!covers(&customer, "eks-node-app", ROLE_ARN, &inline("dns")));
    }

    #[test]
    fn an_exception_applies_through_its_last_day_and_its_expiry_is_said_the_day_after_only() {
        let e = exception("r", "p", "2027-01-31");
        assert!(e.applies_on(day("2026-12-02")));
        assert!(e.applies_on(day("2027-01-31")), "the last day is included");
        assert!(!e.applies_on(day("2027-02-01")));
        assert!(!e.expired_on(day("2027-01-31")));
        assert!(e.expired_on(day("2027-02-01")));
        assert!(!e.expired_on(day("2027-02-02")), "said once, on the first day after");
        // a leap day and a year end
        assert!(exception("r", "p", "2028-02-28").expired_on(day("2028-02-29")));
        assert!(exception("r", "p", "2026-12-31").expired_on(day("2027-01-01")));
    }

    #[test]
    fn applying_moves_covered_violations_and_notes_expiry() {
        let kept = exception("eks-node-app", "autoscaler", "2027-01-31");
        let gone = exception("eks-node-app", "debug", "2027-01-30");
        let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
        let start = || Evaluation {
            violations: vec![inline("autoscaler"), inline("debug"), managed(admin)],
            ..Evaluation::default()
        };
        let exceptions = [kept.clone(), gone.clone()];

        let mut on_the_day = start();
        apply(
            &mut on_the_day,
            &exceptions,
            "eks-node-app",
            ROLE_ARN,
            day("2027-01-30"),
        );
        let names = |e: &Evaluation| {
            e.violations
                .iter()
                .map(|v| v.policy_name().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&on_the_day), ["AdministratorAccess"]);
        assert_eq!(on_the_day.excepted.len(), 2);
        assert_eq!(on_the_day.excepted[0].until, day("2027-01-31"));
        assert!(on_the_day.expired.is_empty());

        let mut next_day = start();
        apply(&mut next_day, &exceptions, "eks-node-app", ROLE_ARN, day("2027-01-31"));
        assert_eq!(names(&next_day), ["debug", "AdministratorAccess"]);
        assert_eq!(next_day.excepted.len(), 1);
        assert_eq!(next_day.expired, std::slice::from_ref(&gone));

        let mut later = start();
        apply(&mut later, &exceptions, "eks-node-app", ROLE_ARN, day("2027-03-01"));
        assert_eq!(later.violations.len(), 3);
        assert!(later.excepted.is_empty() && later.expired.is_empty());
    }
}
