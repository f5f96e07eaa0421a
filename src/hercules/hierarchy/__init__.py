"""Hierarchy model: levels as flat arrays, and Cluster views for navigation."""

from hercules.hierarchy.tree import Cluster, ClusterLabel, Hierarchy, Level, cluster_id, parse_cluster_id

__all__ = ["Cluster", "ClusterLabel", "Hierarchy", "Level", "cluster_id", "parse_cluster_id"]
