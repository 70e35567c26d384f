//! The composition root of every command: credentials, identity, configuration and the audited
//! accounts, over read-only adapters. Every error here is one a person can act on.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use aws_config::Region;
use noderole::Config;
use noderole::aws::{Ec2Reader, EksClients, IamReader, OrgMembers, ReadOnly, ReadOnlyMembers};
use noderole::ports::NoFindings;
use noderole::running::accounts::{Accounts, Guarded};
use noderole::running::audit::Audited;

use crate::args::Scope;
use crate::{credentials, regions, render};

/// The audit over the SDK: IAM that can only read, EKS, and member accounts entered read-only.
pub type Audit = Audited<ReadOnly>;

/// What every command starts from.
pub struct Connected {
    pub config: Config,
    pub audited: Audit,
    /// Region and partition of the ASFF findings: the profile's region, where
    /// `aws securityhub batch-import-findings` imports them.
    pub findings_scope: render::FindingsScope,
    /// Who the credentials act as (the reports name the caller).
    pub identity: noderole::types::Identity,
}

/// Credentials, identity, configuration and the audited accounts.
pub async fn connect(scope: &Scope) -> Result<Connected> {
    let named = credentials::check_profile(scope.profile.as_deref()).await?;
    let mut loader = noderole::aws::sdk_config_loader();
    if let Some(profile) = &scope.profile {
        loader = loader.profile_name(profile);
    }
    let sdk = loader.load().await;
    let regions = match (scope.all_regions, scope.regions.is_empty(), sdk.region()) {
        (true, _, _) => regions::of_partition(sdk.region().map(Region::as_ref)),
        // trimmed, blanks dropped and each region once by the configuration, as SCAN_REGIONS is
        (false, false, _) => scope.regions.clone(),
        (false, true, Some(region)) => vec![region.to_string()],
        (false, true, None) => bail!(
            "no region: pass --regions (or --all-regions), or set a region in the profile (AWS_REGION, region = ... in ~/.aws/config)"
        ),
    };
    let config = configuration(scope, &regions)?;
    regions::check(&config.scan_regions)?;
    // Clients need a region even when every cluster region is explicit.
    let sdk = match (sdk.region(), config.scan_regions.first()) {
        (None, Some(first)) => sdk.to_builder().region(Region::new(first.clone())).build(),
        _ => sdk,
    };
    let sdk = credentials::resolve(sdk, &named).await?;
    let identity = noderole::aws::caller_identity(&sdk)
        .await
        .map_err(|e| anyhow!(credentials::identity_failed(&e, &named)))?;

    // No role is exempt as "the caller's own": run from a node with its instance profile, the
    // caller is the very node role the audit must judge. The function's exemption of its own
    // execution role concerns a role with a Lambda trust policy, never a node role.
    let home = Guarded::home(
        &identity.account,
        None,
        IamReader::new(&sdk),
        EksClients::new(&sdk, &config.scan_regions),
        Ec2Reader::new(&sdk, &config.scan_regions),
        NoFindings,
        Duration::from_secs(900),
    );
    let members = config.central.clone().map(|central| {
        Accounts::new(
            ReadOnlyMembers(OrgMembers::new(&sdk, &config.scan_regions)),
            central,
            &identity.partition,
            &identity.account,
            Duration::from_secs(900),
        )
    });
    let findings_scope = render::FindingsScope {
        region: sdk.region().map(Region::to_string).unwrap_or_default(),
        partition: identity.partition.clone(),
    };
    Ok(Connected {
        config,
        audited: Audited { home, members },
        findings_scope,
        identity,
    })
}

/// The flags as the function's variables, parsed by the function's own configuration.
fn configuration(scope: &Scope, regions: &[String]) -> Result<Config> {
    let mut vars: Vec<(&str, String)> = vec![
        ("SCAN_REGIONS", regions.join(",")),
        ("CNI_POLICY", scope.cni_policy.clone()),
        ("ADDON_POLICIES", scope.addon_policies.clone()),
        ("ALLOWED_POLICIES", scope.allowed_policies.join(",")),
        ("EXEMPT_ROLES", scope.exempt_roles.join(",")),
        ("INDEX_TTL_SECONDS", "900".to_owned()),
    ];
    if let Some(path) = &scope.exceptions {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow!("--exceptions {}: cannot be read ({e})", path.display()))?;
        vars.push(("EXCEPTIONS", text));
    }
    if let (Some(role), Some(accounts)) = (&scope.member_role, &scope.accounts) {
        vars.push(("MEMBER_ROLE_NAME", role.clone()));
        vars.push(("ACCOUNTS", accounts.clone()));
    }
    Config::for_audit(|name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()))
        .map_err(|e| anyhow!(flag_names(&e.to_string())))
}

/// Configuration errors name the function's variables; on the command line they are flags.
pub fn flag_names(message: &str) -> String {
    [
        ("SCAN_REGIONS", "--regions"),
        ("ALLOWED_POLICIES", "--allowed-policies"),
        ("EXEMPT_ROLES", "--exempt-roles"),
        ("EXCEPTIONS", "--exceptions"),
        ("CNI_POLICY", "--cni-policy"),
        ("ADDON_POLICIES", "--addon-policies"),
        ("MEMBER_ROLE_NAME", "--member-role"),
        ("ACCOUNTS", "--accounts"),
    ]
    .iter()
    .fold(message.to_owned(), |text, (variable, flag)| {
        text.replace(variable, flag)
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    fn scope(flags: &[&str]) -> Scope {
        let argv = ["eks-node-role-guard", "audit"].iter().chain(flags);
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Audit(args) => args.scope,
            Command::Explain(args) => args.scope,
        }
    }

    #[test]
    fn errors_name_the_flags_not_the_variables() {
        assert_eq!(
            flag_names("CNI_POLICY: unknown value `maybe`; EXEMPT_ROLES is fine"),
            "--cni-policy: unknown value `maybe`; --exempt-roles is fine"
        );
    }

    #[test]
    fn the_flags_mean_what_the_functions_variables_mean() {
        let scope = scope(&["--exempt-roles", "eks-node-staging", "--cni-policy", "deny"]);
        let config = configuration(&scope, &["us-west-2".into(), "us-east-1".into()]).expect("valid");
        assert_eq!(config.scan_regions, ["us-west-2", "us-east-1"]);
        assert!(config.central.is_none());
    }

    #[test]
    fn a_bad_value_is_reported_by_its_flag() {
        let scope = scope(&["--cni-policy", "sometimes"]);
        let error = configuration(&scope, &["us-east-1".into()]).expect_err("invalid");
        let text = error.to_string();
        assert!(text.contains("--cni-policy"), "{text}");
        assert!(!text.contains("CNI_POLICY"), "{text}");
    }

    #[test]
    fn exceptions_come_from_a_file_and_a_bad_entry_is_named_by_the_flag() {
        let dir = std::env::temp_dir().join(format!("eks-node-role-guard-exceptions-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        let good = dir.join("good.json");
        std::fs::write(
            &good,
            r#"[{"role":"eks-node-app","policy":"cluster-autoscaler","until":"2027-01-31","reason":"moving to Pod Identity"}]"#,
        )
        .expect("written");
        let bad = dir.join("bad.json");
        std::fs::write(
            &bad,
            r#"[{"role":"eks-node-app","policy":"cluster-autoscaler","until":"soon","reason":"x"}]"#,
        )
        .expect("written");
        let regions = ["us-east-1".to_owned()];

        let config = configuration(&scope(&["--exceptions", good.to_str().expect("utf-8")]), &regions).expect("valid");
        assert_eq!(config.exceptions.len(), 1);
        assert_eq!(config.exceptions[0].reason, "moving to Pod Identity");

        let error = configuration(&scope(&["--exceptions", bad.to_str().expect("utf-8")]), &regions)
            .expect_err("a bad date")
            .to_string();
        assert!(error.starts_with("--exceptions="), "{error}");
        assert!(error.contains("entry 1: until \"soon\" is not a date"), "{error}");

        let missing = dir.join("missing.json");
        let error = configuration(&scope(&["--exceptions", missing.to_str().expect("utf-8")]), &regions)
            .expect_err("no file")
            .to_string();
        assert!(error.contains("cannot be read"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn member_accounts_make_a_central_configuration() {
        let scope = scope(&["--member-role", "NodeRoleGuardMember", "--accounts", "111122223333"]);
        let config = configuration(&scope, &["us-east-1".into()]).expect("valid");
        assert!(config.central.is_some());
    }
}
