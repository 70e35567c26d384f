//! Which regions `--all-regions` means, and which region names are known.
//!
//! The list is the partition's regions where Amazon EKS runs, kept with the tool rather than
//! asked of EC2 (`DescribeRegions`): that would add the EC2 SDK, one of the largest, for one
//! call, and an `ec2:DescribeRegions` permission to every audit. Regions the account has not
//! enabled answer with an authorization error, which the audit reports as a warning and goes
//! on.

use anyhow::{Result, bail};

/// Commercial partition (`aws`) regions with EKS.
const AWS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
];
const AWS_US_GOV: &[&str] = &["us-gov-east-1", "us-gov-west-1"];
const AWS_CN: &[&str] = &["cn-north-1", "cn-northwest-1"];

/// The EKS regions of the partition `home` (the profile's region) belongs to.
pub fn of_partition(home: Option<&str>) -> Vec<String> {
    let list = match home {
        Some(region) if region.starts_with("us-gov-") => AWS_US_GOV,
        Some(region) if region.starts_with("cn-") => AWS_CN,
        _ => AWS,
    };
    list.iter().map(|r| (*r).to_owned()).collect()
}

/// Every region must be one this tool knows: a typo would otherwise cost minutes of retries
/// against a host that does not exist.
pub fn check(regions: &[String]) -> Result<()> {
    let known = |r: &str| AWS.contains(&r) || AWS_US_GOV.contains(&r) || AWS_CN.contains(&r);
    if let Some(unknown) = regions.iter().find(|r| !known(r)) {
        bail!("unknown region {unknown:?}: expected region codes such as us-east-1 or eu-west-1");
    }
    if regions.is_empty() {
        bail!("no region given");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_regions_follow_the_profiles_partition_and_typos_are_refused() {
        assert!(of_partition(Some("eu-west-1")).contains(&"us-east-1".to_owned()));
        assert_eq!(
            of_partition(Some("us-gov-west-1")),
            vec!["us-gov-east-1", "us-gov-west-1"]
        );
        assert!(check(&["eu-west-1".to_owned(), "us-gov-west-1".to_owned()]).is_ok());
        let err = check(&["us-eest-1".to_owned()]).expect_err("a typo");
        assert!(err.to_string().contains("us-eest-1"), "{err}");
    }
}
