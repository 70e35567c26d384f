//! Checking one role without changing anything: is it a node role, what does it back, what
//! does it carry, and which of that is allowed. The function acts on the result
//! ([`crate::running::handler`]); the audit command only reports it ([`crate::running::audit`]). Both hold the same
//! rules, so their verdicts cannot differ.

use chrono::NaiveDate;
use futures::future::try_join_all;

use crate::config::Config;
use crate::discovery::addons::AddonFacts;
use crate::discovery::{IndexCache, Sources, addons, quick};
use crate::ports::{Ec2Read, Eks, IamRead};
use crate::types::{
    AwsError, IndexSource, InlinePolicy, KnownAddon, NodeBinding, NodeFacts, Outcome, Report, Role, RoleRef, RoleState,
    Violation, addon, arn,
};
use crate::verdict::migration;
use crate::verdict::policy;
use crate::verdict::policy::NodeTrust;
use crate::verdict::rules::Allowlist;

/// Why checking a role stopped early, as a report outcome, or an error for the handler.
pub enum Stop {
    Outcome(Outcome, String),
    Transient(String, AwsError),
}

/// The account a role is checked in, as a check sees it: read-only IAM, EKS and EC2, the
/// node-role index, and the role these credentials act as (never modified).
pub struct InAccount<'a, I, E, C> {
    pub id: &'a str,
    pub own_role: Option<&'a str>,
    pub iam: &'a I,
    pub eks: &'a E,
    pub ec2: &'a C,
    pub index: &'a IndexCache,
}

impl<I, E, C> InAccount<'_, I, E, C> {
    /// What discovery reads in this account.
    pub fn sources(&self) -> Sources<'_, I, E, C> {
        Sources {
            iam: self.iam,
            eks: self.eks,
            ec2: self.ec2,
        }
    }
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
    pub async fn assess<I: IamRead, E: Eks, C: Ec2Read>(
        &self,
        acct: &InAccount<'_, I, E, C>,
        report: &mut Report,
        role_name: &str,
        confirmed: Option<NodeBinding>,
        known: Option<(&str, NodeFacts)>,
        addon_facts: &AddonFacts,
    ) -> Result<Option<RoleState>, Stop> {
        report.role = Some(RoleRef {
            name: role_name.to_owned(),
            arn: known.as_ref().map(|(arn, _)| (*arn).to_owned()),
        });
        if let Some(reason) = self.exemption(acct.own_role, acct.id, role_name, None) {
            return Err(Stop::Outcome(Outcome::Exempt, reason));
        }

        let (role, facts) = match known {
            Some((arn, facts)) => (None, (arn.to_owned(), facts)),
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
                // a node group just created needs every binding; anything else may be quick
                let quick = confirmed.is_none();
                let mut facts = match self.discover(acct, report, &role, quick).await {
                    Ok(facts) => facts,
                    Err(e) => return Err(Stop::from_aws("node-role discovery", e)),
                };
                if let Some(binding) = confirmed.filter(|b| !facts.bindings.contains(b)) {
                    facts.bindings.push(binding);
                }
                let arn = role.arn.clone();
                (Some(role), (arn, facts))
            }
        };
        let (role_arn, facts) = facts;
        set_facts(report, facts);
        if report.nodegroups.is_empty() {
            return Err(Stop::Outcome(
                Outcome::NotNodeRole,
                format!(
                    "backs no managed node group, node access entry or running node in {}",
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
        let mut needs = addons::needs(acct.eks, addon_facts, &to_check, &report.nodegroups).await;
        let mut evaluation = allowlist.evaluate(&state, &needs);
        let quick = report.index == Some(IndexSource::Instances);
        if let Some(role) = role.filter(|_| quick && removes_addon_policy(&evaluation.violations, &to_check, &state)) {
            // an add-on's policy goes only when no cluster the role serves needs it, and the
            // quick answer knows only the clusters its instances run in: ask the full scan
            match self.discover(acct, report, &role, false).await {
                Ok(facts) => set_facts(report, facts),
                Err(e) => return Err(Stop::from_aws("node-role discovery", e)),
            }
            needs = addons::needs(acct.eks, addon_facts, &to_check, &report.nodegroups).await;
            evaluation = allowlist.evaluate(&state, &needs);
        }
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

    /// What discovery knows of `role`: with a cold index and `quick`, the instances that run
    /// with it when they make it a node role ([`quick`]); otherwise the (cached) full scan.
    async fn discover<I: IamRead, E: Eks, C: Ec2Read>(
        &self,
        acct: &InAccount<'_, I, E, C>,
        report: &mut Report,
        role: &Role,
        quick: bool,
    ) -> Result<NodeFacts, AwsError> {
        let sources = acct.sources();
        let (regions, concurrency) = (&self.config.scan_regions, self.config.discovery_concurrency);
        if quick && acct.index.fresh().await.is_none() {
            match quick::from_instances(&sources, regions, concurrency, &role.name, &role.arn).await {
                Ok(Some(facts)) => {
                    report.index = Some(IndexSource::Instances);
                    return Ok(facts);
                }
                Ok(None) => {}
                // EC2 or the profile listing refused: the full scan still answers
                Err(e) if !e.is_transient() => tracing::debug!(error = %e, "no quick answer; scanning"),
                Err(e) => return Err(e),
            }
        }
        let (scan, source) = acct.index.get(&sources, regions, concurrency).await?;
        report.index = Some(source);
        report.warnings.extend(scan.skipped.iter().cloned());
        let facts = scan.index.facts(&role.arn);
        if facts.bindings.is_empty() && policy::node_trust(&role.trust_policy) == Some(NodeTrust::Hybrid) {
            report
                .warnings
                .push("hybrid-node trust but no HYBRID_LINUX access entry found for this role".to_owned());
        }
        Ok(facts)
    }
}

/// Whether `violations` would remove the policy of an add-on whose need was checked.
fn removes_addon_policy(violations: &[Violation], checked: &[&'static KnownAddon], role: &RoleState) -> bool {
    violations.iter().any(|v| match v {
        Violation::ManagedPolicy { policy_arn, .. } => addon::by_policy_arn(role.partition(), policy_arn)
            .is_some_and(|found| checked.iter().any(|a| a.name == found.name)),
        Violation::InlinePolicy { .. } => false,
    })
}

/// What discovery knows of the role, into its report.
fn set_facts(report: &mut Report, facts: NodeFacts) {
    report.nodegroups = facts.bindings;
    report.swaps = facts.swaps;
    report.shared = facts.shared;
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
pub(crate) async fn role_state(iam: &impl IamRead, name: &str, arn: &str) -> Result<Option<RoleState>, AwsError> {
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
