//! Checking one role without changing anything: is it a node role, what does it back, what
//! does it carry, and which of that is allowed. The function acts on the result
//! ([`crate::running::handler`]); the audit command only reports it ([`crate::running::audit`]). Both hold the same
//! rules, so their verdicts cannot differ.

use chrono::NaiveDate;
use futures::future::try_join_all;

use crate::config::Config;
use crate::discovery::addons::AddonFacts;
use crate::discovery::{IndexCache, addons};
use crate::ports::{Eks, IamRead};
use crate::types::{AwsError, InlinePolicy, NodeBinding, Outcome, Report, RoleRef, RoleState, arn};
use crate::verdict::migration;
use crate::verdict::policy;
use crate::verdict::policy::NodeTrust;
use crate::verdict::rules::Allowlist;

/// Why checking a role stopped early, as a report outcome, or an error for the handler.
pub enum Stop {
    Outcome(Outcome, String),
    Transient(String, AwsError),
}

/// The account a role is checked in, as a check sees it: read-only IAM, EKS, the node-role
/// index, and the role these credentials act as (never modified).
pub struct InAccount<'a, I, E> {
    pub id: &'a str,
    pub own_role: Option<&'a str>,
    pub iam: &'a I,
    pub eks: &'a E,
    pub index: &'a IndexCache,
}

/// The rules a check applies: the configuration, and which account is the home one.
pub struct Check<'a> {
    pub config: &'a Config,
    pub home: &'a str,
    /// The day (UTC) `EXCEPTIONS` are judged on.
    pub today: NaiveDate,
}

impl Check<'_> {
    /// Fills `report` for one role: whether it is a node role, what it backs, what it has and
    /// what of that is allowed. `Some(state)` when there are violations to act on; `None` when
    /// the role is compliant (`report.outcome` says so). `known` skips discovery (the sweep
    /// already has the index).
    pub async fn assess<I: IamRead, E: Eks>(
        &self,
        acct: &InAccount<'_, I, E>,
        report: &mut Report,
        role_name: &str,
        confirmed: Option<NodeBinding>,
        known: Option<(&str, Vec<NodeBinding>)>,
        addon_facts: &AddonFacts,
    ) -> Result<Option<RoleState>, Stop> {
        report.role = Some(RoleRef {
            name: role_name.to_owned(),
            arn: known.as_ref().map(|(arn, _)| (*arn).to_owned()),
        });
        if let Some(reason) = self.exemption(acct.own_role, acct.id, role_name, None) {
            return Err(Stop::Outcome(Outcome::Exempt, reason));
        }

        let (role_arn, bindings) = match known {
            Some((arn, bindings)) => (arn.to_owned(), bindings),
            None => {
                let role = match acct.iam.role(role_name).await {
                    Ok(Some(role)) => role,
                    Ok(None) => {
                        return Err(Stop::Outcome(
                            Outcome::Ignored,
                            format!("role {role_name} no longer exists"),
                        ));
                    }
                    Err(e) => return Err(Stop::from_aws("GetRole", e)),
                };
                report.role = Some(RoleRef {
                    name: role.name.clone(),
                    arn: Some(role.arn.clone()),
                });
                if let Some(reason) = self.exemption(acct.own_role, acct.id, &role.name, Some(&role.arn)) {
                    return Err(Stop::Outcome(Outcome::Exempt, reason));
                }
                if confirmed.is_none() && policy::node_trust(&role.trust_policy).is_none() {
                    return Err(Stop::Outcome(
                        Outcome::NotNodeRole,
                        "the role's trust policy admits neither ec2.amazonaws.com nor a hybrid-node service \
                         (ssm.amazonaws.com, rolesanywhere.amazonaws.com)"
                            .to_owned(),
                    ));
                }
                let mut bindings = match self
                    .discover(acct.index, acct.eks, report, &role.arn, &role.trust_policy)
                    .await
                {
                    Ok(bindings) => bindings,
                    Err(e) => return Err(Stop::from_aws("node-role discovery", e)),
                };
                if let Some(binding) = confirmed.filter(|b| !bindings.contains(b)) {
                    bindings.push(binding);
                }
                (role.arn, bindings)
            }
        };
        report.nodegroups = bindings;
        if report.nodegroups.is_empty() {
            return Err(Stop::Outcome(
                Outcome::NotNodeRole,
                format!(
                    "backs no managed node group or node access entry in {}",
                    self.config.scan_regions.join(", ")
                ),
            ));
        }
        report.node_role = true;

        let state = match role_state(acct.iam, role_name, &role_arn).await {
            Ok(Some(state)) => state,
            Ok(None) => {
                return Err(Stop::Outcome(
                    Outcome::Ignored,
                    format!("role {role_name} no longer exists"),
                ));
            }
            Err(e) => return Err(Stop::from_aws("reading the role's policies", e)),
        };
        let allowlist = Allowlist::from_config(self.config, self.today);
        let to_check = allowlist.addons_to_check(&state);
        let needs = addons::needs(acct.eks, addon_facts, &to_check, &report.nodegroups).await;
        let evaluation = allowlist.evaluate(&state, &needs);
        report.migrations = migration::plan(&state.arn, &evaluation, &report.nodegroups);
        report.kept = evaluation.kept;
        report.violations = evaluation.violations;
        report.excepted = evaluation.excepted;
        report.expired_exceptions = evaluation.expired;
        if report.violations.is_empty() {
            report.outcome = Outcome::Compliant;
            return Ok(None);
        }
        Ok(Some(state))
    }

    /// Why the role is never touched, if it is not: the role these credentials act as, or
    /// `EXEMPT_ROLES`.
    pub fn exemption(&self, own_role: Option<&str>, account: &str, name: &str, arn: Option<&str>) -> Option<String> {
        if own_role.is_some_and(|own| arn::same_role_name(own, name)) {
            let whose = if account == self.home {
                "the function's own execution role"
            } else {
                "the role the guard assumes in this account"
            };
            return Some(format!("this is {whose}, which it never modifies"));
        }
        self.config
            .exempt_roles
            .iter()
            .find(|exempt| arn::same_role_name(exempt, name) || arn.is_some_and(|arn| arn::same_role_arn(exempt, arn)))
            .map(|exempt| format!("exempt by EXEMPT_ROLES ({exempt})"))
    }

    /// Node bindings of `role_arn` from the (cached) index.
    async fn discover<E: Eks>(
        &self,
        index: &IndexCache,
        eks: &E,
        report: &mut Report,
        role_arn: &str,
        trust_policy: &str,
    ) -> Result<Vec<NodeBinding>, AwsError> {
        let (scan, source) = index
            .get(eks, &self.config.scan_regions, self.config.discovery_concurrency)
            .await?;
        report.index = Some(source);
        report.warnings.extend(scan.skipped.iter().cloned());
        let bindings = scan.index.bindings(role_arn);
        if bindings.is_empty() && policy::node_trust(trust_policy) == Some(NodeTrust::Hybrid) {
            report
                .warnings
                .push("hybrid-node trust but no HYBRID_LINUX access entry found for this role".to_owned());
        }
        Ok(bindings)
    }
}

impl Stop {
    /// Transient errors become handler errors; permanent ones a `failed` outcome.
    pub fn from_aws(context: &str, e: AwsError) -> Stop {
        if e.is_transient() {
            Stop::Transient(context.to_owned(), e)
        } else {
            Stop::Outcome(Outcome::Failed, format!("{context}: {e}"))
        }
    }

    pub fn reason(&self) -> String {
        match self {
            Stop::Outcome(_, reason) => reason.clone(),
            Stop::Transient(context, source) => format!("{context}: {source}"),
        }
    }
}

/// The role's current policies, re-read from IAM; `None` if the role is gone.
async fn role_state(iam: &impl IamRead, name: &str, arn: &str) -> Result<Option<RoleState>, AwsError> {
    let (attached, inline_names) = match futures::try_join!(iam.attached_policies(name), iam.inline_policy_names(name))
    {
        Ok(found) => found,
        Err(e) if e.code.as_deref() == Some("NoSuchEntity") => return Ok(None),
        Err(e) => return Err(e),
    };
    let documents = try_join_all(inline_names.iter().map(|p| iam.inline_policy(name, p))).await?;
    let inline = inline_names
        .into_iter()
        .zip(documents)
        .map(|(name, document)| InlinePolicy { name, document })
        .collect();
    Ok(Some(RoleState {
        name: name.to_owned(),
        arn: arn.to_owned(),
        attached,
        inline,
    }))
}
