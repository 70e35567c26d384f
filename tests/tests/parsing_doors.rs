//! Every `events/doors/` fixture parses to the door its content names, with the fields the
//! decision needs; failed calls and calls that change nothing in effect are ignored with the
//! reason. No emulator needed.

use noderole::event;
use noderole::event::{DoorEvent, MetadataOptions, Trigger};
use noderole_integration::event_file;
use serde_json::json;

fn door(file: &str) -> DoorEvent {
    let parsed = event::parse(&event_file(&format!("doors/{file}"))).unwrap_or_else(|e| panic!("{file}: {e}"));
    match parsed.trigger {
        Trigger::Door(door) => door,
        other => panic!("{file}: {other:?}"),
    }
}

fn ignored(file: &str) -> String {
    let parsed = event::parse(&event_file(&format!("doors/{file}"))).unwrap_or_else(|e| panic!("{file}: {e}"));
    match parsed.trigger {
        Trigger::Ignored { reason } => reason,
        other => panic!("{file} should be ignored: {other:?}"),
    }
}

#[test]
fn each_door_fixture_names_what_it_changed() {
    assert_eq!(
        door("add-role-to-instance-profile.json"),
        DoorEvent::ProfileRoleAdded {
            profile_name: "eks-node-profile".into(),
            role_name: "ci-deployer".into()
        }
    );
    assert_eq!(
        door("associate-iam-instance-profile.json"),
        DoorEvent::ProfileAssociated {
            region: "us-west-2".into(),
            instance_id: Some("i-0aaaa1111bbbb2222c".into()),
            association_id: None,
            profile: "ci-deployer-profile".into(),
        }
    );
    // a replace names the association; the instance is in the response
    assert_eq!(
        door("replace-iam-instance-profile-association.json"),
        DoorEvent::ProfileAssociated {
            region: "us-west-2".into(),
            instance_id: Some("i-0aaaa1111bbbb2222c".into()),
            association_id: Some("iip-assoc-0123456789abcdef0".into()),
            profile: "arn:aws:iam::123456789012:instance-profile/ci-deployer-profile".into(),
        }
    );
    assert_eq!(
        door("create-access-entry-ec2-linux.json"),
        DoorEvent::AccessEntryCreated {
            region: "us-west-2".into(),
            cluster: "prod".into(),
            principal_arn: "arn:aws:iam::123456789012:role/ci-deployer".into(),
            entry_type: "EC2_LINUX".into(),
        }
    );
    let DoorEvent::TrustUpdated { role_name, document } = door("update-assume-role-policy-names-node-role.json") else {
        panic!("trust");
    };
    assert_eq!(role_name, "deploy-admin");
    assert!(
        document.contains("arn:aws:iam::123456789012:role/eks-node-prod"),
        "{document}"
    );
    assert_eq!(
        door("create-policy-version.json"),
        DoorEvent::PolicyVersion {
            policy_arn: "arn:aws:iam::123456789012:policy/node-extras".into(),
            version: None
        }
    );
    assert_eq!(
        door("set-default-policy-version.json"),
        DoorEvent::PolicyVersion {
            policy_arn: "arn:aws:iam::123456789012:policy/node-extras".into(),
            version: Some("v3".into())
        }
    );
    assert_eq!(
        door("put-role-permissions-boundary.json"),
        DoorEvent::BoundaryChanged {
            role_name: "eks-node-prod".into(),
            boundary: Some("arn:aws:iam::aws:policy/PowerUserAccess".into())
        }
    );
    assert_eq!(
        door("delete-role-permissions-boundary.json"),
        DoorEvent::BoundaryChanged {
            role_name: "eks-node-prod".into(),
            boundary: None
        }
    );
    assert_eq!(
        door("modify-instance-metadata-options.json"),
        DoorEvent::InstanceMetadata {
            region: "us-west-2".into(),
            instance_id: "i-0aaaa1111bbbb2222c".into(),
            metadata: MetadataOptions {
                hop_limit: Some(2),
                tokens: Some("optional".into()),
                endpoint: None
            },
        }
    );
    let DoorEvent::LaunchTemplateMetadata {
        template_id,
        version,
        metadata,
        ..
    } = door("create-launch-template-version.json")
    else {
        panic!("launch template");
    };
    assert_eq!(template_id.as_deref(), Some("lt-0abc1234def567890"));
    assert!(version.is_some());
    assert_eq!(metadata.hop_limit, Some(2));
    assert_eq!(metadata.tokens.as_deref(), Some("optional"));
}

#[test]
fn failed_and_ineffective_door_calls_are_ignored_with_the_reason() {
    let reason = ignored("add-role-to-instance-profile-failed.json");
    assert!(reason.contains("failed with LimitExceededException"), "{reason}");

    let mut not_default = event_file("doors/create-policy-version.json");
    not_default["detail"]["requestParameters"]["setAsDefault"] = json!(false);
    let parsed = event::parse(&not_default).expect("envelope");
    let Trigger::Ignored { reason } = parsed.trigger else {
        panic!("{:?}", parsed.trigger);
    };
    assert!(reason.contains("without setAsDefault"), "{reason}");

    // the same event name from another service is not a door
    let mut look_alike = event_file("doors/add-role-to-instance-profile.json");
    look_alike["source"] = json!("aws.ec2");
    let parsed = event::parse(&look_alike).expect("envelope");
    assert!(
        matches!(parsed.trigger, Trigger::Ignored { .. }),
        "{:?}",
        parsed.trigger
    );

    // EC2 may write a number as a string, and a request without its wrapper still reads
    let mut loose = event_file("doors/modify-instance-metadata-options.json");
    loose["detail"]["requestParameters"] =
        json!({"InstanceId": "i-0aaaa1111bbbb2222c", "HttpPutResponseHopLimit": "3"});
    let parsed = event::parse(&loose).expect("envelope");
    let Trigger::Door(DoorEvent::InstanceMetadata { metadata, .. }) = parsed.trigger else {
        panic!("{:?}", parsed.trigger);
    };
    assert_eq!(metadata.hop_limit, Some(3));

    // a replace that names no profile cannot be judged
    let mut no_profile = event_file("doors/replace-iam-instance-profile-association.json");
    no_profile["detail"]["requestParameters"]["ReplaceIamInstanceProfileAssociationRequest"]["IamInstanceProfile"] =
        json!(null);
    let parsed = event::parse(&no_profile).expect("envelope");
    let Trigger::Ignored { reason } = parsed.trigger else {
        panic!("{:?}", parsed.trigger);
    };
    assert!(reason.contains("names no instance profile"), "{reason}");
}

#[test]
fn door_events_that_open_nothing_need_no_call() {
    use noderole::verdict::doors::needless;
    let standard = door("create-access-entry-standard.json");
    assert!(needless(&standard).is_some_and(|r| r.contains("type STANDARD")));
    assert_eq!(needless(&door("create-access-entry-ec2-linux.json")), None);
    assert_eq!(needless(&door("modify-instance-metadata-options.json")), None);
    let closed = DoorEvent::InstanceMetadata {
        region: "us-west-2".into(),
        instance_id: "i-1".into(),
        metadata: MetadataOptions {
            hop_limit: Some(1),
            tokens: Some("required".into()),
            endpoint: None,
        },
    };
    assert!(needless(&closed).is_some_and(|r| r.contains("open nothing")));
    let lambda_only = DoorEvent::TrustUpdated {
        role_name: "builder".into(),
        document: r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#.into(),
    };
    assert!(needless(&lambda_only).is_some());
    assert_eq!(needless(&door("update-assume-role-policy-names-node-role.json")), None);
    assert_eq!(needless(&door("update-assume-role-policy-node-role.json")), None);
}
