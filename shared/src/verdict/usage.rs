//! What a node-role policy is probably for: pure recognition by policy name, path and actions.
//!
//! A policy the product can attribute stays a violation (unless an add-on still needs it, see
//! [`crate::discovery::addons`]), but the Report and the notification say what uses it, so a team can
//! move that workload to its own credentials first ([`crate::verdict::migration`]).

use serde_json::Value;

use crate::types::{KnownAddon, Usage, addon, arn};

/// A workload that people run on node-role credentials.
#[derive(Debug, Clone, Copy)]
struct Component {
    name: &'static str,
    namespace: Option<&'static str>,
    service_accounts: &'static [&'static str],
    note: &'static str,
}

const USUAL_INSTALL: &str =
    "namespace and service account of the usual install; change them in the commands if yours differ";

const CLUSTER_AUTOSCALER: Component = Component {
    name: "Cluster Autoscaler",
    namespace: Some("kube-system"),
    service_accounts: &["cluster-autoscaler"],
    note: USUAL_INSTALL,
};
const LOAD_BALANCER_CONTROLLER: Component = Component {
    name: "AWS Load Balancer Controller",
    namespace: Some("kube-system"),
    service_accounts: &["aws-load-balancer-controller"],
    note: USUAL_INSTALL,
};
const EXTERNAL_DNS: Component = Component {
    name: "ExternalDNS",
    namespace: Some("default"),
    service_accounts: &["external-dns"],
    note: USUAL_INSTALL,
};
const CERT_MANAGER: Component = Component {
    name: "cert-manager (Route 53 DNS-01 solver)",
    namespace: Some("cert-manager"),
    service_accounts: &["cert-manager"],
    note: USUAL_INSTALL,
};
const APP_MESH: Component = Component {
    name: "AWS App Mesh controller",
    namespace: Some("appmesh-system"),
    service_accounts: &["appmesh-controller"],
    note: USUAL_INSTALL,
};
const FSX_CSI: Component = Component {
    name: "Amazon FSx for Lustre CSI driver",
    namespace: Some("kube-system"),
    service_accounts: &["fsx-csi-controller-sa"],
    note: USUAL_INSTALL,
};
const XRAY: Component = Component {
    name: "AWS X-Ray daemon",
    namespace: Some("default"),
    service_accounts: &["xray-daemon"],
    note: USUAL_INSTALL,
};
const IMAGE_BUILDS: Component = Component {
    name: "image builds on the nodes (push to ECR)",
    namespace: None,
    service_accounts: &[],
    note: "builds that push images should run with their own credentials (a CI role or a Pod Identity role for the build pods)",
};
const SSM_AGENT: Component = Component {
    name: "AWS Systems Manager agent on the node (Session Manager, patching)",
    namespace: None,
    service_accounts: &[],
    note: "runs on the host, not in a pod: it cannot move to Pod Identity; allowlist the policy (ALLOWED_POLICIES) if the nodes need it",
};

/// An add-on's own component, from the add-on table.
fn addon_component(addon: &KnownAddon) -> Component {
    Component {
        name: addon.component,
        namespace: Some(addon.namespace),
        service_accounts: addon.service_accounts,
        note: "the EKS add-on's own namespace and service accounts",
    }
}

fn usage(component: Component, evidence: String, addon: Option<&'static str>) -> Usage {
    Usage {
        component: component.name,
        evidence,
        namespace: component.namespace,
        service_accounts: component.service_accounts,
        addon,
        note: component.note,
    }
}

/// eksctl's `iam.withAddonPolicies` flags: the inline policies it creates (named
/// `<stack name>-<suffix>`, the stack `eksctl-<cluster>-nodegroup-<nodegroup>`) and the
/// AWS-managed policies it attaches. Source: eksctl `pkg/cfn/builder/iam_helper.go` (`createRole`),
/// `iam.go`, `api.go` (`makeName`); `PolicyEBS` and `PolicyALBIngress` are older versions' names.
struct EksctlFlag {
    flag: &'static str,
    component: Component,
    inline_suffixes: &'static [&'static str],
    managed: &'static [&'static str],
}

const EKSCTL_FLAGS: &[EksctlFlag] = &[
    EksctlFlag {
        flag: "autoScaler",
        component: CLUSTER_AUTOSCALER,
        inline_suffixes: &["PolicyAutoScaling"],
        managed: &[],
    },
    EksctlFlag {
        flag: "externalDNS",
        component: EXTERNAL_DNS,
        inline_suffixes: &["PolicyExternalDNSChangeSet", "PolicyExternalDNSHostedZones"],
        managed: &[],
    },
    EksctlFlag {
        flag: "certManager",
        component: CERT_MANAGER,
        inline_suffixes: &[
            "PolicyCertManagerChangeSet",
            "PolicyCertManagerGetChange",
            "PolicyCertManagerHostedZones",
        ],
        managed: &[],
    },
    EksctlFlag {
        flag: "albIngress / awsLoadBalancerController",
        component: LOAD_BALANCER_CONTROLLER,
        inline_suffixes: &["PolicyAWSLoadBalancerController", "PolicyALBIngress"],
        managed: &[],
    },
    EksctlFlag {
        flag: "appMesh / appMeshPreview",
        component: APP_MESH,
        inline_suffixes: &["PolicyAppMesh", "PolicyAppMeshPreview"],
        managed: &[],
    },
    EksctlFlag {
        flag: "fsx",
        component: FSX_CSI,
        inline_suffixes: &["PolicyFSX", "PolicyServiceLinkRole"],
        managed: &[],
    },
    EksctlFlag {
        flag: "ebs",
        component: EBS_CSI,
        inline_suffixes: &["PolicyEBS"],
        managed: &["service-role/AmazonEBSCSIDriverPolicy"],
    },
    EksctlFlag {
        flag: "efs",
        component: EFS_CSI,
        inline_suffixes: &["PolicyEFS", "PolicyEFSEC2"],
        managed: &[],
    },
    EksctlFlag {
        flag: "xRay",
        component: XRAY,
        inline_suffixes: &["PolicyXRay"],
        managed: &[],
    },
    EksctlFlag {
        flag: "cloudWatch",
        component: CLOUDWATCH_AGENT,
        inline_suffixes: &[],
        managed: &["CloudWatchAgentServerPolicy"],
    },
    EksctlFlag {
        flag: "imageBuilder",
        component: IMAGE_BUILDS,
        inline_suffixes: &[],
        managed: &["AmazonEC2ContainerRegistryPowerUser"],
    },
];

const EBS_CSI: Component = Component {
    name: "Amazon EBS CSI driver",
    namespace: Some("kube-system"),
    service_accounts: &["ebs-csi-controller-sa"],
    note: "the EKS add-on's own namespace and service accounts",
};
const EFS_CSI: Component = Component {
    name: "Amazon EFS CSI driver",
    namespace: Some("kube-system"),
    service_accounts: &["efs-csi-controller-sa", "efs-csi-node-sa"],
    note: "the EKS add-on's own namespace and service accounts",
};
const CLOUDWATCH_AGENT: Component = Component {
    name: "Amazon CloudWatch Observability (CloudWatch agent)",
    namespace: Some("amazon-cloudwatch"),
    service_accounts: &["cloudwatch-agent"],
    note: "the EKS add-on's own namespace and service accounts",
};

/// Well-known customer-managed policy names from the controllers' install guides.
const CUSTOMER_POLICY_NAMES: &[(&str, Component)] = &[
    ("AWSLoadBalancerControllerIAMPolicy", LOAD_BALANCER_CONTROLLER),
    ("AmazonEKSClusterAutoscalerPolicy", CLUSTER_AUTOSCALER),
    ("AllowExternalDNSUpdates", EXTERNAL_DNS),
    ("AmazonEKS_EBS_CSI_Driver_Policy", EBS_CSI),
    ("AmazonEKS_EFS_CSI_Driver_Policy", EFS_CSI),
];

/// Distinctive actions: a policy that grants any of them is probably for the component.
/// Checked in order (cert-manager's `route53:GetChange` before ExternalDNS's record writes).
const ACTIONS: &[(&[&str], Component)] = &[
    (
        &[
            "autoscaling:SetDesiredCapacity",
            "autoscaling:TerminateInstanceInAutoScalingGroup",
        ],
        CLUSTER_AUTOSCALER,
    ),
    (
        &[
            "elasticloadbalancing:CreateLoadBalancer",
            "elasticloadbalancing:CreateTargetGroup",
            "elasticloadbalancing:RegisterTargets",
        ],
        LOAD_BALANCER_CONTROLLER,
    ),
    (&["route53:GetChange"], CERT_MANAGER),
    (&["route53:ChangeResourceRecordSets"], EXTERNAL_DNS),
    (&["ec2:CreateVolume", "ec2:AttachVolume"], EBS_CSI),
    (&["elasticfilesystem:CreateAccessPoint"], EFS_CSI),
    (&["fsx:CreateFileSystem"], FSX_CSI),
    (&["appmesh:CreateMesh", "servicediscovery:CreateService"], APP_MESH),
    (&["xray:PutTraceSegments"], XRAY),
    (&["cloudwatch:PutMetricData", "logs:PutLogEvents"], CLOUDWATCH_AGENT),
];

/// What an attached managed policy is probably for.
pub fn of_managed(partition: &str, policy_arn: &str) -> Option<Usage> {
    if let Some(addon) = addon::by_policy_arn(partition, policy_arn) {
        let flag = eksctl_flag_attaching(partition, policy_arn)
            .map(|f| format!("; eksctl `iam.withAddonPolicies.{}` attaches it too", f.flag))
            .unwrap_or_default();
        let evidence = format!("the AWS-managed policy of the EKS add-on {}{flag}", addon.name);
        return Some(usage(addon_component(addon), evidence, Some(addon.name)));
    }
    if let Some(flag) = eksctl_flag_attaching(partition, policy_arn) {
        let evidence = format!("eksctl `iam.withAddonPolicies.{}` attaches this policy", flag.flag);
        return Some(usage(flag.component, evidence, None));
    }
    if policy_arn == arn::aws_managed_policy_arn(partition, "AmazonSSMManagedInstanceCore") {
        return Some(usage(
            SSM_AGENT,
            "the AWS-managed policy of the SSM agent".to_owned(),
            None,
        ));
    }
    let name = arn::policy_name_from_arn(policy_arn);
    CUSTOMER_POLICY_NAMES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(known, component)| {
            let evidence = format!("policy named {known}, as in the {} install guide", component.name);
            usage(*component, evidence, None)
        })
}

fn eksctl_flag_attaching(partition: &str, policy_arn: &str) -> Option<&'static EksctlFlag> {
    EKSCTL_FLAGS.iter().find(|f| {
        f.managed
            .iter()
            .any(|m| policy_arn == arn::aws_managed_policy_arn(partition, m))
    })
}

/// What an inline policy is probably for: eksctl's policy names first, then its actions.
pub fn of_inline(policy_name: &str, document: Option<&str>) -> Option<Usage> {
    let by_name = EKSCTL_FLAGS.iter().find_map(|flag| {
        flag.inline_suffixes
            .iter()
            .find(|suffix| policy_name == **suffix || policy_name.ends_with(&format!("-{suffix}")))
            .map(|suffix| (flag, suffix))
    });
    if let Some((flag, suffix)) = by_name {
        let evidence = format!(
            "eksctl `iam.withAddonPolicies.{}` creates the inline policy <stack>-{suffix}",
            flag.flag
        );
        return Some(usage(flag.component, evidence, None));
    }
    let actions = allowed_actions(document?);
    ACTIONS.iter().find_map(|(distinctive, component)| {
        let granted: Vec<&str> = distinctive
            .iter()
            .copied()
            .filter(|a| actions.iter().any(|g| g.eq_ignore_ascii_case(a)))
            .collect();
        (!granted.is_empty()).then(|| usage(*component, format!("grants {}", granted.join(", ")), None))
    })
}

/// The actions a policy document allows, as written (wildcards are not expanded: `"*"` says
/// nothing about what uses it).
fn allowed_actions(document: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<Value>(document) else {
        return Vec::new();
    };
    crate::verdict::policy::allow_statements(&doc)
        .into_iter()
        .flat_map(|s| crate::verdict::policy::strings(s.get("Action")))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
