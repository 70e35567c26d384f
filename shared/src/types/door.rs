//! Doors into a node's credentials: events that change which role nodes run with, who else may
//! use their credentials, what their role may do without an attach, or how pods reach it; and
//! what the guard found and did about one (docs/doors.md).

use serde::Serialize;

use super::{ActionResult, Severity};

/// Which door an event opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DoorKind {
    /// `iam:AddRoleToInstanceProfile` on a profile nodes run with.
    ProfileRole,
    /// `ec2:AssociateIamInstanceProfile` / `ReplaceIamInstanceProfileAssociation` on a node.
    ProfileAssociation,
    /// `eks:CreateAccessEntry` of a node type.
    NodeAccessEntry,
    /// `iam:UpdateAssumeRolePolicy` on another role: its trust now names a node role.
    TrustNamesNodeRole,
    /// `iam:UpdateAssumeRolePolicy` on a node role: principals beyond the node services.
    NodeRoleTrust,
    /// `iam:CreatePolicyVersion` / `SetDefaultPolicyVersion` of a policy attached to node roles.
    PolicyVersion,
    /// `iam:PutRolePermissionsBoundary` / `DeleteRolePermissionsBoundary` on a node role.
    PermissionsBoundary,
    /// `ec2:ModifyInstanceMetadataOptions` on a node: pods can reach its role through IMDS.
    InstanceMetadata,
    /// `ec2:CreateLaunchTemplateVersion` of a managed node group's launch template, with the
    /// same metadata options.
    LaunchTemplateMetadata,
}

impl DoorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DoorKind::ProfileRole => "profile_role",
            DoorKind::ProfileAssociation => "profile_association",
            DoorKind::NodeAccessEntry => "node_access_entry",
            DoorKind::TrustNamesNodeRole => "trust_names_node_role",
            DoorKind::NodeRoleTrust => "node_role_trust",
            DoorKind::PolicyVersion => "policy_version",
            DoorKind::PermissionsBoundary => "permissions_boundary",
            DoorKind::InstanceMetadata => "instance_metadata",
            DoorKind::LaunchTemplateMetadata => "launch_template_metadata",
        }
    }

    /// For people: what the door is.
    pub fn title(self) -> &'static str {
        match self {
            DoorKind::ProfileRole => "role added to a node instance profile",
            DoorKind::ProfileAssociation => "node instance profile replaced",
            DoorKind::NodeAccessEntry => "node access entry created",
            DoorKind::TrustNamesNodeRole => "another role trusts a node role",
            DoorKind::NodeRoleTrust => "node role trusts more than the node services",
            DoorKind::PolicyVersion => "new default version of a node role's policy",
            DoorKind::PermissionsBoundary => "node role permissions boundary changed",
            DoorKind::InstanceMetadata => "node metadata (IMDS) opened to pods",
            DoorKind::LaunchTemplateMetadata => "node group launch template opens IMDS to pods",
        }
    }
}

/// What an event opened, what the guard found, and what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Door {
    pub kind: DoorKind,
    /// The CloudTrail event name.
    pub event: String,
    pub severity: Severity,
    /// What the event changed: a profile, an instance, a role, a policy or a launch template.
    pub subject: String,
    /// The role whose credentials the door reaches (the edited role of a trust, a node's role):
    /// the resource of its finding; `None` where the judged role's report names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// What the guard found, in one sentence.
    pub finding: String,
    /// The evidence, one item per line (a statement, principals before and after, settings).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// The commands that close the door, in order (empty when the role's checks close it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub close_commands: Vec<String>,
    /// The commands that put it back as found, after the guard closed it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reopen_commands: Vec<String>,
    /// What was done about it when the guard itself may close it: planned (dry-run), done,
    /// failed, or skipped with why; `None` when it is only notified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<ActionResult>,
}

impl Door {
    pub fn new(kind: DoorKind, event: &str, severity: Severity, subject: impl Into<String>) -> Self {
        Door {
            kind,
            event: event.to_owned(),
            severity,
            subject: subject.into(),
            role_arn: None,
            finding: String::new(),
            details: Vec::new(),
            close_commands: Vec::new(),
            reopen_commands: Vec::new(),
            result: None,
        }
    }

    pub fn finding(mut self, finding: impl Into<String>) -> Self {
        self.finding = finding.into();
        self
    }

    pub fn on_role(mut self, role_arn: impl Into<String>) -> Self {
        self.role_arn = Some(role_arn.into());
        self
    }
}
