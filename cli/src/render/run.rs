//! What a report says about the run that made it: when, by which version, as whom, over which
//! accounts and regions, with which configuration. Built once by the command from the clock,
//! the caller's identity and the configuration; the printers never read the clock.

use chrono::{DateTime, SecondsFormat, Utc};
use noderole::types::{Exception, Identity};
use noderole::{Config, Report};
use serde::Serialize;

/// The run behind a report (the JSON report's `run` object).
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// When the audit ran (UTC, RFC 3339 to the second).
    #[serde(serialize_with = "rfc3339")]
    pub generated_at: DateTime<Utc>,
    /// The tool's version (`eks-node-role-guard --version`).
    pub version: String,
    /// Who ran it: the caller's ARN as STS gives it.
    pub caller: String,
    /// Every account the audit searched (or tried to).
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub configuration: Settings,
}

/// The configuration in effect, as the function's variables would hold it.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Always `dry-run`: the audit changes nothing.
    pub mode: String,
    pub allowed_policies: Vec<String>,
    pub exempt_roles: Vec<String>,
    pub exceptions: Vec<Exception>,
    pub cni_policy: String,
    pub addon_policies: String,
    /// Organization mode: the role entered in each member account, and which accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_accounts: Option<String>,
}

fn rfc3339<S: serde::Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Secs, true))
}

impl RunInfo {
    /// The run of `report`, audited with `config` as `identity`, at `now`.
    pub fn new(config: &Config, identity: &Identity, report: &Report, now: DateTime<Utc>) -> RunInfo {
        let accounts = if report.accounts.is_empty() {
            vec![report.account.clone().unwrap_or_else(|| identity.account.clone())]
        } else {
            report.accounts.iter().map(|a| a.account.clone()).collect()
        };
        RunInfo {
            generated_at: now,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            caller: identity.arn.clone(),
            accounts,
            regions: config.scan_regions.clone(),
            configuration: Settings {
                mode: config.mode.as_str().to_owned(),
                allowed_policies: config.allowed_policies.iter().cloned().collect(),
                exempt_roles: config.exempt_roles.iter().cloned().collect(),
                exceptions: config.exceptions.clone(),
                cni_policy: config.cni_policy.as_str().to_owned(),
                addon_policies: config.addon_policies.as_str().to_owned(),
                member_role: config.central.as_ref().map(|c| c.member_role.clone()),
                member_accounts: config.central.as_ref().map(|c| c.accounts.to_string()),
            },
        }
    }

    /// `2026-12-02T09:30:00Z`.
    pub fn generated_at(&self) -> String {
        self.generated_at.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// The run as label and value, in the order the Markdown and HTML reports list it; the
    /// exceptions come apart ([`RunInfo::exception_lines`]).
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let c = &self.configuration;
        let list = |items: &[String]| {
            if items.is_empty() {
                "none".to_owned()
            } else {
                items.join(", ")
            }
        };
        let mut rows = vec![
            ("Generated at", format!("{} (UTC)", self.generated_at())),
            ("Tool", format!("eks-node-role-guard {}", self.version)),
            ("Caller", self.caller.clone()),
            ("Accounts searched", list(&self.accounts)),
            ("Regions searched", list(&self.regions)),
            ("Mode", format!("{} (read-only: nothing is changed)", c.mode)),
            ("Allowed policies (ALLOWED_POLICIES)", list(&c.allowed_policies)),
            ("Exempt roles (EXEMPT_ROLES)", list(&c.exempt_roles)),
            ("CNI policy (CNI_POLICY)", c.cni_policy.clone()),
            ("Add-on policies (ADDON_POLICIES)", c.addon_policies.clone()),
        ];
        if let (Some(role), Some(accounts)) = (&c.member_role, &c.member_accounts) {
            rows.push(("Member role (MEMBER_ROLE_NAME)", role.clone()));
            rows.push(("Member accounts (ACCOUNTS)", accounts.clone()));
        }
        rows.push((
            "Exceptions (EXCEPTIONS)",
            match c.exceptions.len() {
                0 => "none".to_owned(),
                n => format!("{n}, below"),
            },
        ));
        rows
    }

    /// One line per exception: `eks-node-logs: arn:…/AmazonS3FullAccess until 2027-03-31: reason`.
    pub fn exception_lines(&self) -> Vec<String> {
        self.configuration
            .exceptions
            .iter()
            .map(|e| format!("{}: {} until {}: {}", e.role, e.policy, e.until, e.reason))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::fixture;
    use super::*;

    fn config(extra: &[(&str, &str)]) -> Config {
        let vars: Vec<(&str, &str)> = [
            ("SCAN_REGIONS", "us-east-1,us-west-2"),
            ("EXEMPT_ROLES", "eks-node-staging"),
            (
                "EXCEPTIONS",
                r#"[{"role":"eks-node-logs","policy":"arn:aws:iam::aws:policy/AmazonS3FullAccess","until":"2027-03-31","reason":"moving the log shipper"}]"#,
            ),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
        Config::for_audit(|name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned()))
            .expect("a valid configuration")
    }

    fn identity() -> Identity {
        Identity::from_caller_arn(fixture::HOME, "arn:aws:sts::111122223333:assumed-role/Auditor/jane")
    }

    #[test]
    fn the_run_is_made_of_the_clock_the_caller_and_the_configuration() {
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 9, 30, 0).single().expect("a time");
        let run = RunInfo::new(&config(&[]), &identity(), &fixture::single(), now);
        assert_eq!(run.generated_at(), "2026-12-02T09:30:00Z");
        assert_eq!(run.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(run.caller, "arn:aws:sts::111122223333:assumed-role/Auditor/jane");
        assert_eq!(run.accounts, [fixture::HOME], "one account: the report's");
        assert_eq!(run.regions, ["us-east-1", "us-west-2"]);
        let c = &run.configuration;
        assert_eq!(c.mode, "dry-run");
        assert!(c.allowed_policies.contains(&"AmazonEKSWorkerNodePolicy".to_owned()));
        assert_eq!(c.exempt_roles, ["eks-node-staging"]);
        assert_eq!(c.exceptions[0].until.to_string(), "2027-03-31");
        assert_eq!(
            (c.cni_policy.as_str(), c.addon_policies.as_str()),
            ("keep-if-needed", "keep-if-needed")
        );
        assert!(c.member_role.is_none());
        assert_eq!(
            run.exception_lines(),
            ["eks-node-logs: arn:aws:iam::aws:policy/AmazonS3FullAccess until 2027-03-31: moving the log shipper"]
        );
        let labels: Vec<&str> = run.rows().iter().map(|(l, _)| *l).collect();
        assert!(!labels.contains(&"Member role (MEMBER_ROLE_NAME)"), "{labels:?}");
    }

    #[test]
    fn many_accounts_are_listed_and_the_member_role_shown() {
        let config = config(&[
            ("MEMBER_ROLE_NAME", "NodeRoleGuardMember"),
            ("ACCOUNTS", "organization"),
        ]);
        let run = RunInfo::new(
            &config,
            &identity(),
            &fixture::organization(),
            chrono::DateTime::UNIX_EPOCH,
        );
        assert_eq!(run.accounts, [fixture::HOME, fixture::MEMBER, fixture::DENIED]);
        let json = serde_json::to_value(&run).expect("serialises");
        assert_eq!(json["generated_at"], "1970-01-01T00:00:00Z");
        assert_eq!(json["configuration"]["member_role"], "NodeRoleGuardMember");
        assert_eq!(json["configuration"]["member_accounts"], "organization");
        assert_eq!(json["configuration"]["exceptions"][0]["until"], "2027-03-31");
        assert!(
            run.rows()
                .contains(&("Member accounts (ACCOUNTS)", "organization".to_owned()))
        );
    }
}
