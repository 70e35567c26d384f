"""The fewest AWS calls each case needs, computed from the seeded account read back (not
hard-coded), so `made / minimum` says how close the function comes."""

import math

from .base import AWS_POLICY, NODE_ROLE, NODEGROUP_ROLE

CNI_NAME = "AmazonEKS_CNI_Policy"
# The function's default allowlist; AmazonEKS_CNI_Policy is kept too (CNI_POLICY=keep-if-needed:
# the emulator lacks the add-on API, so the need is unknown and the policy stays).
ALLOWED = {
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKSWorkerNodeMinimalPolicy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonEC2ContainerRegistryPullOnly",
    CNI_NAME,
}
EKS_PAGE = 100  # ListClusters / ListNodegroups / ListAccessEntries page size the SDK paginator gets
EC2_PAGE = 1000  # DescribeInstances / DescribeIamInstanceProfileAssociations: MaxResults 1000
PROFILE_PAGE = 1000  # ListInstanceProfiles: MaxItems 1000
FOR_ROLE_PAGE = 100  # ListInstanceProfilesForRole: IAM's default MaxItems
# the tags whose value names a node's cluster, most specific first, then kubernetes.io/cluster/<name>
CLUSTER_TAGS = (
    "eks:cluster-name",
    "eks:eks-cluster-name",
    "alpha.eksctl.io/cluster-name",
    "eksctl.cluster.k8s.io/v1alpha1/cluster-name",
)


def violations(policies):
    """Managed policies outside the default allowlist (AWS-managed ARNs only) plus every inline."""
    bad = [a for a in policies["attached"] if not (a.startswith(AWS_POLICY) and a[len(AWS_POLICY) :] in ALLOWED)]
    return bad + [f"inline:{p}" for p in policies["inline"]]


def pages(n, size=EKS_PAGE):
    return max(1, math.ceil(n / size))


def add(calls, more):
    for op, n in more.items():
        calls[op] = calls.get(op, 0) + n
    return calls


def role_name(arn):
    return arn.rsplit("/", 1)[-1]


def cluster_of(tags, clusters):
    """The cluster an instance is a node of: the first tag naming a cluster that exists there."""
    named = [tags[t] for t in CLUSTER_TAGS if t in tags]
    named += [k[len("kubernetes.io/cluster/") :] for k in tags if k.startswith("kubernetes.io/cluster/")]
    return next((name for name in named if name in clusters), None)


class Minimums:
    """Fewest AWS calls each case needs, from the seeded account (not hard-coded)."""

    def __init__(self, inv, regions):
        self.inv = inv
        n_clusters = sum(len(c) for c in inv["clusters"].values())
        per_cluster_ngs = {}
        for region, cluster, _ng, _arn in inv["nodegroups"]:
            per_cluster_ngs[(region, cluster)] = per_cluster_ngs.get((region, cluster), 0) + 1
        list_ngs = sum(pages(per_cluster_ngs.get((r, c), 0)) for r, names in inv["clusters"].items() for c in names)
        self.discovery = {
            "eks:ListClusters": sum(pages(len(inv["clusters"][r])) for r in regions),
            "eks:ListNodegroups": list_ngs,
            "eks:DescribeNodegroup": len(inv["nodegroups"]),
            # the emulator lacks access entries: one failing call per cluster, no DescribeAccessEntry
            "eks:ListAccessEntries": n_clusters,
            # the instances of each region with a cluster, with their current profile associations
            "ec2:DescribeInstances": sum(
                pages(len(inv["instances"][r]), EC2_PAGE) for r in regions if inv["clusters"][r]
            ),
            "ec2:DescribeIamInstanceProfileAssociations": sum(
                pages(inv["associations"][r], EC2_PAGE) for r in regions if inv["clusters"][r]
            ),
            # IAM is global: the account's profiles once per scan
            "iam:ListInstanceProfiles": pages(len(inv["profiles"]), PROFILE_PAGE),
        }
        self.discovery = {op: n for op, n in self.discovery.items() if n}
        self.regions = regions
        self.counts = {
            "regions": len(regions),
            "clusters": n_clusters,
            "nodegroups": len(inv["nodegroups"]),
            "node_roles": len(inv["roles"]),
            "instances": sum(len(i) for i in inv["instances"].values()),
            "instance_profiles": len(inv["profiles"]),
        }

    def role(self, name):
        for entry in self.inv["roles"].values():
            if entry["name"] == name:
                return entry
        return None

    @staticmethod
    def cni_calls(entry, clusters=None):
        """CNI_POLICY=keep-if-needed checks each cluster the role serves when the role has the CNI
        policy: DescribeAddon vpc-cni (the emulator answers 404, so the check ends there and the
        policy is kept; in AWS an add-on without IRSA adds ListPodIdentityAssociations)."""
        if not any(a == AWS_POLICY + CNI_NAME for a in entry["attached"]):
            return 0
        return len(entry["clusters"] if clusters is None else clusters)

    def role_check(self, name, policies, mode, get_role=True):
        """GetRole + ListAttachedRolePolicies + ListRolePolicies + GetRolePolicy per inline, then
        per violation a detach/delete (enforce only), then one Publish if anything was found."""
        calls = {}
        if get_role:
            calls["iam:GetRole"] = 1
        calls["iam:ListAttachedRolePolicies"] = 1
        calls["iam:ListRolePolicies"] = 1
        if policies["inline"]:
            calls["iam:GetRolePolicy"] = len(policies["inline"])
        bad = violations(policies)
        if mode == "enforce":
            managed = [b for b in bad if not b.startswith("inline:")]
            if managed:
                calls["iam:DetachRolePolicy"] = len(managed)
            if len(bad) > len(managed):
                calls["iam:DeleteRolePolicy"] = len(bad) - len(managed)
        if bad:
            calls["sns:Publish"] = 1
        return calls

    def unrelated(self):
        return {"iam:GetRole": 1}

    def door_profile_unused(self):
        """AddRoleToInstanceProfile on a profile no instance runs with: the profile associations of
        every scanned region (with or without clusters), to find none using it."""
        return {
            "ec2:DescribeIamInstanceProfileAssociations": sum(
                pages(self.inv["associations"][r], EC2_PAGE) for r in self.regions
            )
        }

    def door_trust_needless(self):
        """UpdateAssumeRolePolicy with a trust that names no role and admits no node service: the
        event alone says it opens nothing."""
        return {}

    def door_metadata_not_node(self, region):
        """ModifyInstanceMetadataOptions on an instance of `region` that is no node: the region's
        instances and its clusters, asked together (the instance's tags against the clusters that
        exist)."""
        return {
            "ec2:DescribeInstances": pages(len(self.inv["instances"][region]), EC2_PAGE),
            "eks:ListClusters": pages(len(self.inv["clusters"][region])),
        }

    def node_warm(self, policies, mode):
        return self.role_check(NODE_ROLE, policies, mode)

    def quick(self, name):
        """The quick answer for role `name` with a cold index: ListInstanceProfilesForRole; with
        profiles, DescribeInstances in every scanned region; where an instance uses one of them,
        ListClusters and DescribeNodegroup per managed node group its instances name. -> (calls,
        the (region, cluster)s it finds the role serving, or None when the full scan must decide:
        no profile, no node of an existing cluster, or a node group declaring another role)"""
        holding = {p.lower() for p, roles in self.inv["profiles"].items() if any(role_name(r) == name for r in roles)}
        calls = {"iam:ListInstanceProfilesForRole": pages(len(holding), FOR_ROLE_PAGE)}
        if not holding:
            return calls, None
        calls["ec2:DescribeInstances"] = sum(pages(len(self.inv["instances"][r]), EC2_PAGE) for r in self.regions)
        declared = {(r, c, g): role_name(role) for r, c, g, role in self.inv["nodegroups"]}
        served = set()
        for region in self.regions:
            users = [tags for _id, p, tags in self.inv["instances"][region] if p and p.lower() in holding]
            if not users:
                continue
            clusters = set(self.inv["clusters"][region])
            add(calls, {"eks:ListClusters": pages(len(clusters))})
            named = {
                (tags["eks:cluster-name"], tags["eks:nodegroup-name"])
                for tags in users
                if "eks:nodegroup-name" in tags and tags.get("eks:cluster-name") in clusters
            }
            if named:
                add(calls, {"eks:DescribeNodegroup": len(named)})
            for tags in users:
                cluster = cluster_of(tags, clusters)
                group = tags.get("eks:nodegroup-name")
                declares = declared.get((region, cluster, group)) if (cluster, group) in named else None
                if declares and declares != name:
                    return calls, None  # a managed node group's node on another role: the scan judges
                if cluster and not declares:
                    served.add((region, cluster))  # a node EKS does not declare
            served |= {(region, c) for c, g in named if declared.get((region, c, g)) == name}
        return calls, (served or None)

    def node_cold(self, policies, mode):
        """A cold index: the quick answer when the instances give one (the CNI policy kept, so no
        fall-back to the scan), else the quick attempt and the full discovery."""
        calls = dict(self.node_warm(policies, mode))
        quick, served = self.quick(NODE_ROLE)
        add(calls, quick)
        if served is None:
            add(calls, self.discovery)
            entry = self.role(NODE_ROLE)
            served = entry["clusters"] if entry else set()
        cni = self.cni_calls({"attached": policies["attached"]}, served)
        if cni:
            add(calls, {"eks:DescribeAddon": cni})
        return calls

    def node_cold_index(self):
        """The Report's `index` on a cold-index node-role event: `instances` for the quick answer."""
        return "instances" if self.quick(NODE_ROLE)[1] is not None else "scanned"

    def create_nodegroup(self, policies, mode):
        # warm index and warm per-cluster CNI facts: nothing to discover
        calls = {"eks:DescribeNodegroup": 1}
        calls.update(self.role_check(NODEGROUP_ROLE, policies, mode))
        return calls

    def sweep(self, mode):
        """A full sweep: discovery, then per node role its policies (no GetRole: the index has the
        ARN), each distinct cluster's CNI answer once, one Publish per role needing action plus a
        summary."""
        calls = dict(self.discovery)
        cni_clusters = set()
        publishes = 1
        for entry in self.inv["roles"].values():
            for op, n in self.role_check(entry["name"], entry, mode, get_role=False).items():
                if op == "sns:Publish":
                    publishes += n
                else:
                    calls[op] = calls.get(op, 0) + n
            if self.cni_calls(entry):
                cni_clusters |= entry["clusters"]
        if cni_clusters:
            calls["eks:DescribeAddon"] = len(cni_clusters)
        calls["sns:Publish"] = publishes
        return calls
