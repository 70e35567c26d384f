//! Seeding and inspecting an emulated account through the real SDK clients: roles, policies,
//! clusters and node groups.

use anyhow::{Context, Result, bail};
use aws_config::{Region, SdkConfig};
use aws_sdk_iam::config::Credentials;

use crate::emulator::{Moto, REGION, sdk_for, unique};

pub const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
pub const ACCOUNT_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
pub const EKS_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

pub fn aws_managed(name: &str) -> String {
    format!("arn:aws:iam::aws:policy/{name}")
}

/// Seeds and inspects the emulated account through the real SDK clients.
pub struct Account {
    pub sdk: SdkConfig,
    pub iam: aws_sdk_iam::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Account {
    pub async fn new(moto: &Moto) -> Account {
        let sdk = moto.sdk().await;
        Account {
            iam: aws_sdk_iam::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            sdk,
        }
    }

    /// The emulated account as seen through `endpoint` (a proxy in front of the emulator).
    pub async fn at(endpoint: &str) -> Account {
        let sdk = sdk_for(endpoint).await;
        Account {
            iam: aws_sdk_iam::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            sdk,
        }
    }

    /// Another account of the same emulator. moto maps the credentials `AssumeRole` returns for
    /// a role in `account_id` onto that account's backends (the role need not exist).
    pub async fn in_account(moto: &Moto, account_id: &str) -> Account {
        let central = moto.sdk().await;
        let credentials = aws_sdk_sts::Client::new(&central)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account_id}:role/test-seeder"))
            .role_session_name("seed")
            .send()
            .await
            .expect("AssumeRole into the member account")
            .credentials
            .expect("credentials");
        let sdk = noderole::aws::sdk_config_loader()
            .endpoint_url(&moto.endpoint)
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(
                credentials.access_key_id,
                credentials.secret_access_key,
                Some(credentials.session_token),
                None,
                "member",
            ))
            .load()
            .await;
        Account {
            iam: aws_sdk_iam::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            sdk,
        }
    }

    pub fn eks(&self, region: &str) -> aws_sdk_eks::Client {
        aws_sdk_eks::Client::from_conf(
            aws_sdk_eks::config::Builder::from(&self.sdk)
                .region(Region::new(region.to_owned()))
                .build(),
        )
    }

    /// Creates a role (under `path`) and returns its ARN.
    pub async fn role(&self, name: &str, path: &str, trust: &str, managed: &[&str]) -> Result<String> {
        let out = self
            .iam
            .create_role()
            .role_name(name)
            .path(path)
            .assume_role_policy_document(trust)
            .send()
            .await?;
        for policy in managed {
            self.attach(name, &aws_managed(policy)).await?;
        }
        Ok(out.role.map(|r| r.arn).unwrap_or_default())
    }

    /// A node role with the worker, ECR and CNI policies, plus `extra` AWS-managed policies.
    pub async fn node_role(&self, name: &str, extra: &[&str]) -> Result<String> {
        let mut managed = vec![
            "AmazonEKSWorkerNodePolicy",
            "AmazonEC2ContainerRegistryReadOnly",
            "AmazonEKS_CNI_Policy",
        ];
        managed.extend_from_slice(extra);
        self.role(name, "/eks/nodes/", EC2_TRUST, &managed).await
    }

    pub async fn attach(&self, role: &str, policy_arn: &str) -> Result<()> {
        self.iam
            .attach_role_policy()
            .role_name(role)
            .policy_arn(policy_arn)
            .send()
            .await?;
        Ok(())
    }

    pub async fn put_inline(&self, role: &str, policy: &str, document: &str) -> Result<()> {
        self.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(policy)
            .policy_document(document)
            .send()
            .await?;
        Ok(())
    }

    /// A customer-managed policy under `path`; returns its ARN.
    pub async fn customer_policy(&self, name: &str, path: &str, document: &str) -> Result<String> {
        let out = self
            .iam
            .create_policy()
            .policy_name(name)
            .path(path)
            .policy_document(document)
            .send()
            .await?;
        out.policy.and_then(|p| p.arn).context("policy arn")
    }

    /// Runs an `aws iam ...` command the product printed (restore, undo, migration) as the CLI
    /// would: words split by POSIX shell rules, the same request made through the SDK.
    pub async fn run_iam_command(&self, command: &str) -> Result<()> {
        let words = shell_words::split(command).with_context(|| format!("not shell-quoted: {command}"))?;
        let flag = |name: &str| -> Result<String> {
            let at = words
                .iter()
                .position(|w| w == name)
                .with_context(|| format!("{name} in {command}"))?;
            words
                .get(at + 1)
                .cloned()
                .with_context(|| format!("value of {name} in {command}"))
        };
        match words.iter().take(3).map(String::as_str).collect::<Vec<_>>()[..] {
            ["aws", "iam", "create-role"] => {
                self.iam
                    .create_role()
                    .role_name(flag("--role-name")?)
                    .assume_role_policy_document(flag("--assume-role-policy-document")?)
                    .send()
                    .await?;
            }
            ["aws", "iam", "attach-role-policy"] => self.attach(&flag("--role-name")?, &flag("--policy-arn")?).await?,
            ["aws", "iam", "put-role-policy"] => {
                self.put_inline(
                    &flag("--role-name")?,
                    &flag("--policy-name")?,
                    &flag("--policy-document")?,
                )
                .await?
            }
            _ => bail!("not an IAM command the tests replay: {command}"),
        }
        Ok(())
    }

    /// Attached managed policy ARNs, sorted.
    pub async fn attached(&self, role: &str) -> Result<Vec<String>> {
        let out = self.iam.list_attached_role_policies().role_name(role).send().await?;
        let mut arns: Vec<String> = out
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn.clone())
            .collect();
        arns.sort();
        Ok(arns)
    }

    /// Inline policy names, sorted.
    pub async fn inline(&self, role: &str) -> Result<Vec<String>> {
        let out = self.iam.list_role_policies().role_name(role).send().await?;
        let mut names = out.policy_names().to_vec();
        names.sort();
        Ok(names)
    }

    /// A cluster (with a service role) and managed node groups using `node_role_arn`.
    pub async fn cluster(&self, region: &str, cluster: &str, nodegroups: &[(&str, &str)]) -> Result<()> {
        static CLUSTER_ROLE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
        let cluster_role = CLUSTER_ROLE
            .get_or_try_init(|| async {
                let name = unique("eks-cluster-role");
                self.role(&name, "/", EKS_TRUST, &["AmazonEKSClusterPolicy"]).await
            })
            .await?;
        let eks = self.eks(region);
        eks.create_cluster()
            .name(cluster)
            .role_arn(cluster_role)
            .resources_vpc_config(
                aws_sdk_eks::types::VpcConfigRequest::builder()
                    .subnet_ids("subnet-0a1b2c3d4e5f60001")
                    .subnet_ids("subnet-0a1b2c3d4e5f60002")
                    .build(),
            )
            .send()
            .await?;
        for (nodegroup, role_arn) in nodegroups {
            self.nodegroup(region, cluster, nodegroup, role_arn).await?;
        }
        Ok(())
    }

    pub async fn nodegroup(&self, region: &str, cluster: &str, nodegroup: &str, role_arn: &str) -> Result<()> {
        self.eks(region)
            .create_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(nodegroup)
            .node_role(role_arn)
            .subnets("subnet-0a1b2c3d4e5f60001")
            .send()
            .await?;
        Ok(())
    }
}
