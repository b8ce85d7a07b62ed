"""Shared harness for the Python suites that run quantd on loopback; see
quantd_cluster.py."""
