//! The request parameters of the door events (docs/doors.md): IAM records flat fields; newer EC2
//! APIs wrap them in `<Operation>Request` (and the response in `<Operation>Response`), and may
//! write numbers as strings. Each parser answers a [`DoorEvent`] or why the record is unusable.

use serde::Deserialize;
use serde_json::Value;

use crate::types::arn;

/// A door event, reduced to what deciding it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoorEvent {
    /// `iam:AddRoleToInstanceProfile`.
    ProfileRoleAdded { profile_name: String, role_name: String },
    /// `ec2:AssociateIamInstanceProfile` / `ReplaceIamInstanceProfileAssociation`: the profile
    /// (name or ARN) an instance runs with now.
    ProfileAssociated {
        region: String,
        instance_id: Option<String>,
        association_id: Option<String>,
        profile: String,
    },
    /// `eks:CreateAccessEntry`.
    AccessEntryCreated {
        region: String,
        cluster: String,
        principal_arn: String,
        entry_type: String,
    },
    /// `iam:UpdateAssumeRolePolicy`: the new trust document as the caller sent it.
    TrustUpdated { role_name: String, document: String },
    /// `iam:CreatePolicyVersion` (as default) / `SetDefaultPolicyVersion`.
    PolicyVersion {
        policy_arn: String,
        version: Option<String>,
    },
    /// `iam:PutRolePermissionsBoundary` (the new boundary) / `DeleteRolePermissionsBoundary`.
    BoundaryChanged {
        role_name: String,
        boundary: Option<String>,
    },
    /// `ec2:ModifyInstanceMetadataOptions`: the settings the call asked for.
    InstanceMetadata {
        region: String,
        instance_id: String,
        metadata: MetadataOptions,
    },
    /// `ec2:CreateLaunchTemplateVersion`: the new version's metadata options.
    LaunchTemplateMetadata {
        region: String,
        template_id: Option<String>,
        template_name: Option<String>,
        version: Option<i64>,
        metadata: MetadataOptions,
    },
}

/// Instance metadata settings a call asked for; `None` where it left one unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataOptions {
    pub hop_limit: Option<i64>,
    /// `required` or `optional`.
    pub tokens: Option<String>,
    /// `enabled` or `disabled`.
    pub endpoint: Option<String>,
}

/// The services whose door events are handled, by event name.
pub fn source_of(event_name: &str) -> Option<(&'static str, &'static str)> {
    match event_name {
        "AddRoleToInstanceProfile"
        | "UpdateAssumeRolePolicy"
        | "CreatePolicyVersion"
        | "SetDefaultPolicyVersion"
        | "PutRolePermissionsBoundary"
        | "DeleteRolePermissionsBoundary" => Some(("aws.iam", "iam.amazonaws.com")),
        "AssociateIamInstanceProfile"
        | "ReplaceIamInstanceProfileAssociation"
        | "ModifyInstanceMetadataOptions"
        | "CreateLaunchTemplateVersion" => Some(("aws.ec2", "ec2.amazonaws.com")),
        "CreateAccessEntry" => Some(("aws.eks", "eks.amazonaws.com")),
        _ => None,
    }
}

/// What a door event asks for, or why it asks nothing (`Err`: the reason it is ignored).
pub fn parse(
    event_name: &str,
    params: Value,
    response: Option<&Value>,
    region: Option<&str>,
) -> Result<DoorEvent, String> {
    let unusable = |e: serde_json::Error| format!("{event_name} requestParameters unusable: {e}");
    let regional = || {
        region
            .map(str::to_owned)
            .ok_or(format!("{event_name} without a region"))
    };
    match event_name {
        "AddRoleToInstanceProfile" => {
            let p: ProfileRoleParams = serde_json::from_value(params).map_err(unusable)?;
            Ok(DoorEvent::ProfileRoleAdded {
                profile_name: arn::profile_name_from_arn(&p.instance_profile_name).to_owned(),
                role_name: arn::role_name_from_arn(&p.role_name).unwrap_or(&p.role_name).to_owned(),
            })
        }
        "AssociateIamInstanceProfile" | "ReplaceIamInstanceProfileAssociation" => {
            let request = unwrap(&params, &format!("{event_name}Request"));
            let p: AssociationParams = serde_json::from_value(request.clone()).map_err(unusable)?;
            let profile = p
                .iam_instance_profile
                .and_then(|profile| profile.arn.or(profile.name))
                .ok_or(format!("{event_name} names no instance profile"))?;
            let instance_id = p.instance_id.or_else(|| {
                let response = unwrap(response?, &format!("{event_name}Response"));
                let id = response.pointer("/iamInstanceProfileAssociation/instanceId")?;
                id.as_str().map(str::to_owned)
            });
            if instance_id.is_none() && p.association_id.is_none() {
                return Err(format!("{event_name} names neither an instance nor an association"));
            }
            Ok(DoorEvent::ProfileAssociated {
                region: regional()?,
                instance_id,
                association_id: p.association_id,
                profile,
            })
        }
        "CreateAccessEntry" => {
            let p: AccessEntryParams = serde_json::from_value(params).map_err(unusable)?;
            let entry_type = p
                .kind
                .or_else(|| {
                    let found = response?.pointer("/accessEntry/type")?;
                    found.as_str().map(str::to_owned)
                })
                .unwrap_or_else(|| "STANDARD".to_owned());
            Ok(DoorEvent::AccessEntryCreated {
                region: regional()?,
                cluster: p.cluster_name,
                principal_arn: p.principal_arn,
                entry_type,
            })
        }
        "UpdateAssumeRolePolicy" => {
            let p: TrustParams = serde_json::from_value(params).map_err(unusable)?;
            Ok(DoorEvent::TrustUpdated {
                role_name: arn::role_name_from_arn(&p.role_name).unwrap_or(&p.role_name).to_owned(),
                document: p.policy_document,
            })
        }
        "CreatePolicyVersion" => {
            let p: PolicyVersionParams = serde_json::from_value(params).map_err(unusable)?;
            if !p.set_as_default.as_ref().is_some_and(truthy) {
                return Err(format!(
                    "CreatePolicyVersion of {} without setAsDefault: the version in effect is unchanged",
                    p.policy_arn
                ));
            }
            Ok(DoorEvent::PolicyVersion {
                policy_arn: p.policy_arn,
                version: None,
            })
        }
        "SetDefaultPolicyVersion" => {
            let p: PolicyVersionParams = serde_json::from_value(params).map_err(unusable)?;
            Ok(DoorEvent::PolicyVersion {
                policy_arn: p.policy_arn,
                version: Some(p.version_id.unwrap_or_default()),
            })
        }
        "PutRolePermissionsBoundary" | "DeleteRolePermissionsBoundary" => {
            let p: BoundaryParams = serde_json::from_value(params).map_err(unusable)?;
            let boundary = match (event_name, p.permissions_boundary) {
                ("PutRolePermissionsBoundary", Some(b)) => Some(b),
                ("PutRolePermissionsBoundary", None) => {
                    return Err("PutRolePermissionsBoundary names no permissionsBoundary".to_owned());
                }
                _ => None,
            };
            Ok(DoorEvent::BoundaryChanged {
                role_name: arn::role_name_from_arn(&p.role_name).unwrap_or(&p.role_name).to_owned(),
                boundary,
            })
        }
        "ModifyInstanceMetadataOptions" => {
            let request = unwrap(&params, "ModifyInstanceMetadataOptionsRequest");
            let instance_id = field(request, "InstanceId")
                .and_then(Value::as_str)
                .ok_or("ModifyInstanceMetadataOptions names no InstanceId")?
                .to_owned();
            Ok(DoorEvent::InstanceMetadata {
                region: regional()?,
                instance_id,
                metadata: metadata(Some(request)),
            })
        }
        "CreateLaunchTemplateVersion" => {
            let request = unwrap(&params, "CreateLaunchTemplateVersionRequest");
            let created = response
                .map(|r| unwrap(r, "CreateLaunchTemplateVersionResponse"))
                .and_then(|r| r.get("launchTemplateVersion"));
            let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
            let template_id = text(field(request, "LaunchTemplateId"))
                .or_else(|| text(created.and_then(|c| c.get("launchTemplateId"))));
            let template_name = text(field(request, "LaunchTemplateName"))
                .or_else(|| text(created.and_then(|c| c.get("launchTemplateName"))));
            if template_id.is_none() && template_name.is_none() {
                return Err("CreateLaunchTemplateVersion names no launch template".to_owned());
            }
            let data = field(request, "LaunchTemplateData");
            Ok(DoorEvent::LaunchTemplateMetadata {
                region: regional()?,
                template_id,
                template_name,
                version: created.and_then(|c| c.get("versionNumber")).and_then(number),
                metadata: metadata(data.and_then(|d| field(d, "MetadataOptions"))),
            })
        }
        other => Err(format!("event {other} is not a door")),
    }
}

/// `{"<Operation>Request": {...}}` or the fields themselves.
fn unwrap<'a>(value: &'a Value, wrapper: &str) -> &'a Value {
    value.get(wrapper).unwrap_or(value)
}

/// A field by its API name, or by the camelCase name some records use.
fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value.get(name).or_else(|| {
        let mut chars = name.chars();
        let first = chars.next()?.to_ascii_lowercase();
        value.get(format!("{first}{}", chars.as_str()))
    })
}

fn metadata(options: Option<&Value>) -> MetadataOptions {
    let Some(options) = options else {
        return MetadataOptions::default();
    };
    let text = |name: &str| {
        field(options, name)
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    MetadataOptions {
        hop_limit: field(options, "HttpPutResponseHopLimit").and_then(number),
        tokens: text("HttpTokens"),
        endpoint: text("HttpEndpoint"),
    }
}

/// A number, or a string holding one.
fn number(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_str()?.trim().parse().ok())
}

/// `true`, or `"true"`.
fn truthy(value: &Value) -> bool {
    value.as_bool().unwrap_or_else(|| value.as_str() == Some("true"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileRoleParams {
    instance_profile_name: String,
    role_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssociationParams {
    #[serde(default, alias = "instanceId")]
    instance_id: Option<String>,
    #[serde(default, alias = "associationId")]
    association_id: Option<String>,
    #[serde(default, alias = "iamInstanceProfile")]
    iam_instance_profile: Option<ProfileSpec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProfileSpec {
    #[serde(default, alias = "arn")]
    arn: Option<String>,
    #[serde(default, alias = "name")]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessEntryParams {
    /// The cluster (`name` in the API's path; some records say `clusterName`).
    #[serde(alias = "name")]
    cluster_name: String,
    principal_arn: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrustParams {
    role_name: String,
    policy_document: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyVersionParams {
    policy_arn: String,
    #[serde(default)]
    set_as_default: Option<Value>,
    #[serde(default)]
    version_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BoundaryParams {
    role_name: String,
    #[serde(default)]
    permissions_boundary: Option<String>,
}
