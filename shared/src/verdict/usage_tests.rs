//! Tests of usage recognition: managed policies by add-on, eksctl flag and install-guide name;
//! eksctl's inline policies by name; other inline policies by their distinctive actions.

use super::*;

fn managed(name: &str) -> String {
    arn::aws_managed_policy_arn("aws", name)
}

#[test]
fn managed_policies_by_add_on_eksctl_flag_and_install_guide_name() {
    let cases: &[(&str, Option<&str>, Option<&str>)] = &[
        // (policy ARN, component, add-on)
        (
            &managed("service-role/AmazonEBSCSIDriverPolicy"),
            Some("Amazon EBS CSI driver"),
            Some("aws-ebs-csi-driver"),
        ),
        (
            &managed("CloudWatchAgentServerPolicy"),
            Some("Amazon CloudWatch Observability (CloudWatch agent)"),
            Some("amazon-cloudwatch-observability"),
        ),
        (
            &managed("AmazonEC2ContainerRegistryPowerUser"),
            Some("image builds on the nodes (push to ECR)"),
            None,
        ),
        (
            "arn:aws:iam::123456789012:policy/AWSLoadBalancerControllerIAMPolicy",
            Some("AWS Load Balancer Controller"),
            None,
        ),
        (&managed("AdministratorAccess"), None, None),
        // a customer policy that borrows an add-on policy's name is not the add-on's
        ("arn:aws:iam::123456789012:policy/AmazonEBSCSIDriverPolicy", None, None),
    ];
    for (arn, component, addon) in cases {
        let found = of_managed("aws", arn);
        assert_eq!(found.as_ref().map(|u| u.component), *component, "{arn}");
        assert_eq!(found.as_ref().and_then(|u| u.addon), *addon, "{arn}");
    }
    let ssm = of_managed("aws", &managed("AmazonSSMManagedInstanceCore")).expect("recognised");
    assert!(ssm.namespace.is_none(), "host agents have no service account to move");
}

#[test]
fn eksctl_inline_policies_are_recognised_by_name() {
    let cases = [
        (
            "eksctl-prod-nodegroup-ng-1-PolicyAutoScaling",
            "Cluster Autoscaler",
            "autoScaler",
        ),
        (
            "eksctl-prod-nodegroup-ng-1-PolicyExternalDNSHostedZones",
            "ExternalDNS",
            "externalDNS",
        ),
        (
            "eksctl-prod-nodegroup-ng-1-PolicyAWSLoadBalancerController",
            "AWS Load Balancer Controller",
            "awsLoadBalancerController",
        ),
        (
            "eksctl-prod-nodegroup-ng-1-PolicyCertManagerGetChange",
            "cert-manager (Route 53 DNS-01 solver)",
            "certManager",
        ),
        ("eksctl-prod-nodegroup-ng-1-PolicyXRay", "AWS X-Ray daemon", "xRay"),
        (
            "eksctl-prod-nodegroup-ng-1-PolicyEFSEC2",
            "Amazon EFS CSI driver",
            "efs",
        ),
        (
            "eksctl-prod-nodegroup-ng-1-PolicyServiceLinkRole",
            "Amazon FSx for Lustre CSI driver",
            "fsx",
        ),
    ];
    for (name, component, flag) in cases {
        let found = of_inline(name, None).unwrap_or_else(|| panic!("{name} recognised"));
        assert_eq!(found.component, component, "{name}");
        assert!(found.evidence.contains(flag), "{}", found.evidence);
    }
    // a name that merely contains the suffix is not eksctl's
    assert!(of_inline("my-PolicyAutoScalingNotes", None).is_none());
}

#[test]
fn inline_policies_are_recognised_by_distinctive_actions() {
    let doc = |actions: &str| {
        format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"*"}}]}}"#)
    };
    let cases = [
        (
            doc(r#"["autoscaling:SetDesiredCapacity","autoscaling:Describe*"]"#),
            Some("Cluster Autoscaler"),
        ),
        (
            doc(r#"["route53:ChangeResourceRecordSets","route53:ListHostedZones"]"#),
            Some("ExternalDNS"),
        ),
        (
            doc(r#"["route53:GetChange","route53:ChangeResourceRecordSets"]"#),
            Some("cert-manager (Route 53 DNS-01 solver)"),
        ),
        (
            doc(r#""elasticloadbalancing:CreateLoadBalancer""#),
            Some("AWS Load Balancer Controller"),
        ),
        (doc(r#""*""#), None),
        (doc(r#"["s3:GetObject"]"#), None),
    ];
    for (document, component) in cases {
        assert_eq!(
            of_inline("debug", Some(&document)).map(|u| u.component),
            component,
            "{document}"
        );
    }
    // a Deny statement says nothing about what uses the policy
    let deny = r#"{"Statement":[{"Effect":"Deny","Action":"autoscaling:SetDesiredCapacity","Resource":"*"}]}"#;
    assert!(of_inline("guardrail", Some(deny)).is_none());
    assert!(of_inline("broken", Some("not json")).is_none());
}
