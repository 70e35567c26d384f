//! The command line: subcommands, the scope every command shares, and the output formats.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "eks-node-role-guard",
    version,
    about = "Read-only audit of EKS node IAM roles"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check every node role: what enforce would remove, what it would keep, and why.
    Audit(AuditArgs),
    /// Why one role is or is not treated as a node role, and the verdict on each policy.
    Explain(ExplainArgs),
}

#[derive(Args)]
pub struct Scope {
    /// Regions searched for clusters, comma-separated (default: the profile's region).
    #[arg(long, value_delimiter = ',', conflicts_with = "all_regions")]
    pub regions: Vec<String>,
    /// Every region of the partition where EKS runs (regions not enabled are warnings).
    #[arg(long)]
    pub all_regions: bool,
    /// AWS-managed policies a node role may keep (as ALLOWED_POLICIES; default: the allowlist).
    #[arg(long, value_delimiter = ',')]
    pub allowed_policies: Vec<String>,
    /// Role names or ARNs never touched (as EXEMPT_ROLES).
    #[arg(long, value_delimiter = ',')]
    pub exempt_roles: Vec<String>,
    /// A JSON file of exceptions: one policy kept on one role until a date (as EXCEPTIONS).
    #[arg(long, value_name = "FILE")]
    pub exceptions: Option<PathBuf>,
    /// `keep`, `keep-if-needed` or `deny` for AmazonEKS_CNI_Policy (as CNI_POLICY).
    #[arg(long, default_value = "keep-if-needed")]
    pub cni_policy: String,
    /// `keep`, `keep-if-needed` or `deny` for the other known add-ons' policies (as ADDON_POLICIES).
    #[arg(long, default_value = "keep-if-needed")]
    pub addon_policies: String,
    /// Named profile from the AWS config files (SSO and credential_process profiles included).
    #[arg(long)]
    pub profile: Option<String>,
    /// A role to assume in each member account: audits many accounts the same way.
    #[arg(long, requires = "accounts")]
    pub member_role: Option<String>,
    /// With --member-role: `organization` (every ACTIVE account) or account ids, comma-separated.
    #[arg(long, requires = "member_role")]
    pub accounts: Option<String>,
}

#[derive(Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub scope: Scope,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Exit 1 when a violation is found, 0 when clean. Always 2 on an error, a node role that
    /// could not be checked or an account that could not be entered.
    #[arg(long)]
    pub exit_code: bool,
}

#[derive(Args)]
pub struct ExplainArgs {
    /// The role's name.
    pub role: String,
    /// The account the role is in, with --member-role (default: the caller's).
    #[arg(long)]
    pub account: Option<String>,
    #[command(flatten)]
    pub scope: Scope,
    /// `table` for people, `json` for the explanation as data.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Markdown,
    Html,
    Asff,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn the_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn lists_split_on_commas_and_formats_default_to_the_table() {
        let cli = Cli::try_parse_from([
            "eks-node-role-guard",
            "audit",
            "--regions",
            "us-east-1,us-west-2",
            "--exempt-roles",
            "a,b",
        ])
        .expect("parses");
        let Command::Audit(args) = cli.command else {
            panic!("not the audit")
        };
        assert_eq!(args.scope.regions, ["us-east-1", "us-west-2"]);
        assert_eq!(args.scope.exempt_roles, ["a", "b"]);
        assert!(args.format == Format::Table);
        assert!(!args.exit_code);
        assert_eq!(args.scope.cni_policy, "keep-if-needed");
    }

    #[test]
    fn regions_and_all_regions_exclude_each_other() {
        let both = Cli::try_parse_from([
            "eks-node-role-guard",
            "audit",
            "--regions",
            "us-east-1",
            "--all-regions",
        ]);
        assert!(both.is_err());
    }

    #[test]
    fn member_role_and_accounts_come_together() {
        let alone = Cli::try_parse_from(["eks-node-role-guard", "audit", "--member-role", "Guard"]);
        assert!(alone.is_err());
        let together = Cli::try_parse_from([
            "eks-node-role-guard",
            "explain",
            "eks-node-prod",
            "--member-role",
            "Guard",
            "--accounts",
            "organization",
        ]);
        assert!(together.is_ok());
    }
}
