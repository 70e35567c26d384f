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


def violations(policies):
    """Managed policies outside the default allowlist (AWS-managed ARNs only) plus every inline."""
    bad = [a for a in policies["attached"] if not (a.startswith(AWS_POLICY) and a[len(AWS_POLICY) :] in ALLOWED)]
    return bad + [f"inline:{p}" for p in policies["inline"]]


def pages(n):
    return max(1, math.ceil(n / EKS_PAGE))


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
        }
        self.counts = {
            "regions": len(regions),
            "clusters": n_clusters,
            "nodegroups": len(inv["nodegroups"]),
            "node_roles": len(inv["roles"]),
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

    def node_warm(self, policies, mode):
        return self.role_check(NODE_ROLE, policies, mode)

    def node_cold(self, policies, mode):
        calls = dict(self.node_warm(policies, mode))
        calls.update(self.discovery)
        entry = self.role(NODE_ROLE)
        cni = self.cni_calls({"attached": policies["attached"], "clusters": entry["clusters"]}) if entry else 0
        if cni:
            calls["eks:DescribeAddon"] = cni
        return calls

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
